package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/web"
)

// Every refusal the API gives carries its own translated message, not the
// bare HTTP status text a missing translation used to fall back to.
func TestAPIRefusalsAreTranslated(t *testing.T) {
	e := newEnv(t, web.Config{})
	for _, tc := range []struct {
		name, ctype, body, code string
	}{
		{"not JSON", "application/json", `{"email":`, "invalid_json"},
		{"wrong media type", "text/plain", `{"email":"anna@example.de"}`, "unsupported_media_type"},
		{"unknown field", "application/json", `{"mail":"anna@example.de"}`, "invalid_request"},
	} {
		for _, lang := range e.Cat.Languages() {
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/objections", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set("Accept-Language", lang)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := e.Cat.T(lang, "err_"+tc.code); out.Error.Code != tc.code || out.Error.Message != want {
				t.Errorf("%s, %s: %d %+v, want %s %q", tc.name, lang, resp.StatusCode, out.Error, tc.code, want)
			}
		}
	}
}
