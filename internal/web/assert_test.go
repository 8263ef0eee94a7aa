package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

const (
	platformIssuer   = "https://platform.example"
	platformAudience = "https://notrain.example"
)

// platformSigner is the platform's side: a signing key and its JWKS file.
type platformSigner struct {
	key  ed25519.PrivateKey
	jwks string // file path
	n    atomic.Int64
}

func newPlatform(t *testing.T) *platformSigner {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &platformSigner{key: key, jwks: p}
}

// token signs an assertion for sub issued at now; edit changes claims.
func (p *platformSigner) token(t *testing.T, now time.Time, sub string, edit ...func(map[string]any)) string {
	t.Helper()
	c := map[string]any{"iss": platformIssuer, "aud": platformAudience, "sub": sub,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": fmt.Sprintf("jti-%d", p.n.Add(1))}
	for _, e := range edit {
		e(c)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: p.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newAssertionEnv serves the fixture's directory with the platform's keys.
func newAssertionEnv(t *testing.T, p *platformSigner) *env {
	t.Helper()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	keys, err := assertion.LoadKeys(context.Background(), p.jwks, nil, f.Clock.Now, fixture.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	v, err := assertion.NewVerifier(assertion.Config{Issuer: platformIssuer, Audience: platformAudience, Keys: keys, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return serveFixture(t, f, web.Config{Assertions: v})
}

func bearerPost(t *testing.T, url, tok, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return postJSON(t, url, body, append([]string{"Authorization", "Bearer " + tok}, hdr...)...)
}

func TestAssertionAPIObjectsForTheLinkGroup(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	tok := p.token(t, e.Clock.Now(), "threads:th1")
	resp, body := bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"all","lang":"de"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var out struct {
		Reference   string              `json:"reference"`
		Status      string              `json:"status"`
		EffectiveAt string              `json:"effective_at"`
		Scope       string              `json:"scope"`
		Accounts    []map[string]string `json:"accounts"`
		Receipt     string              `json:"receipt"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Reference, "NT-") || out.Status != "accepted" || out.Scope != "all" || out.Receipt == "" || out.EffectiveAt == "" {
		t.Fatalf("answer %s", body)
	}
	// anna's whole link group, though the assertion named only threads/th1
	// (an account on another address than the other two).
	o, err := e.DB.Objection(context.Background(), out.Reference)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, k := range o.Accounts {
		got = append(got, k.Product+"/"+k.AccountID)
	}
	slices.Sort(got)
	if want := []string{"facebook/u1", "instagram/ig1", "threads/th1"}; !slices.Equal(got, want) {
		t.Fatalf("covers %v, want %v", got, want)
	}
	if o.Status != store.StatusAccepted || o.Channel != "api_assertion" || o.Lang != "de" {
		t.Fatalf("objection %+v", o)
	}

	// The same assertion again: used up.
	resp, body = bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"all","lang":"de"}`)
	if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "assertion_replayed" {
		t.Fatalf("replay: %d %s", resp.StatusCode, body)
	}
	if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", h)
	}
	// The refusal speaks the body's language, as every other API error
	// does, not Accept-Language's.
	resp, body = bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"all","lang":"de"}`, "Accept-Language", "fr")
	if want := e.Cat.T("de", "err_assertion_replayed"); resp.StatusCode != http.StatusUnauthorized || errorMessage(t, body) != want {
		t.Fatalf("replay with lang de: %d %s, want the message %q", resp.StatusCode, body, want)
	}
}

func TestAssertionAPIRefusals(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	now := e.Clock.Now()
	other := newPlatform(t)
	cases := []struct {
		name   string
		tok    string
		body   string
		status int
		code   string
	}{
		{"unknown account", p.token(t, now, "facebook:nobody"), `{"scope":"all"}`, 401, "assertion_unknown_account"},
		{"expired", p.token(t, now.Add(-10*time.Minute), "facebook:u1"), `{"scope":"all"}`, 401, "assertion_expired"},
		{"future iat", p.token(t, now.Add(5*time.Minute), "facebook:u1"), `{"scope":"all"}`, 401, "assertion_not_yet_valid"},
		{"wrong audience", p.token(t, now, "facebook:u1", func(c map[string]any) { c["aud"] = "https://elsewhere.example" }), `{"scope":"all"}`, 401, "assertion_audience"},
		{"wrong issuer", p.token(t, now, "facebook:u1", func(c map[string]any) { c["iss"] = "https://evil.example" }), `{"scope":"all"}`, 401, "assertion_issuer"},
		{"too long a lifetime", p.token(t, now, "facebook:u1", func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() }), `{"scope":"all"}`, 401, "assertion_lifetime"},
		{"another platform's key", other.token(t, now, "facebook:u1"), `{"scope":"all"}`, 401, "assertion_invalid"},
		{"garbage", "abc.def.ghi", `{"scope":"all"}`, 401, "assertion_invalid"},
		{"an e-mail beside the assertion", p.token(t, now, "facebook:u1"), `{"email":"anna@example.de","scope":"all"}`, 400, "invalid_request"},
		{"a bad scope", p.token(t, now, "facebook:u1"), `{"scope":["myspace"]}`, 400, "scope_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := bearerPost(t, e.URL+"/api/v1/objections", c.tok, c.body)
			if resp.StatusCode != c.status || errorCode(t, body) != c.code {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, c.status, c.code)
			}
			if strings.Contains(body, c.tok) {
				t.Fatal("the answer repeats the token")
			}
		})
	}
	// Nothing was recorded by any of them, and the refused assertion with
	// a bad body was not used up: corrected, it is accepted.
	tok := p.token(t, now, "facebook:u2")
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"nope"}`); resp.StatusCode != 400 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, body := bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":["facebook"]}`); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestAssertionAPIWithoutConfiguration(t *testing.T) {
	e := newEnv(t, web.Config{})
	p := newPlatform(t)
	resp, body := bearerPost(t, e.URL+"/api/v1/objections", p.token(t, e.Clock.Now(), "facebook:u1"), `{"scope":"all"}`)
	if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "assertion_not_configured" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	// Another scheme is no assertion either.
	resp, body = postJSON(t, e.URL+"/api/v1/objections", `{"scope":"all"}`, "Authorization", "Basic YTpi")
	if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "assertion_invalid" {
		t.Fatalf("Basic: %d %s", resp.StatusCode, body)
	}
	// The e-mail flow is as before.
	resp, body = postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de","scope":"all"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("e-mail flow: %d %s", resp.StatusCode, body)
	}
}

// An Idempotency-Key replays an answer only to the assertion it was made for.
func TestAssertionIdempotency(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	tok := p.token(t, e.Clock.Now(), "facebook:u1")
	r1, b1 := bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"all"}`, "Idempotency-Key", "k-1")
	r2, b2 := bearerPost(t, e.URL+"/api/v1/objections", tok, `{"scope":"all"}`, "Idempotency-Key", "k-1")
	if r1.StatusCode != 200 || r2.StatusCode != 200 || b1 != b2 || r2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	other := p.token(t, e.Clock.Now(), "facebook:u3")
	r3, b3 := bearerPost(t, e.URL+"/api/v1/objections", other, `{"scope":"all"}`, "Idempotency-Key", "k-1")
	if r3.StatusCode != http.StatusUnprocessableEntity || strings.Contains(b3, "NT-") {
		t.Fatalf("another assertion got %d %s", r3.StatusCode, b3)
	}
}

// The platform's JWKS URL never answered: assertions cannot be checked.
func TestAssertionKeysUnavailable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer down.Close()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	keys, err := assertion.LoadKeys(context.Background(), down.URL+"/jwks.json", down.Client(), f.Clock.Now, fixture.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	v, err := assertion.NewVerifier(assertion.Config{Issuer: platformIssuer, Audience: platformAudience, Keys: keys, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := serveFixture(t, f, web.Config{Assertions: v})
	p := newPlatform(t)
	resp, body := bearerPost(t, e.URL+"/api/v1/objections", p.token(t, f.Clock.Now(), "facebook:u1"), `{"scope":"all"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, body) != "assertion_keys_unavailable" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func getPage(t *testing.T, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func postForm(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect().PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAssertionPages(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	tok := p.token(t, e.Clock.Now(), "facebook:u2")

	resp, body := getPage(t, e.URL+"/?assertion="+tok+"&lang=de")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("Referrer-Policy %q", resp.Header.Get("Referrer-Policy"))
	}
	for _, want := range []string{"Widerspruch bestätigen", "u2", "ig2", `name="assertion" value="` + tok + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("confirm page lacks %q", want)
		}
	}
	// The token is in two hidden fields: the confirm form's, and the
	// language form's, whose buttons (not links) switch the page's language.
	if n := strings.Count(body, `type="hidden" name="assertion" value="`+tok+`"`); n != 2 || strings.Count(body, tok) != 2 {
		t.Fatalf("the token is on the page %d times (%d in hidden fields), want twice, in the two forms' hidden fields", strings.Count(body, tok), n)
	}
	if strings.Count(body, `method="post"`) != 1 || strings.Count(body, `<button type="submit" id="confirm"`) != 1 ||
		strings.Count(body, "<button") != 1+len(e.Cat.Languages()) || strings.Contains(body, `name="code"`) || strings.Contains(body, `name="email"`) {
		t.Fatal("the page asks for more than one click")
	}
	for _, l := range e.Cat.Languages() {
		if !strings.Contains(body, `name="lang" value="`+l+`" lang="`+l+`"`) {
			t.Errorf("no button switches the page to %s", l)
		}
	}
	// Switching: the same page, in Greek, the assertion still unused.
	if resp, body := getPage(t, e.URL+"/?assertion="+tok+"&lang=el"); resp.StatusCode != 200 || !strings.Contains(body, `<html lang="el">`) ||
		!strings.Contains(body, e.Cat.T("el", "assert_confirm")) {
		t.Fatalf("in Greek: %d %s", resp.StatusCode, body)
	}
	// Looking did not use the assertion up.
	if resp, _ := getPage(t, e.URL+"/?assertion="+tok); resp.StatusCode != 200 {
		t.Fatalf("second look: %d", resp.StatusCode)
	}

	resp, body = postForm(t, e.URL+"/assertion", url.Values{"assertion": {tok}, "scope": {"all"}, "lang": {"de"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/objection/") || !strings.HasSuffix(loc, "/done") {
		t.Fatalf("confirm: %d %q %s", resp.StatusCode, loc, body)
	}
	resp, body = getPage(t, e.URL+loc)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="reference">NT-`) || !strings.Contains(body, `id="receipt"`) {
		t.Fatalf("done page: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "keine Bestätigung per E-Mail") {
		t.Error("the done page promises a mail that is not sent")
	}

	// Used up: a second click shows an error with the way out.
	resp, body = postForm(t, e.URL+"/assertion", url.Values{"assertion": {tok}, "scope": {"all"}, "lang": {"de"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "bereits verwendet") || !strings.Contains(body, `<a href="/">Stattdessen mit Ihrer E-Mail-Adresse widersprechen</a>`) {
		t.Fatalf("replay: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, tok) {
		t.Fatal("the error page shows the token")
	}
}

func TestAssertionPageErrors(t *testing.T) {
	p := newPlatform(t)
	e := newAssertionEnv(t, p)
	now := e.Clock.Now()
	for name, c := range map[string]struct {
		tok, lang, want string
	}{
		"expired, English": {p.token(t, now.Add(-time.Hour), "facebook:u1"), "en", "has expired"},
		"garbage, German":  {"garbage", "de", "ist ungültig"},
		"unknown account":  {p.token(t, now, "facebook:nobody"), "en", "is not known here"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := getPage(t, e.URL+"/?assertion="+url.QueryEscape(c.tok), "Accept-Language", c.lang)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) || !strings.Contains(body, `<a href="/">`) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if strings.Contains(body, c.tok) {
				t.Fatal("the token is on the page")
			}
			// Its languages lead to the e-mail form.
			if !strings.Contains(body, `href="/?lang=el"`) {
				t.Fatalf("no language links to the e-mail form: %s", body)
			}
		})
	}
	// Products chosen but none ticked: the page again, with the error.
	tok := p.token(t, now, "facebook:u1")
	resp, body := postForm(t, e.URL+"/assertion", url.Values{"assertion": {tok}, "scope": {"some"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="scope-error"`) || !strings.Contains(body, `id="confirm"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// The token is never logged, not even at debug level.
func TestAssertionNotLogged(t *testing.T) {
	p := newPlatform(t)
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	keys, err := assertion.LoadKeys(context.Background(), p.jwks, nil, f.Clock.Now, fixture.Quiet())
	if err != nil {
		t.Fatal(err)
	}
	v, err := assertion.NewVerifier(assertion.Config{Issuer: platformIssuer, Audience: platformAudience, Keys: keys, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	srv, err := web.New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, web.Config{Now: f.Clock.Now, Composer: f.Composer, Keys: f.Keys, LogKey: f.LogKey,
		Assertions: v, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(contract.Check(t, srv.Handler()))
	defer ts.Close()
	now := f.Clock.Now()
	good := p.token(t, now, "facebook:u1")
	expired := p.token(t, now.Add(-time.Hour), "facebook:u1")
	bearerPost(t, ts.URL+"/api/v1/objections", good, `{"scope":"all"}`)
	bearerPost(t, ts.URL+"/api/v1/objections", good, `{"scope":"all"}`)
	bearerPost(t, ts.URL+"/api/v1/objections", expired, `{"scope":"all"}`)
	getPage(t, ts.URL+"/?assertion="+expired)
	postForm(t, ts.URL+"/assertion", url.Values{"assertion": {good}})
	out := logs.String()
	if !strings.Contains(out, "assertion_expired") {
		t.Fatalf("the refusals were not logged at all: %s", out)
	}
	for _, tok := range []string{good, expired} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(out, sig) || strings.Contains(out, tok[:strings.Index(tok, ".")+20]) {
			t.Fatalf("a token is in the log: %s", out)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
