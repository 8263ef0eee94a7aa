package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// TestAPIBodiesAreStrict: every POST /api/v1/… body goes through the one
// strict decoder. The refusals here were all accepted (or answered with
// another code) before it.
func TestAPIBodiesAreStrict(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	srv, err := New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, Config{Now: f.Clock.Now, Log: fixture.Quiet(), ThirdPartyExcluded: true, Composer: f.Composer, Keys: f.Keys, LogKey: f.LogKey})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(contract.Check(t, srv.Handler()))
	t.Cleanup(ts.Close)
	const js = "application/json"
	rid := strings.Repeat("a", 32)
	tests := []struct {
		name, path, ctype, body string
		status                  int
		code, field             string
	}{
		{"duplicate key", "/api/v1/objections", js, `{"email":"anna@example.de","email":"ben@example.com"}`, 400, "invalid_json", "email"},
		{"duplicate key inside scope", "/api/v1/objections", js, `{"email":"anna@example.de","scope":{"a":1,"a":2}}`, 400, "invalid_json", "scope/a"},
		{"key in upper case", "/api/v1/objections", js, `{"EMAIL":"anna@example.de"}`, 400, "invalid_request", "EMAIL"},
		{"key in title case", "/api/v1/objections", js, `{"email":"anna@example.de","Scope":["instagram"]}`, 400, "invalid_request", "Scope"},
		{"verify key in title case", "/api/v1/objections/verify", js, `{"request_id":"` + rid + `","Code":"123456"}`, 400, "invalid_request", "Code"},
		{"verify duplicate code", "/api/v1/withdrawals/verify", js, `{"request_id":"` + rid + `","code":"12","code":"123456"}`, 400, "invalid_json", "code"},
		{"resend duplicate request_id", "/api/v1/objections/resend", js, `{"request_id":"x","request_id":"` + rid + `"}`, 400, "invalid_json", "request_id"},
		{"invalid UTF-8", "/api/v1/objections", js, `{"email":"anna@example.de","reason":"` + "\xff" + `"}`, 400, "invalid_json", ""},
		{"lone surrogate escape", "/api/v1/objections", js, `{"email":"anna@example.de","reason":"\ud800"}`, 400, "invalid_json", "reason"},
		{"product in capitals", "/api/v1/objections", js, `{"email":"anna@example.de","scope":["Instagram"]}`, 400, "scope_invalid", "scope"},
		{"all inside a list", "/api/v1/objections", js, `{"email":"anna@example.de","scope":["all"]}`, 400, "scope_invalid", "scope"},
		{"charset latin-1", "/api/v1/objections", js + "; charset=iso-8859-1", `{"email":"anna@example.de"}`, 415, "unsupported_charset", ""},
		{"charset utf-16", "/api/v1/withdrawals", js + "; charset=utf-16", `{"email":"anna@example.de"}`, 415, "unsupported_charset", ""},
		// Guards: refused before, refused now.
		{"byte order mark twice", "/api/v1/objections", js, "\ufeff\ufeff" + `{"email":"anna@example.de"}`, 400, "invalid_json", ""},
		{"trailing brace", "/api/v1/objections", js, `{"email":"anna@example.de"}}`, 400, "invalid_json", ""},
		{"trailing brackets", "/api/v1/objections", js, `{"email":"anna@example.de"}]]`, 400, "invalid_json", ""},
		{"not an object", "/api/v1/objections", js, `null`, 400, "invalid_request", ""},
	}
	// Each case its own address, so that no per-address limit answers first.
	addr := func(body string, i int) string {
		return strings.ReplaceAll(body, "anna@example.de", fmt.Sprintf("p%d@example.org", i))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, field, body := post(t, ts.URL+tt.path, tt.ctype, addr(tt.body, i))
			if status != tt.status || code != tt.code || field != tt.field {
				t.Fatalf("%s %q: %d %s, want %d %s field %q", tt.path, tt.body, status, body, tt.status, tt.code, tt.field)
			}
			if code == "unsupported_charset" && !strings.Contains(body, "UTF-8") {
				t.Fatalf("415 without the catalog's message: %s", body)
			}
		})
	}
	// Accepted: a leading BOM (RFC 8259 §8.1), CRLF and an explicit UTF-8 charset.
	for i, tt := range []struct{ ctype, body string }{
		{js, "\ufeff" + `{"email":"anna@example.de"}`},
		{js + "; charset=UTF-8", `{"email":"anna@example.de"}`},
		{js + `; charset="utf-8"`, "{\"email\":\"anna@example.de\",\r\n\"scope\":[\"instagram\",\"threads\"]}\r\n"},
	} {
		if status, _, _, body := post(t, ts.URL+"/api/v1/objections", tt.ctype, addr(tt.body, 100+i)); status != http.StatusAccepted {
			t.Errorf("case %d %q: %d %s, want 202", i, tt.body, status, body)
		}
	}
}

func post(t *testing.T, url, ctype, body string) (status int, code, field, raw string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code, Message, Field string } `json:"error"`
	}
	json.Unmarshal(b, &e)
	if resp.StatusCode >= 400 && (e.Error.Code == "" || e.Error.Message == "") {
		t.Fatalf("not an error envelope: %s", b)
	}
	return resp.StatusCode, e.Error.Code, e.Error.Field, string(b)
}

func FuzzDecodeStartRequest(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.de","scope":"all","lang":"de"}`, `{"email":"a@b.de","scope":["instagram"]}`,
		`{"email":1}`, `{"x":1}`, `{} {}`, `[]`, `null`, `{"scope":{"a":1}}`, "\xff", `{"email":"a","email":"b"}`,
		`{"EMAIL":"a"}`, `{"reason":"\ud800"}`, "\ufeff{}", `{"a":1}}`, `{"scope":["Instagram"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req apiStartRequest
		err := decodeBody(body, &req)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) || (de.code != "invalid_json" && de.code != "invalid_request") || de.status != 400 {
				t.Fatalf("decodeBody(%q) = %v, not a stable 400", body, err)
			}
			return
		}
		// What the strict decoder accepts, encoding/json reads the same way.
		var std apiStartRequest
		if err := json.Unmarshal(body, &std); err != nil || std.Email != req.Email || std.Reason != req.Reason || std.Lang != req.Lang {
			t.Fatalf("decodeBody(%q) = %+v, encoding/json: %+v %v", body, req, std, err)
		}
		if _, err := objection.ParseScopeJSON(req.Scope); err != nil {
			if err.Error() != "scope_invalid" {
				t.Fatalf("ParseScopeJSON(%q) = %v", req.Scope, err)
			}
		}
	})
}
