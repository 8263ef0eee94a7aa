package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

// An assertion is used once, whichever door it comes through: the API,
// the one button, the confirm page.
func TestAssertionAttackOneUseAcrossChannels(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	now := e.Clock.Now()

	// Looked at on the page, then used by the API: the button refuses it.
	a := p.token(t, now, "facebook:u2")
	if resp, body := getPage(t, e.URL+"/?assertion="+a); resp.StatusCode != 200 {
		t.Fatalf("page: %d %s", resp.StatusCode, body)
	}
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", a, `{"scope":"all"}`); resp.StatusCode != 200 {
		t.Fatalf("API: %d %s", resp.StatusCode, body)
	}
	if resp, body := postForm(t, e.URL+"/assertion", url.Values{"assertion": {a}}); resp.StatusCode != 400 || !strings.Contains(body, "already been used") {
		t.Fatalf("button after the API: %d %s", resp.StatusCode, body)
	}
	if resp, body := getPage(t, e.URL+"/?assertion="+a); resp.StatusCode != 400 || !strings.Contains(body, "already been used") {
		t.Fatalf("page after the API: %d %s", resp.StatusCode, body)
	}

	// Used by the button, then sent to the API.
	b := p.token(t, now, "facebook:u3")
	if resp, body := postForm(t, e.URL+"/assertion", url.Values{"assertion": {b}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("button: %d %s", resp.StatusCode, body)
	}
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", b, `{"scope":"all"}`); resp.StatusCode != 401 || errorCode(t, body) != "assertion_replayed" {
		t.Fatalf("API after the button: %d %s", resp.StatusCode, body)
	}
	// Another Idempotency-Key does not make the used assertion new.
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", b, `{"scope":"all"}`, "Idempotency-Key", "fresh-key"); resp.StatusCode != 401 || errorCode(t, body) != "assertion_replayed" {
		t.Fatalf("API with a fresh key: %d %s", resp.StatusCode, body)
	}
}

// One assertion sent many times at once, through both doors, to two
// portal instances sharing one store (PostgreSQL; one instance on SQLite):
// exactly one objection.
func TestAssertionAttackConcurrentUse(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		p := newPlatform(t)
		f := fixture.New(t, fixture.Options{DSN: dsn})
		f.Import(t, fixture.Accounts)
		urls := []string{serveAsserting(t, f, f.DB, f.Svc, p)}
		if dbtest.IsPostgres(dsn) {
			db2, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db2.Close() })
			if err := db2.SetLogKey(context.Background(), f.LogKey); err != nil {
				t.Fatal(err)
			}
			svc2, err := objection.New(db2, f.Keys, f.Cat, metrics.New(prometheus.NewRegistry()), nil, objection.Config{
				BaseURL: "http://notrain.test", MailDomain: "notrain.test", Now: f.Clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			urls = append(urls, serveAsserting(t, f, db2, svc2, p))
		}
		tok := p.token(t, f.Clock.Now(), "instagram:ig1")
		const n = 12
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				base := urls[i%len(urls)]
				var req *http.Request
				if i%2 == 0 {
					req, _ = http.NewRequest(http.MethodPost, base+"/api/v1/objections", strings.NewReader(`{"scope":"all"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
				} else {
					req, _ = http.NewRequest(http.MethodPost, base+"/assertion", strings.NewReader(url.Values{"assertion": {tok}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := noRedirect().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK, http.StatusSeeOther:
				ok++
			case http.StatusUnauthorized, http.StatusBadRequest:
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent uses accepted (%v), want 1", ok, n, statuses)
		}
		objs, err := f.DB.ObjectionsOf(context.Background(), "", []store.AccountKey{{Product: "instagram", AccountID: "ig1"}})
		if err != nil {
			t.Fatal(err)
		}
		objections := len(objs)
		if objections != 1 {
			t.Fatalf("%d objections recorded, want 1", objections)
		}
	})
}

func serveAsserting(t *testing.T, f *fixture.Fixture, db *store.DB, svc *objection.Service, p *platformSigner) string {
	t.Helper()
	keys, err := assertion.LoadKeys(context.Background(), p.jwks, nil, f.Clock.Now, fixture.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	v, err := assertion.NewVerifier(assertion.Config{Issuer: platformIssuer, Audience: platformAudience, Keys: keys, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(svc, db, f.Cat, metrics.New(prometheus.NewRegistry()), prometheus.NewRegistry(), web.Config{Now: f.Clock.Now, Composer: f.Composer,
		Keys: f.Keys, LogKey: f.LogKey, Assertions: v, Log: fixture.Quiet(), ThirdPartyExcluded: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// The one button is a form post: another site cannot press it for the
// person, and a refused press does not use the assertion up.
func TestAssertionAttackCrossSiteButton(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	tok := p.token(t, e.Clock.Now(), "facebook:u1")
	form := url.Values{"assertion": {tok}}.Encode()
	for name, hdr := range map[string][2]string{
		"cross-site Origin":         {"Origin", "https://evil.example"},
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"null Origin":               {"Origin", "null"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/assertion", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(hdr[0], hdr[1])
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), tok) {
			t.Fatalf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp, body := getPage(t, e.URL+"/?assertion="+tok); resp.StatusCode != 200 {
		t.Fatalf("refused presses used the assertion up: %d %s", resp.StatusCode, body)
	}
	// Same-origin, and a client that sends neither header (not a browser):
	// the assertion itself is the proof.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/assertion", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin press: %d", resp.StatusCode)
	}
}

var linkAttr = regexp.MustCompile(`(?:href|src|action)="([^"]*)"`)

// The token leaks nowhere: not into a link, a Referer, a cache, the
// metrics, the stored idempotency answers or anything else in the store.
func TestAssertionAttackTokenLeaksNowhere(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	now := e.Clock.Now()
	page := p.token(t, now, "facebook:u1")
	api := p.token(t, now, "facebook:u2")
	bad := p.token(t, now, "facebook:nobody")

	resp, body := getPage(t, e.URL+"/?assertion="+page+"&lang=en")
	if resp.StatusCode != 200 || resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("confirm page: %d %v", resp.StatusCode, resp.Header)
	}
	for _, m := range linkAttr.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], page[:20]) {
			t.Fatalf("a link carries the token: %s", m[0])
		}
	}
	resp, _ = postForm(t, e.URL+"/assertion", url.Values{"assertion": {page}})
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), page[:20]) {
		t.Fatalf("button: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = getPage(t, e.URL+resp.Header.Get("Location"))
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || strings.Contains(body, page[:20]) {
		t.Fatal("done page")
	}
	for _, k := range []string{"i-1", "i-2"} {
		if resp, body := bearerPost(t, e.URL+"/api/v1/objections", api, `{"scope":"all"}`, "Idempotency-Key", k); resp.StatusCode/100 == 5 || strings.Contains(body, api[:20]) {
			t.Fatalf("API %s: %d %s", k, resp.StatusCode, body)
		}
	}
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", bad, `{"scope":"all"}`, "Idempotency-Key", "i-3"); resp.StatusCode != 401 || strings.Contains(body, bad[:20]) {
		t.Fatalf("API refused: %d %s", resp.StatusCode, body)
	}
	_, metricsBody := fetchURL(t, e.MetricsURL+"/metrics")
	for _, tok := range []string{page, api, bad} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(metricsBody, sig) || strings.Contains(metricsBody, tok[:20]) {
			t.Fatal("a token is in the metrics")
		}
	}
	// Everything the store wrote, database and journal.
	var stored []byte
	files, _ := filepath.Glob(e.Path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if len(stored) == 0 {
		t.Fatal("no store files read")
	}
	for _, tok := range []string{page, api, bad} {
		parts := strings.Split(tok, ".")
		for _, part := range parts {
			if bytes.Contains(stored, []byte(part)) {
				t.Fatalf("a part of a token (%d bytes) is in the store", len(part))
			}
		}
	}
}

// Too large a token or body is refused cleanly, before anything is used.
func TestAssertionAttackOversized(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	now := e.Clock.Now()
	huge := p.token(t, now, "facebook:u1", func(c map[string]any) { c["pad"] = strings.Repeat("x", assertion.MaxToken) })
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", huge, `{"scope":"all"}`); resp.StatusCode != 401 || errorCode(t, body) != "assertion_invalid" {
		t.Fatalf("huge token: %d %s", resp.StatusCode, body)
	}
	tok := p.token(t, now, "facebook:u1")
	big := `{"scope":"all","reason":"` + strings.Repeat("x", web.MaxBody) + `"}`
	for _, hdr := range [][]string{nil, {"Idempotency-Key", "big"}} {
		if resp, body := bearerPost(t, e.URL+"/api/v1/objections", tok, big, hdr...); resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, body) != "body_too_large" {
			t.Fatalf("big body %v: %d %s", hdr, resp.StatusCode, body)
		}
	}
	if resp, body := postForm(t, e.URL+"/assertion", url.Values{"assertion": {tok}, "pad": {strings.Repeat("x", web.MaxBody)}}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("big form: %d %s", resp.StatusCode, body)
	}
	// Not used up by any of them.
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"all"}`); resp.StatusCode != 200 {
		t.Fatalf("after: %d %s", resp.StatusCode, body)
	}
	// The public listener refuses a header block over its limit (431).
	srv := web.NewHTTPServer(http.NotFoundHandler(), nil)
	ts := httptest.NewUnstartedServer(srv.Handler)
	ts.Config = srv
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/objections", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 32<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 32 KiB Authorization header: %d", resp.StatusCode)
	}
}

// An assertion's objection is an objection like a code's: it covers the
// link group, is in "My data" for each address of the group, and its
// receipt verifies against the log.
func TestAssertionAttackObjectionIsComplete(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	resp, body := bearerPost(t, e.URL+"/api/v1/objections", p.token(t, e.Clock.Now(), "threads:th1"), `{"scope":"all"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var out struct{ Reference, Receipt string }
	json.Unmarshal([]byte(body), &out)
	v, err := receipt.Verify([]byte(out.Receipt), e.LogKey.Verifier())
	if err != nil || v.Entry.Kind != ledger.KindObjectionAccepted || receipt.Reference(v.Entry) != out.Reference {
		t.Fatalf("receipt: %v %+v", err, v.Entry)
	}
	for _, addr := range []string{"anna@example.de", "anna.threads@example.de"} {
		tok, _ := e.access(t, addr)
		resp, me := getBearer(t, e.URL+"/api/v1/me", tok)
		if resp.StatusCode != 200 || !strings.Contains(me, out.Reference) {
			t.Fatalf("My data of %s lacks %s: %d %s", addr, out.Reference, resp.StatusCode, me)
		}
	}
	// And it can be withdrawn by e-mail, as any objection of the group.
	_, b := postJSON(t, e.URL+"/api/v1/withdrawals", `{"email":"anna.threads@example.de","lang":"en"}`)
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(b), &st)
	resp, b = postJSON(t, e.URL+"/api/v1/withdrawals/verify", `{"request_id":"`+st.RequestID+`","code":"`+e.CodeFor(t, st.RequestID)+`"}`)
	var wd struct {
		Ended int `json:"objections_ended"`
	}
	if json.Unmarshal([]byte(b), &wd); resp.StatusCode != 200 || wd.Ended != 1 {
		t.Fatalf("withdrawal: %d %s", resp.StatusCode, b)
	}
}

// Nothing of the e-mail flow's secrecy is lost: an e-mail beside an
// assertion is refused alike for a known and an unknown address.
func TestAssertionAttackEmailRefusedAlike(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	var answers []string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		resp, body := bearerPost(t, e.URL+"/api/v1/objections", p.token(t, e.Clock.Now(), "facebook:u1"), `{"email":"`+addr+`","scope":"all"}`)
		answers = append(answers, resp.Status+headerDump(resp.Header)+body)
	}
	if answers[0] != answers[1] {
		t.Fatalf("answers differ:\n%s\n----\n%s", answers[0], answers[1])
	}
}

// Without --platform-jwks, the pages say so and nothing is recorded.
func TestAssertionAttackPagesWithoutConfiguration(t *testing.T) {
	e := newEnv(t, web.Config{})
	p := newPlatform(t)
	tok := p.token(t, e.Clock.Now(), "facebook:u1")
	if resp, body := getPage(t, e.URL+"/?assertion="+tok); resp.StatusCode != 400 || strings.Contains(body, tok[:20]) || !strings.Contains(body, `<a href="/">`) {
		t.Fatalf("page: %d %s", resp.StatusCode, body)
	}
	if resp, body := postForm(t, e.URL+"/assertion", url.Values{"assertion": {tok}}); resp.StatusCode != 400 || strings.Contains(body, tok[:20]) {
		t.Fatalf("button: %d %s", resp.StatusCode, body)
	}
}

// A sub names one account exactly: no case folding, no look-alikes, no
// account of another product; none of them records anything.
func TestAssertionAttackSubjectVariants(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	for sub, code := range map[string]string{
		"facebook:U1":       "assertion_unknown_account",
		"facebook:u\uff11":  "assertion_unknown_account", // fullwidth digit one
		"facebook:\u200bu1": "assertion_unknown_account", // zero-width space
		"instagram:u1":      "assertion_unknown_account", // u1 is a facebook account
		"facebook:u1:x":     "assertion_unknown_account",
		"facebook: u1":      "assertion_unknown_account",
		"FACEBOOK:u1":       "assertion_invalid",
		"facebook::u1":      "assertion_unknown_account",
		"u1":                "assertion_invalid",
	} {
		resp, body := bearerPost(t, e.URL+"/api/v1/objections", p.token(t, e.Clock.Now(), sub), `{"scope":"all"}`)
		if resp.StatusCode != 401 || errorCode(t, body) != code {
			t.Errorf("%q: %d %s, want 401 %s", sub, resp.StatusCode, body, code)
		}
	}
	objs, err := e.DB.ObjectionsOf(context.Background(), "", []store.AccountKey{{Product: "facebook", AccountID: "u1"}, {Product: "instagram", AccountID: "ig1"}})
	if err != nil || len(objs) != 0 {
		t.Fatalf("%d objections recorded (%v)", len(objs), err)
	}
}
