package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

type env struct {
	*fixture.Fixture
	URL        string
	MetricsURL string // the operator's listener
	disp       *mail.Dispatcher
}

func newEnv(t *testing.T, cfg web.Config, clientLimit ...int) *env {
	t.Helper()
	opt := fixture.Options{}
	if len(clientLimit) > 0 {
		opt.ClientLimit = clientLimit[0]
	}
	f := fixture.New(t, opt)
	f.Import(t, fixture.Accounts)
	return serveFixture(t, f, cfg)
}

// serveFixture serves the portal and its metrics listener over f's store.
func serveFixture(t *testing.T, f *fixture.Fixture, cfg web.Config) *env {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = f.Clock.Now
	}
	cfg.Log = fixture.Quiet()
	cfg.ThirdPartyExcluded = true
	cfg.Composer = f.Composer
	cfg.Keys = f.Keys
	cfg.LogKey = f.LogKey
	srv, err := web.New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(contract.Check(t, srv.Handler()))
	t.Cleanup(ts.Close)
	ms := httptest.NewServer(srv.MetricsHandler())
	t.Cleanup(ms.Close)
	return &env{Fixture: f, URL: ts.URL, MetricsURL: ms.URL, disp: &mail.Dispatcher{Outbox: f.DB, Composer: f.Composer, Now: f.Clock.Now, Log: fixture.Quiet()}}
}

// deliver runs the dev dispatcher once, as the server's background loop would.
func (e *env) deliver(t *testing.T) {
	t.Helper()
	if _, err := e.disp.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postJSON(t *testing.T, url, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	code, _ := errorEnvelope(t, body)
	return code
}

func errorMessage(t *testing.T, body string) string {
	t.Helper()
	_, msg := errorEnvelope(t, body)
	return msg
}

func errorEnvelope(t *testing.T, body string) (code, message string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an error envelope: %s", body)
	}
	return e.Error.Code, e.Error.Message
}

var (
	ridRE  = regexp.MustCompile(`[0-9a-f]{32}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?Z)?`)
)

func normalize(s string) string {
	return timeRE.ReplaceAllString(ridRE.ReplaceAllString(s, "<id>"), "<time>")
}

func headerDump(h http.Header) string {
	h = h.Clone()
	h.Del("Date")
	var b strings.Builder
	h.Write(&b)
	return normalize(b.String())
}

func TestAPIAnswerIsIdenticalForKnownAndUnknownAddresses(t *testing.T) {
	e := newEnv(t, web.Config{})
	var answers []string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"`+addr+`","lang":"de"}`)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", addr, resp.StatusCode, body)
		}
		answers = append(answers, resp.Status+"\n"+headerDump(resp.Header)+"\n"+normalize(body))
		// Withdrawals too.
		resp, body = postJSON(t, e.URL+"/api/v1/withdrawals", `{"email":"`+addr+`"}`)
		answers = append(answers, resp.Status+"\n"+headerDump(resp.Header)+"\n"+normalize(body))
	}
	if answers[0] != answers[2] || answers[1] != answers[3] {
		t.Fatalf("answers differ:\nknown:   %q\nunknown: %q", answers[0]+answers[1], answers[2]+answers[3])
	}
	// And the real difference is in the mailbox only.
	if k := e.MailsTo(t, "anna@example.de"); len(k) != 2 || k[0].Kind != mail.KindCode {
		t.Fatalf("known address got %+v", k)
	}
	if u := e.MailsTo(t, "nobody@example.de"); len(u) != 1 || u[0].Kind != mail.KindNoAccount {
		t.Fatalf("unknown address got %+v", u)
	}
}

func TestWebPagesAreIdenticalForKnownAndUnknownAddresses(t *testing.T) {
	e := newEnv(t, web.Config{})
	// Use up the unknown address's daily notice first: the hardest case.
	postJSON(t, e.URL+"/api/v1/objections", `{"email":"nobody@example.de"}`)
	e.deliver(t)
	var pages []string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		form := url.Values{"email": {addr}, "scope": {"all"}, "lang": {"de"}}
		resp, err := noRedirect().PostForm(e.URL+"/objection", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !ridRE.MatchString(loc) {
			t.Fatalf("%s: %d to %q", addr, resp.StatusCode, loc)
		}
		for _, step := range []string{"queued", "delivered"} {
			if step == "delivered" {
				e.deliver(t)
			}
			page := get(t, e.URL+loc, "de")
			pages = append(pages, normalize(resp.Status+"\n"+headerDump(resp.Header)+page))
		}
	}
	if pages[0] != pages[2] || pages[1] != pages[3] {
		t.Fatalf("check pages differ for known and unknown addresses:\n%s\n----\n%s", pages[1], pages[3])
	}
}

func get(t *testing.T, u, lang string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, b)
	}
	return string(b)
}

func TestAPIErrorsHaveStableCodes(t *testing.T) {
	e := newEnv(t, web.Config{})
	big := `{"email":"anna@example.de","reason":"` + strings.Repeat("x", web.MaxBody) + `"}`
	tests := []struct {
		path, body, ctype string
		status            int
		code              string
	}{
		{"/api/v1/objections", `{"email":"not-an-address"}`, "application/json", 400, "email_invalid"},
		{"/api/v1/objections", `{"email":""}`, "application/json", 400, "email_required"},
		{"/api/v1/objections", `{"email":"a@b.de","scope":["myspace"]}`, "application/json", 400, "scope_invalid"},
		{"/api/v1/objections", `{"email":"a@b.de","scope":"some"}`, "application/json", 400, "scope_invalid"},
		{"/api/v1/objections", `{"email":"a@b.de","scope":[]}`, "application/json", 400, "scope_invalid"},
		{"/api/v1/objections", `{"email":"a@b.de","lang":"ja"}`, "application/json", 400, "lang_invalid"},
		{"/api/v1/objections", `{"email":"a@b.de","scop":"all"}`, "application/json", 400, "invalid_request"},
		{"/api/v1/objections", `{"email":"a@b.de"} {}`, "application/json", 400, "invalid_json"},
		{"/api/v1/objections", `{"email":`, "application/json", 400, "invalid_json"},
		{"/api/v1/objections", ``, "application/json", 400, "invalid_json"},
		{"/api/v1/objections", `{"email":42}`, "application/json", 400, "invalid_request"},
		{"/api/v1/objections", `email=a@b.de`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"/api/v1/objections", big, "application/json", 413, "body_too_large"},
		{"/api/v1/withdrawals", `{"email":"a@b.de","scope":"all"}`, "application/json", 400, "invalid_request"},
		{"/api/v1/objections/verify", `{"request_id":"nope","code":"123456"}`, "application/json", 404, "request_not_found"},
		{"/api/v1/objections/verify", `{"request_id":"` + strings.Repeat("a", 32) + `","code":"12"}`, "application/json", 400, "code_format"},
		{"/api/v1/nothing", `{}`, "application/json", 404, "not_found"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, e.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || errorCode(t, string(b)) != tt.code {
			t.Errorf("%s %.40q: %d %s, want %d %s", tt.path, tt.body, resp.StatusCode, b, tt.status, tt.code)
		}
	}
}

func TestFormBodyTooLarge(t *testing.T) {
	e := newEnv(t, web.Config{})
	form := url.Values{"email": {"anna@example.de"}, "reason": {strings.Repeat("x", web.MaxBody)}}
	resp, err := http.PostForm(e.URL+"/objection", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func TestCrossOriginFormPostIsRefused(t *testing.T) {
	e := newEnv(t, web.Config{})
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/objection", strings.NewReader("email=anna%40example.de"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%v: status %d, want 403", h, resp.StatusCode)
		}
	}
	if n := len(e.MailsTo(t, "anna@example.de")); n != 0 {
		t.Fatalf("a cross-origin post sent %d mails", n)
	}
	// Same-origin browser posts pass.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/objection", strings.NewReader("email=anna%40example.de&scope=all"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin post: %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, web.Config{})
	resp, err := http.Get(e.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if !strings.Contains(resp.Header.Get(k), want) {
			t.Errorf("%s = %q, want it to contain %q", k, resp.Header.Get(k), want)
		}
	}
	if strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Error("CSP allows inline code")
	}
}

func TestIPRateLimitIgnoresForgedForwardedFor(t *testing.T) {
	e := newEnv(t, web.Config{}, 3)
	for i := range 5 {
		resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"person`+string(rune('a'+i))+`@example.de"}`,
			"X-Forwarded-For", "10.0.0."+string(rune('1'+i)))
		want := http.StatusAccepted
		if i >= 3 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, body)
		}
		if want == http.StatusTooManyRequests && (errorCode(t, body) != "ip_rate_limited" || resp.Header.Get("Retry-After") == "") {
			t.Fatalf("429 without code or Retry-After: %v %s", resp.Header, body)
		}
	}
	// A minute later the client may ask again.
	e.Clock.Advance(time.Minute)
	if resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"late@example.de"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after a minute: %d %s", resp.StatusCode, body)
	}
}

func TestIPRateLimitBehindTrustedProxy(t *testing.T) {
	e := newEnv(t, web.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, 2)
	send := func(xff string) int {
		resp, _ := postJSON(t, e.URL+"/api/v1/objections", `{"email":"x@example.de"}`, "X-Forwarded-For", xff)
		return resp.StatusCode
	}
	// The proxy appends the real client; what the client forged is to its left.
	for i := range 2 {
		if s := send("6.6.6." + string(rune('1'+i)) + ", 198.51.100.7"); s != http.StatusAccepted {
			t.Fatalf("request %d: %d", i+1, s)
		}
	}
	if s := send("6.6.6.9, 198.51.100.7"); s != http.StatusTooManyRequests {
		t.Fatalf("forged left-hand address reset the limit: %d", s)
	}
	if s := send("203.0.113.5"); s != http.StatusAccepted {
		t.Fatalf("another client behind the proxy was limited: %d", s)
	}
}

func TestPerAddressLimitOverHTTP(t *testing.T) {
	e := newEnv(t, web.Config{})
	var last *http.Response
	var body string
	for range 6 {
		last, body = postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de"}`)
	}
	if last.StatusCode != http.StatusTooManyRequests || errorCode(t, body) != "rate_limited" || last.Header.Get("Retry-After") != "3600" {
		t.Fatalf("sixth request: %d Retry-After=%q %s", last.StatusCode, last.Header.Get("Retry-After"), body)
	}
}

func TestDevRoutesExistOnlyInDevMode(t *testing.T) {
	for _, dev := range []bool{true, false} {
		e := newEnv(t, web.Config{Dev: dev})
		resp, err := http.Get(e.URL + "/dev/mail.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusNotFound
		if dev {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Errorf("dev=%v: /dev/mail.json %d", dev, resp.StatusCode)
		}
		page := get(t, e.URL+"/", "en")
		if strings.Contains(page, "Development mode") != dev {
			t.Errorf("dev=%v: banner shown = %v", dev, !dev)
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	e := newEnv(t, web.Config{})
	if p := get(t, e.URL+"/", "de-DE,de;q=0.9"); !strings.Contains(p, `<html lang="de">`) || !strings.Contains(p, "Widerspruch gegen KI-Training") {
		t.Fatal("German Accept-Language did not give the German page")
	}
	if p := get(t, e.URL+"/", "ja-JP"); !strings.Contains(p, `<html lang="en">`) {
		t.Fatal("unsupported language did not fall back to English")
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/?lang=en", nil)
	req.Header.Set("Accept-Language", "de")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodGet, e.URL+"/withdraw", nil)
	req.Header.Set("Accept-Language", "de")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Withdraw your objection") {
		t.Fatal("the language switch was not remembered")
	}
}

// The whole form flow with plain HTTP: no JavaScript is involved anywhere.
func TestFormFlowWithoutJavaScript(t *testing.T) {
	e := newEnv(t, web.Config{Dev: true})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	form := url.Values{"email": {"ben@example.com"}, "scope": {"some"}, "product": {"instagram"}, "lang": {"de"}, "reason": {""}}
	resp, err := c.PostForm(e.URL+"/objection", form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkURL := resp.Request.URL.String()
	if !strings.Contains(string(page), `autocomplete="one-time-code"`) {
		t.Fatalf("not on the check page: %s", page)
	}
	code := e.CodeFor(t, ridRE.FindString(checkURL))
	// A wrong code is shown beside the field with the attempts left.
	resp, err = c.PostForm(checkURL, url.Values{"code": {"000000"}, "lang": {"de"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if code != "000000" && (resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "Sie haben noch 4 Versuche")) {
		t.Fatalf("wrong code: %d\n%s", resp.StatusCode, page)
	}
	resp, err = c.PostForm(checkURL, url.Values{"code": {code}, "lang": {"de"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	ref := regexp.MustCompile(`NT-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`).FindString(string(page))
	if resp.StatusCode != http.StatusOK || ref == "" || !strings.Contains(string(page), "Ihr Widerspruch ist wirksam") || !strings.Contains(string(page), "Instagram (benk)") {
		t.Fatalf("confirmation page: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(string(page), "Facebook") {
		t.Fatal("the confirmation lists Facebook, which was not chosen")
	}
}

func TestFormErrorsAreShownBesideTheField(t *testing.T) {
	e := newEnv(t, web.Config{})
	resp, err := http.PostForm(e.URL+"/objection", url.Values{"email": {"kaputt"}, "scope": {"some"}, "lang": {"en"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{`id="email-error"`, `aria-invalid="true"`, `aria-describedby="email-hint email-error"`, `href="#email"`, `value="kaputt"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, web.Config{})
	postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de"}`)
	h := get(t, e.URL+"/healthz", "en")
	if !strings.Contains(h, `"status":"ok"`) || !strings.Contains(h, `"outbox_queued":1`) {
		t.Fatalf("healthz = %s", h)
	}
	m := get(t, e.MetricsURL+"/metrics", "en")
	for _, want := range []string{"notrain_codes_sent_total 1", `notrain_http_requests_total{code="202",route="POST /api/v1/objections"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, web.Config{Dev: true})
	body := `{"email":"anna@example.de","lang":"de"}`
	first, b1 := postJSON(t, e.URL+"/api/v1/objections", body, "Idempotency-Key", "k-1")
	if first.StatusCode != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.StatusCode, b1)
	}
	mails := len(e.Mails(t))
	// A replay gets the first answer, byte for byte, and writes nothing.
	again, b2 := postJSON(t, e.URL+"/api/v1/objections", body, "Idempotency-Key", "k-1")
	if again.StatusCode != http.StatusAccepted || b2 != b1 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (first %s)", again.StatusCode, b2, b1)
	}
	if n := len(e.Mails(t)); n != mails {
		t.Fatalf("a replay sent mail: %d → %d", mails, n)
	}
	// The same key with another body is refused.
	other, b3 := postJSON(t, e.URL+"/api/v1/objections", `{"email":"ben@example.com"}`, "Idempotency-Key", "k-1")
	if other.StatusCode != http.StatusUnprocessableEntity || errorCode(t, b3) != "idempotency_key_reused" {
		t.Fatalf("reuse: %d %s", other.StatusCode, b3)
	}
	// Keys are per route: the same key on verify is a new request; a
	// replayed successful verify gives the same reference, not "code used".
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(b1), &st)
	vbody := `{"request_id":"` + st.RequestID + `","code":"` + e.CodeFor(t, st.RequestID) + `"}`
	v1, vb1 := postJSON(t, e.URL+"/api/v1/objections/verify", vbody, "Idempotency-Key", "k-1")
	v2, vb2 := postJSON(t, e.URL+"/api/v1/objections/verify", vbody, "Idempotency-Key", "k-1")
	if v1.StatusCode != http.StatusOK || v2.StatusCode != http.StatusOK || vb1 != vb2 {
		t.Fatalf("verify replay: %d %s / %d %s", v1.StatusCode, vb1, v2.StatusCode, vb2)
	}
	if n, _, _ := e.DB.ObjectionCounts(context.Background()); n != 1 {
		t.Fatalf("%d objections after a replayed verify", n)
	}
	// Without the key, the same verify is a second attempt: the code is used.
	v3, vb3 := postJSON(t, e.URL+"/api/v1/objections/verify", vbody)
	if v3.StatusCode != http.StatusConflict || errorCode(t, vb3) != "code_used" {
		t.Fatalf("verify without key: %d %s", v3.StatusCode, vb3)
	}
	for _, bad := range []string{strings.Repeat("x", 256), "with space", "ümlaut"} {
		r, b := postJSON(t, e.URL+"/api/v1/objections", body, "Idempotency-Key", bad)
		if r.StatusCode != http.StatusBadRequest || errorCode(t, b) != "idempotency_key_invalid" {
			t.Fatalf("key %q: %d %s", bad, r.StatusCode, b)
		}
	}
}

// While the first request with a key is being processed, a repeat gets
// 409; once its holder's lease has run out, the key can be used again.
func TestIdempotencyKeyInFlight(t *testing.T) {
	e := newEnv(t, web.Config{})
	body := `{"email":"anna@example.de"}`
	// A holder that took the key and has not answered yet.
	err := e.DB.Write(context.Background(), func(ctx context.Context, tx *store.Tx) error {
		sum := sha256.Sum256([]byte("application/json\x00" + body))
		_, _, err := tx.ClaimIdempotencyKey(ctx, "k-2", "objections", hex.EncodeToString(sum[:]), e.Clock.Now(), time.Minute)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r, b := postJSON(t, e.URL+"/api/v1/objections", body, "Idempotency-Key", "k-2")
	if r.StatusCode != http.StatusConflict || errorCode(t, b) != "idempotency_in_flight" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("in flight: %d %s", r.StatusCode, b)
	}
	e.Clock.Advance(2 * time.Minute)
	if r, b := postJSON(t, e.URL+"/api/v1/objections", body, "Idempotency-Key", "k-2"); r.StatusCode != http.StatusAccepted {
		t.Fatalf("after the lease: %d %s", r.StatusCode, b)
	}
}
