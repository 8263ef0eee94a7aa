package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
	"github.com/notrain/notrain/internal/web"
)

// liveEnv is a portal with its dispatcher running in the background, as
// `notrain serve` runs it: commits wake the dispatcher, which delivers over
// real SMTP on loopback.
type liveEnv struct {
	*fixture.Fixture
	URL string
}

func newLiveEnv(t *testing.T, smtpURL string, known []string) *liveEnv {
	t.Helper()
	sender, err := mail.NewSMTP(smtpURL, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.Close)
	// Retries wait an hour: the test's clock jumps past the resend
	// cool-down, and a first retry due then for every earlier mail would
	// race the resend's own first attempt, which is the state compared.
	disp := &mail.Dispatcher{Sender: sender, From: "notrain <noreply@notrain.test>", Log: fixture.Quiet(), BackoffBase: time.Hour}
	f := fixture.New(t, fixture.Options{Wake: disp.Wake})
	var b strings.Builder
	for i, addr := range known {
		fmt.Fprintf(&b, `{"product":"facebook","account_id":"k%d","email":%q,"birthdate":"1990-01-01","handle":"k%d"}`+"\n", i, addr, i)
	}
	f.Import(t, b.String())
	disp.Outbox, disp.Composer, disp.Now, disp.Metrics = f.DB, f.Composer, f.Clock.Now, f.Metrics
	srv, err := web.New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, web.Config{Now: f.Clock.Now, Log: fixture.Quiet(), Composer: f.Composer, Keys: f.Keys, LogKey: f.LogKey})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(contract.Check(t, srv.Handler()))
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { disp.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &liveEnv{Fixture: f, URL: ts.URL}
}

// pageAfter fetches a check page 100 ms after the request that led to it,
// the way a person's browser follows the redirect.
// pageAfter is the check page at u once its delivery state says want (or,
// after 10 s, as it is then, for the comparison to show). Waiting for the
// state instead of a fixed pause keeps a loaded machine from comparing one
// address's finished attempt with another's still under way.
func pageAfter(t *testing.T, u, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(50 * time.Millisecond)
		page := normalize(get(t, u, "en"))
		if strings.Contains(strings.ToLower(page), want) || time.Now().After(deadline) {
			return page
		}
	}
}

func postRedirect(t *testing.T, u string, form url.Values) string {
	t.Helper()
	resp, err := noRedirect().PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d", u, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// The "check your mail" page must not tell known from unknown addresses by
// its state or by when that state changes: the code, the "no account"
// notice and the placeholder that stands in for a notice already sent all
// take the same queue, wake-up and delivery attempts. With the mail server
// down, all of them fail and wait for a retry alike.
func TestCheckPageStateDoesNotDependOnTheAddress(t *testing.T) {
	const n = 40
	var known, unknown []string
	for i := range n {
		known = append(known, fmt.Sprintf("known%02d@example.de", i))
		unknown = append(unknown, fmt.Sprintf("stranger%02d@example.de", i))
	}
	for _, tc := range []struct {
		name string
		smtp func(t *testing.T) string
		want string // the state every page must show
	}{
		{"smtp up", func(t *testing.T) string { return smtptest.Start(t).URL() }, "sent at"},
		{"smtp down", func(t *testing.T) string {
			// A port nobody listens on: every connection is refused.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			return "smtp://" + l.Addr().String()
		}, "keep trying"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newLiveEnv(t, tc.smtp(t), known)
			pages := map[string][]string{}
			locs := map[string]string{}
			for i := range n {
				for _, addr := range []string{known[i], unknown[i]} {
					loc := postRedirect(t, e.URL+"/objection", url.Values{"email": {addr}, "scope": {"all"}, "lang": {"en"}})
					locs[addr] = loc
					pages[addr] = append(pages[addr], pageAfter(t, e.URL+loc, tc.want))
				}
			}
			e.Clock.Advance(61 * time.Second) // past the resend cool-down
			for i := range n {
				for _, addr := range []string{known[i], unknown[i]} {
					loc := postRedirect(t, e.URL+locs[addr]+"/resend", url.Values{"lang": {"en"}})
					pages[addr] = append(pages[addr], pageAfter(t, e.URL+loc, tc.want))
				}
			}
			ref := pages[known[0]]
			for _, step := range ref {
				if !strings.Contains(strings.ToLower(step), tc.want) {
					t.Fatalf("the page does not say %q:\n%s", tc.want, step)
				}
			}
			for _, addr := range append(known, unknown...) {
				for step := range ref {
					if pages[addr][step] != ref[step] {
						t.Fatalf("%s, step %d: the page differs from %s's:\n%s\n----\n%s", addr, step, known[0], statusLine(pages[addr][step]), statusLine(ref[step]))
					}
				}
			}
		})
	}
}

// statusLine is the delivery state a check page shows.
func statusLine(page string) string {
	if i := strings.Index(page, `role="status"`); i >= 0 {
		page = page[i:]
		if j := strings.Index(page, "</p>"); j >= 0 {
			return page[:j]
		}
	}
	return page
}

// anna.İg@… would match anna.ig@…'s account under Unicode lower-casing: the
// API and the form refuse it with a stable code and a message beside the field.
func TestNonCanonicalAddressIsRefused(t *testing.T) {
	e := newEnv(t, web.Config{})
	resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna.\u0130g@example.de","lang":"en"}`)
	if resp.StatusCode != http.StatusBadRequest || errorCode(t, body) != "email_not_canonical" || !strings.Contains(body, `"field":"email"`) {
		t.Fatalf("API: %d %s", resp.StatusCode, body)
	}
	r, err := http.PostForm(e.URL+"/objection", url.Values{"email": {"anna.\u0130g@example.de"}, "scope": {"all"}, "lang": {"en"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), `id="email-error"`) || !strings.Contains(string(page), "lower case") {
		t.Fatalf("form: %d\n%s", r.StatusCode, page)
	}
	if len(e.Mails(t)) != 0 {
		t.Fatal("a mail was queued for a refused address")
	}
}

// A page on another site can point its own name at 127.0.0.1 (DNS
// rebinding) and read what the dev server answers: in dev mode, a request
// whose Host is not a loopback name or address is refused.
func TestDevModeAnswersOnlyLoopbackHosts(t *testing.T) {
	e := newEnv(t, web.Config{Dev: true})
	postJSON(t, e.URL+"/api/v1/objections", `{"email":"anna@example.de"}`)
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"localhost", true}, {"localhost:8080", true}, {"127.0.0.1:8080", true}, {"[::1]:8080", true}, {"127.1.2.3", true},
		{"evil.example", false}, {"evil.example:8080", false}, {"localhost.evil.example", false}, {"127.0.0.1.nip.io", false}, {"0.0.0.0:8080", false},
	} {
		for _, path := range []string{"/dev/mail.json", "/dev/mail", "/"} {
			req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if (resp.StatusCode == http.StatusOK) != tc.ok {
				t.Errorf("Host %q %s: %d", tc.host, path, resp.StatusCode)
			}
			if !tc.ok && strings.Contains(string(b), "example.de") {
				t.Errorf("Host %q %s: the refusal shows mail", tc.host, path)
			}
		}
	}
	// Outside dev mode any Host is served (a reverse proxy names the site).
	e = newEnv(t, web.Config{})
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/", nil)
	req.Host = "objection.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("production Host refused: %d", resp.StatusCode)
	}
}

// /metrics is not on the listener people reach; it has its own handler
// (served on --metrics-addr, loopback by default).
func TestMetricsAreNotOnThePublicListener(t *testing.T) {
	e := newEnv(t, web.Config{})
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "notrain_") {
		t.Fatalf("public /metrics: %d\n%s", resp.StatusCode, b)
	}
}

// Everything a person can reach answers the same whichever address was
// asked for: the API, the pages and /healthz, after the request and after
// delivery. Each address gets a fresh portal so nothing else differs.
func TestPublicAnswersDoNotMoveWithTheAddress(t *testing.T) {
	var runs [][]string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		e := newEnv(t, web.Config{})
		var seen []string
		resp, body := postJSON(t, e.URL+"/api/v1/objections", `{"email":"`+addr+`","lang":"en"}`)
		seen = append(seen, normalize(resp.Status+headerDump(resp.Header)+body))
		rid := ridRE.FindString(body)
		for _, step := range []string{"queued", "delivered"} {
			if step == "delivered" {
				e.deliver(t)
			}
			seen = append(seen, normalize(get(t, e.URL+"/healthz", "en")), normalize(get(t, e.URL+"/objection/"+rid, "en")),
				normalize(getAny(t, e.URL+"/metrics")))
		}
		runs = append(runs, seen)
	}
	for i := range runs[0] {
		if runs[0][i] != runs[1][i] {
			t.Fatalf("step %d differs for known and unknown addresses:\n%s\n----\n%s", i, runs[0][i], runs[1][i])
		}
	}
}

// getAny fetches u and returns its status and body, whatever the status.
func getAny(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + "\n" + string(b)
}

// The consent flows (policy mode consent) answer exactly as objections do
// whichever address asks: each start route, through the API and the form,
// and the check page it leads to, queued and delivered, from a fresh
// portal per address so nothing else differs. Only the mailbox differs: a
// code for the known address, the "no account" notice for the other.
func TestConsentAnswersDoNotMoveWithTheAddress(t *testing.T) {
	routes := []struct{ api, form, page string }{
		{"/api/v1/consents", "/consent", "/consent/"},
		{"/api/v1/consent-withdrawals", "/consent-withdrawal", "/consent-withdrawal/"},
	}
	var runs [][]string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		e := newConsentEnv(t)
		var seen []string
		for _, r := range routes {
			e.Clock.Advance(61 * time.Second)
			resp, body := postJSON(t, e.URL+r.api, `{"email":"`+addr+`","scope":"all","lang":"en"}`)
			seen = append(seen, normalize(resp.Status+headerDump(resp.Header)+body))
			rid := ridRE.FindString(body)
			form := url.Values{"email": {addr}, "scope": {"all"}, "lang": {"en"}}
			fresp, err := noRedirect().PostForm(e.URL+r.form, form)
			if err != nil {
				t.Fatal(err)
			}
			fresp.Body.Close()
			seen = append(seen, normalize(fresp.Status+headerDump(fresp.Header)))
			for _, step := range []string{"queued", "delivered"} {
				if step == "delivered" {
					e.deliver(t)
				}
				seen = append(seen, normalize(get(t, e.URL+r.page+rid, "en")), normalize(get(t, e.URL+fresp.Header.Get("Location"), "en")))
			}
		}
		var kinds []string
		for _, m := range e.MailsTo(t, addr) {
			kinds = append(kinds, m.Kind)
		}
		want := mail.KindCode
		if addr != "anna@example.de" {
			want = mail.KindNoAccount
		}
		if len(kinds) == 0 || !strings.Contains(strings.Join(kinds, ","), want) {
			t.Fatalf("%s got %v, want %s among them", addr, kinds, want)
		}
		runs = append(runs, seen)
	}
	for i := range runs[0] {
		if runs[0][i] != runs[1][i] {
			t.Fatalf("step %d differs for known and unknown addresses:\n%s\n----\n%s", i, runs[0][i], runs[1][i])
		}
	}
}
