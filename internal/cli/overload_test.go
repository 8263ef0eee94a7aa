package cli_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/notrain/notrain/internal/locale"
)

// delayedServer is serve with code mails stuck behind a stalled mail
// server and a short --mail-delay-notice; it returns the portal's and the
// metrics listener's URLs.
func delayedServer(t *testing.T) (base, metrics string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	base, out := serverOut(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"),
		"--mail", "smtp://"+ln.Addr().String(), "--mail-delay-notice", "300ms")
	// Registered after serve's cleanup, so it runs first: the stalled
	// sessions end and serve can stop.
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	m := regexp.MustCompile(`metrics: (http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no metrics listener in the banner:\n%s", out.String())
	}
	return base, m[1]
}

func fetch(t *testing.T, u, lang string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// eventually polls until ok or 10 s have passed.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// serve, as an operator runs it: with code mails stuck, the check page
// and the API say the code will come, and /metrics shows the backlog.
func TestServeSaysCodesAreDelayed(t *testing.T) {
	base, metrics := delayedServer(t)
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noFollow().PostForm(base+"/objection", url.Values{"email": {"anna@example.de"}, "scope": {"all"}, "lang": {"de"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	check := base + resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form: %d", resp.StatusCode)
	}
	notice := cat.T("de", "check_behind")
	eventually(t, "the check page's notice", func() bool { return strings.Contains(fetch(t, check, "de"), notice) })
	code, body := postJSON(t, base+"/api/v1/objections", map[string]any{"email": "nobody@example.de"})
	if code != http.StatusAccepted || body["code_delayed"] != true {
		t.Fatalf("API: %d %v", code, body)
	}
	m := fetch(t, metrics, "en")
	for _, want := range []string{"notrain_mail_behind 1", `notrain_outbox_backlog{priority="urgent"} 2`} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// In a real browser with JavaScript off, the notice is on the page a
// person lands on after asking for a code, as a status message.
func TestBrowserShowsCodeDelayedNotice(t *testing.T) {
	ctx := browser(t)
	base, _ := delayedServer(t)
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ben@example.com"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	// The notice appears once the mail has waited past the threshold;
	// the person reloads (or arrives then).
	time.Sleep(1500 * time.Millisecond)
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("code-delayed")))
	if got := text(t, ctx, "#code-delayed"); got != cat.T("en", "check_behind") {
		t.Fatalf("notice = %q", got)
	}
	role, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("code-delayed").getAttribute("role")`))
	if err != nil || role != "status" {
		t.Fatalf("notice role = %q (%v)", role, err)
	}
}

func noFollow() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
