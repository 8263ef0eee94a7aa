package console

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/tokens"
)

const testPassword = "correct horse battery staple"

// syncBuffer collects log output from handlers running concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// evidenceFile is a stand-in exporter that records who asked.
type evidenceFile struct {
	mu   sync.Mutex
	asks []string
}

func (e *evidenceFile) Export(ctx context.Context, ref, op string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asks = append(e.asks, ref+"/"+op)
	return []byte(`{"reference":"` + ref + `"}`), nil
}

type env struct {
	f     *fixture.Fixture
	ops   *operator.Service
	rep   *report.Service
	queue *report.Queue
	ev    *evidenceFile
	con   *Console
	srv   *httptest.Server
	log   *syncBuffer
	// older and newer are the two reports every test starts with, filed
	// through the real report flow: older 40 days ago (fb:1001, fb:1002,
	// overdue), newer two hours ago (ig:77, in German).
	older, newer string
}

// itemURLs links the platform's fb items, and only those, to a page.
const itemURLs = "fb https://facebook.example/posts/{id}\n"

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	f := fixture.New(t, fixture.Options{DSN: dsn})
	e := &env{f: f, ops: operator.New(f.DB, f.Keys, f.Clock.Now), log: &syncBuffer{}, ev: &evidenceFile{}}
	pats, err := report.ParsePatterns(strings.NewReader(itemURLs))
	if err != nil {
		t.Fatal(err)
	}
	e.rep = report.New(f.Svc, f.DB, f.Keys, pats)
	e.queue = report.NewQueue(f.DB, f.Svc, f.Keys, pats, f.Clock.Now)
	e.older = e.file(t, report.Input{Email: "nobody@example.org", Items: []string{"https://facebook.example/posts/1001", "fb:1002"},
		Relation: report.RelationMe, Lang: "en"})
	f.Clock.Advance(40*24*time.Hour - 2*time.Hour)
	e.newer = e.file(t, report.Input{Email: "parent@example.org", Items: []string{"ig:77"}, Relation: report.RelationMyChild,
		Description: "school photo", Lang: "de"})
	f.Clock.Advance(2 * time.Hour)
	con, err := New(Config{DB: f.DB, Keys: f.Keys, Catalog: f.Cat, Operators: e.ops, Queue: e.queue, Evidence: e.ev,
		BaseURL: "http://console.test", Now: f.Clock.Now, Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ItemURL: pats.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv = httptest.NewServer(contract.Check(t, con.Handler()))
	t.Cleanup(e.srv.Close)
	return e
}

// file files a report through the real flow, as a person does: start, the
// code from the outbox, verify. It returns the report's reference.
func (e *env) file(t *testing.T, in report.Input) string {
	t.Helper()
	in.Channel = "web"
	st, err := e.rep.Start(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	code := e.f.CodeFor(t, st.RequestID)
	if code == "" {
		t.Fatalf("no code mailed to %s", in.Email)
	}
	out, err := e.rep.Verify(t.Context(), st.RequestID, code)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != review.StatusInReview {
		t.Fatalf("report %s: %+v", in.Email, out)
	}
	return out.Reference
}

// decisions counts the decisions the queue recorded (its ledger entries).
func (e *env) decisions(t *testing.T) []string {
	t.Helper()
	rows, err := dbtest.Raw(t, e.f.Path).Query(`SELECT body FROM ledger WHERE kind = 'report.decided' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// operator adds and sets up an operator; it returns the TOTP secret when
// totp is set.
func (e *env) operator(t *testing.T, name, role string, totp bool) string {
	t.Helper()
	ctx := context.Background()
	tok, err := e.ops.Add(ctx, name, role, "cli")
	if err != nil {
		t.Fatal(err)
	}
	in := operator.Setup{Password: testPassword, Confirm: testPassword}
	if totp {
		en, _ := operator.NewTOTP(name)
		in.TOTPSecret = en.Secret
		in.TOTPCode, _ = operator.TOTPCode(en.Secret, e.f.Clock.Now())
	}
	if _, err := e.ops.CompleteSetup(ctx, tok, in); err != nil {
		t.Fatal(err)
	}
	e.f.Clock.Advance(time.Minute) // the set-up code is not the login code
	return in.TOTPSecret
}

// client is a browser-like client: a cookie jar, no redirects followed, and
// Sec-Fetch-Site set as a browser sets it on same-origin requests.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.srv.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the form token from a page.
func (c *client) csrf(path string) string {
	c.t.Helper()
	resp, body := c.do("GET", path, nil, nil)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		c.t.Fatalf("GET %s: %d, no csrf token in %.300s", path, resp.StatusCode, body)
	}
	return m[1]
}

// login logs in and returns the session's form token.
func (c *client) login(name, code string) string {
	c.t.Helper()
	resp, body := c.do("POST", "/admin/login", url.Values{"csrf": {c.csrf("/admin/login")}, "name": {name}, "password": {testPassword}, "code": {code}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		c.t.Fatalf("login %s: %d %.300s", name, resp.StatusCode, body)
	}
	return c.csrf("/admin/reviews")
}

func (e *env) token(t *testing.T, scope tokens.Scope, name string) string {
	t.Helper()
	tok, err := tokens.Create(context.Background(), e.f.DB, e.f.Keys, scope, name, e.f.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
