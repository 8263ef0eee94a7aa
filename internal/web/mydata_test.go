package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/tokens"
	"github.com/notrain/notrain/internal/web"
)

func getBearer(t *testing.T, u, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// access runs the access flow over the API and returns the token.
func (e *env) access(t *testing.T, addr string) (token, answers string) {
	t.Helper()
	resp, body := postJSON(t, e.URL+"/api/v1/access", `{"email":"`+addr+`","lang":"en"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("access: %d %s", resp.StatusCode, body)
	}
	answers = resp.Status + headerDump(resp.Header) + normalize(body)
	rid := ridRE.FindString(body)
	resp, body = postJSON(t, e.URL+"/api/v1/access/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("access verify: %d %s", resp.StatusCode, body)
	}
	var v struct{ Token, ExpiresAt string }
	json.Unmarshal([]byte(body), &v)
	return v.Token, answers + resp.Status + headerDump(resp.Header) + normalize(strings.ReplaceAll(body, v.Token, "<token>"))
}

// The access flow answers a known and an unknown address alike, byte for
// byte, at every step a stranger can see: the start, the check page, the
// verification; only the overview's lists differ, never its shape.
func TestAccessAnswersDoNotMoveWithTheAddress(t *testing.T) {
	var runs []string
	var overviews []string
	for _, addr := range []string{"carl@example.net", "nobody@example.de"} {
		e := newEnv(t, web.Config{})
		tok, answers := e.access(t, addr)
		resp, body := getBearer(t, e.URL+"/api/v1/me", tok)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("me: %d %s", resp.StatusCode, body)
		}
		// The overview's length is what it holds: only the token's holder,
		// who owns the mailbox, sees it.
		resp.Header.Del("Content-Length")
		runs = append(runs, answers+resp.Status+headerDump(resp.Header))
		overviews = append(overviews, body)
		// The web form flow too.
		loc := postRedirect(t, e.URL+"/access", url.Values{"email": {addr}, "lang": {"en"}})
		e.Clock.Advance(time.Second)
		runs[len(runs)-1] += normalize(loc) + normalize(get(t, e.URL+loc, "en"))
	}
	if runs[0] != runs[1] {
		t.Fatalf("access answers differ for known and unknown:\n%s\n----\n%s", runs[0], runs[1])
	}
	var known, unknown map[string][]json.RawMessage
	json.Unmarshal([]byte(overviews[0]), &known)
	json.Unmarshal([]byte(overviews[1]), &unknown)
	if len(known) != 7 || len(unknown) != 7 || len(known["accounts"]) != 1 || len(unknown["accounts"]) != 0 {
		t.Fatalf("overviews: %s / %s", overviews[0], overviews[1])
	}
}

// Tokens that are missing, changed, of the other family or expired all get
// the same 401.
func TestMeRefusesBadTokensAlike(t *testing.T) {
	e := newEnv(t, web.Config{})
	tok, _ := e.access(t, "anna@example.de")
	machine, err := tokens.Create(context.Background(), e.DB, e.Keys, tokens.ScopeModels, "", e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := getBearer(t, e.URL+"/api/v1/me", tok); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"account_id":"u1"`) {
		t.Fatalf("good token: %d %s", resp.StatusCode, body)
	}
	var answers []string
	check := func(name, token string) {
		resp, body := getBearer(t, e.URL+"/api/v1/me", token)
		if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "unauthorized" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
		answers = append(answers, resp.Status+headerDump(resp.Header)+body)
	}
	check("none", "")
	check("changed", tok[:len(tok)-2]+"zz")
	check("machine token", machine)
	check("garbage", strings.Repeat("x", 5000))
	e.Clock.Advance(15 * time.Minute)
	check("expired", tok)
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("401 answers differ:\n%s\n----\n%s", a, answers[0])
		}
	}
}

// register puts a snapshot in the store, as the filter would.
func register(t *testing.T, db *store.DB, id string, asOf time.Time, rows ...store.AccountItems) {
	t.Helper()
	err := db.Write(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.RegisterSnapshot(ctx, store.SnapshotRecord{ID: id, CreatedAt: asOf.UnixMicro(), AsOf: asOf.UnixMicro(),
			PolicySHA256: "p", Eligibility: ledger.Head{Hash: ledger.Genesis}, Manifest: "{}", ManifestSHA256: "m",
			Accounts: func(yield func(store.AccountItems) bool) {
				for _, r := range rows {
					if !yield(r) {
						return
					}
				}
			}}, map[string]any{"snapshot_id": id})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func postBearer(t *testing.T, u, token, body string) (*http.Response, string) {
	t.Helper()
	if token == "" {
		return postJSON(t, u, body)
	}
	return postJSON(t, u, body, "Authorization", "Bearer "+token)
}

// POST /api/v1/models: 401 without a live token (one answer for missing,
// wrong and revoked), 403 for another scope, stable codes for bad bodies,
// 422 for unknown snapshots (nothing written), 413 when oversized, 201.
func TestModelsAPI(t *testing.T) {
	e := newEnv(t, web.Config{})
	ctx := context.Background()
	register(t, e.DB, "snap_a", e.Clock.Now().Add(-time.Hour), store.AccountItems{Product: "facebook", AccountID: "u1", Items: 3})
	tok, err := tokens.Create(ctx, e.DB, e.Keys, tokens.ScopeModels, "trainer", e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A revoked token and one of a scope a later release adds.
	revoked, other := "ntk_"+strings.Repeat("1", 64), "ntk_"+strings.Repeat("2", 64)
	err = e.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.InsertAPIToken(ctx, store.APIToken{Hash: e.Keys.TokenHash("api", revoked), Scope: "models", CreatedAt: e.Clock.Now(), RevokedAt: e.Clock.Now()}); err != nil {
			return err
		}
		return tx.InsertAPIToken(ctx, store.APIToken{Hash: e.Keys.TokenHash("api", other), Scope: "reviews", CreatedAt: e.Clock.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	good := `{"name":"lm-1","snapshots":["snap_a"],"trained_at":"2026-05-01T00:00:00Z"}`
	var unauth []string
	for _, bad := range []string{"", "ntk_" + strings.Repeat("0", 64), revoked, "nope"} {
		resp, body := postBearer(t, e.URL+"/api/v1/models", bad, good)
		if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "unauthorized" {
			t.Fatalf("token %q: %d %s", bad, resp.StatusCode, body)
		}
		unauth = append(unauth, resp.Status+headerDump(resp.Header)+body)
	}
	for _, a := range unauth {
		if a != unauth[0] {
			t.Fatalf("401s differ:\n%s\n%s", a, unauth[0])
		}
	}
	if resp, body := postBearer(t, e.URL+"/api/v1/models", other, good); resp.StatusCode != http.StatusForbidden || errorCode(t, body) != "forbidden" {
		t.Fatalf("other scope: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"name":"","snapshots":["snap_a"]}`, 400, "model_name_required"},
		{`{"name":"x","snapshots":[]}`, 400, "snapshots_required"},
		{`{"name":"x","snapshots":["snap_a"],"trained_at":"yesterday"}`, 400, "trained_at_invalid"},
		{`{"name":"x","snapshots":["snap_a"],"extra":1}`, 400, "invalid_request"},
		{`{"name":"x","snapshots":["snap_a"]`, 400, "invalid_json"},
		{`{"name":"x","snapshots":["snap_a","snap_zz"]}`, 422, "snapshot_unknown"},
		{`{"name":"` + strings.Repeat("x", web.MaxBody) + `","snapshots":["snap_a"]}`, 413, "body_too_large"},
	} {
		resp, body := postBearer(t, e.URL+"/api/v1/models", tok, tc.body)
		if resp.StatusCode != tc.status || errorCode(t, body) != tc.code {
			t.Fatalf("%.60s: %d %s", tc.body, resp.StatusCode, body)
		}
	}
	var n int
	if err := e.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		missing, err := tx.MissingSnapshots(ctx, []string{"snap_a"})
		n = len(missing)
		return err
	}); err != nil || n != 0 {
		t.Fatal(err, n)
	}
	if ms, _ := e.DB.ModelsOnSnapshots(ctx, []string{"snap_a"}); len(ms) != 0 {
		t.Fatalf("a refused registration wrote %+v", ms)
	}
	resp, body := postBearer(t, e.URL+"/api/v1/models", tok, good)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(body, `"name":"lm-1"`) || !strings.Contains(body, `"snapshots":["snap_a"]`) {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	// The person whose items snap_a holds sees the model, built before any objection.
	ptok, _ := e.access(t, "anna@example.de")
	_, me := getBearer(t, e.URL+"/api/v1/me", ptok)
	if !strings.Contains(me, `"items":{"facebook:u1":3},"objection_in_force":false`) || !strings.Contains(me, `"models":[{"name":"lm-1","snapshots":["snap_a"],"trained_at":"2026-05-01T00:00:00Z"}]`) {
		t.Fatalf("me: %s", me)
	}
}

// An objection's receipt in "my data" proves the entry the verify answer's
// receipt proves, and verifies with the log key.
func TestMyDataReceipts(t *testing.T) {
	e := newEnv(t, web.Config{})
	_, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de","lang":"en"}`)
	rid := ridRE.FindString(body)
	resp, body := postJSON(t, e.URL+"/api/v1/objections/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	var verified struct{ Reference, Receipt string }
	json.Unmarshal([]byte(body), &verified)
	tok, _ := e.access(t, "anna@example.de")
	_, me := getBearer(t, e.URL+"/api/v1/me", tok)
	var out struct {
		Objections []struct{ Reference, Receipt string }
	}
	if err := json.Unmarshal([]byte(me), &out); err != nil || len(out.Objections) != 1 {
		t.Fatalf("me: %v %s", err, me)
	}
	a, err := receipt.Verify([]byte(verified.Receipt), e.LogKey.Verifier())
	if err != nil {
		t.Fatalf("the verify answer's receipt: %v", err)
	}
	b, err := receipt.Verify([]byte(out.Objections[0].Receipt), e.LogKey.Verifier())
	if err != nil {
		t.Fatalf("my data's receipt: %v", err)
	}
	if a.Entry.Hash != b.Entry.Hash || !strings.Contains(string(b.Entry.Body), verified.Reference) {
		t.Fatalf("the receipts prove different entries: %d and %d", a.Entry.Seq, b.Entry.Seq)
	}
	// A withdrawal is listed with its own receipt.
	e.Clock.Advance(2 * time.Minute)
	_, body = postJSON(t, e.URL+"/api/v1/withdrawals", `{"email":"anna@example.de","lang":"en"}`)
	rid = ridRE.FindString(body)
	if resp, body := postJSON(t, e.URL+"/api/v1/withdrawals/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("withdrawal verify: %d %s", resp.StatusCode, body)
	}
	tok, _ = e.access(t, "anna@example.de")
	_, me = getBearer(t, e.URL+"/api/v1/me", tok)
	var after struct {
		Withdrawals []struct {
			Reference, Receipt string
			ObjectionsEnded    int `json:"objections_ended"`
		}
	}
	if err := json.Unmarshal([]byte(me), &after); err != nil || len(after.Withdrawals) != 1 || after.Withdrawals[0].ObjectionsEnded != 1 {
		t.Fatalf("me after the withdrawal: %v %s", err, me)
	}
	w, err := receipt.Verify([]byte(after.Withdrawals[0].Receipt), e.LogKey.Verifier())
	if err != nil || w.Entry.Kind != "objection.withdrawn" || !strings.Contains(string(w.Entry.Body), after.Withdrawals[0].Reference) {
		t.Fatalf("the withdrawal's receipt: %v %+v", err, w.Entry)
	}
}

// The page keeps the token in an HttpOnly, SameSite=Strict cookie limited
// to /me, Secure unless served to loopback; the overview and the receipt
// download read it.
func TestMyDataPageCookie(t *testing.T) {
	e := newEnv(t, web.Config{})
	_, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de","lang":"en"}`)
	rid := ridRE.FindString(body)
	_, body = postJSON(t, e.URL+"/api/v1/objections/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`)
	var out struct{ Reference string }
	json.Unmarshal([]byte(body), &out)
	for _, host := range []string{"", "portal.example.com"} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/access", strings.NewReader(url.Values{"email": {"anna@example.de"}, "lang": {"en"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if host != "" {
			req.Host = host
		}
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		arid := ridRE.FindString(loc)
		req, _ = http.NewRequest(http.MethodPost, e.URL+loc, strings.NewReader(url.Values{"code": {e.CodeFor(t, arid)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if host != "" {
			req.Host = host
		}
		resp, err = noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sc := resp.Header.Get("Set-Cookie")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me" || !strings.Contains(sc, "HttpOnly") ||
			!strings.Contains(sc, "SameSite=Strict") || !strings.Contains(sc, "Path=/me") || strings.Contains(sc, "Secure") != (host != "") {
			t.Fatalf("host %q: %d %q", host, resp.StatusCode, sc)
		}
		cookie := resp.Cookies()[0]
		for path, want := range map[string]string{"/me": out.Reference, "/me/receipt/" + out.Reference: "c2sp.org/tlog-proof@v1\nextra ", "/me/data.json": `"reference": "` + out.Reference} {
			req, _ = http.NewRequest(http.MethodGet, e.URL+path, nil)
			req.AddCookie(cookie)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
			}
		}
	}
	// Without the cookie the page asks for the address and the downloads refuse.
	if page := get(t, e.URL+"/me", "en"); !strings.Contains(page, `action="/access"`) || strings.Contains(page, "NT-") {
		t.Fatalf("/me without cookie: %s", page)
	}
	resp, _ := getBearer(t, e.URL+"/me/data.json", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("download without cookie: %d", resp.StatusCode)
	}
}

// objection_in_force follows the objection's scope and time: an objection
// for Instagram was in force for a later snapshot's Instagram items, not for
// its Facebook items, and not for a snapshot built before it.
func TestObjectionInForceFollowsScopeAndTime(t *testing.T) {
	e := newEnv(t, web.Config{})
	register(t, e.DB, "snap_0", e.Clock.Now().Add(-time.Hour), store.AccountItems{Product: "instagram", AccountID: "ig1", Items: 1})
	_, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de","scope":["instagram"],"lang":"en"}`)
	rid := ridRE.FindString(body)
	if resp, body := postJSON(t, e.URL+"/api/v1/objections/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	e.Clock.Advance(time.Minute)
	register(t, e.DB, "snap_fb", e.Clock.Now(), store.AccountItems{Product: "facebook", AccountID: "u1", Items: 2})
	register(t, e.DB, "snap_ig", e.Clock.Now().Add(time.Second), store.AccountItems{Product: "instagram", AccountID: "ig1", Items: 1})
	tok, _ := e.access(t, "anna@example.de")
	_, me := getBearer(t, e.URL+"/api/v1/me", tok)
	var ov struct {
		Snapshots []struct {
			SnapshotID       string `json:"snapshot_id"`
			ObjectionInForce bool   `json:"objection_in_force"`
		} `json:"snapshots"`
	}
	json.Unmarshal([]byte(me), &ov)
	got := map[string]bool{}
	for _, s := range ov.Snapshots {
		got[s.SnapshotID] = s.ObjectionInForce
	}
	if len(got) != 3 || got["snap_0"] || got["snap_fb"] || !got["snap_ig"] {
		t.Fatalf("objection_in_force: %v\n%s", got, me)
	}
}

// Behind a TLS proxy that forwards Host: 127.0.0.1, an https portal still
// sets its cookie Secure.
func TestMyDataCookieSecureBehindProxy(t *testing.T) {
	e := newEnv(t, web.Config{PublicHTTPS: true})
	loc := postRedirect(t, e.URL+"/access", url.Values{"email": {"anna@example.de"}, "lang": {"en"}})
	rid := ridRE.FindString(loc)
	req, _ := http.NewRequest(http.MethodPost, e.URL+loc, strings.NewReader(url.Values{"code": {e.CodeFor(t, rid)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(sc, "Secure") {
		t.Fatalf("%d %q", resp.StatusCode, sc)
	}
}
