package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// pageFlow starts a code flow with a form as a browser without JavaScript
// would, confirms it with the code the SMTP server received and returns
// the confirmation page.
func pageFlow(t *testing.T, base, path string, form url.Values, smtp *smtptest.Server) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	read := func(resp *http.Response, err error) (string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", resp.Request.URL, resp.StatusCode, b)
		}
		return resp.Request.URL.String(), string(b)
	}
	addr := form.Get("email")
	seen := len(smtp.Messages())
	check, _ := read(c.PostForm(base+path, form))
	code := nextMail(t, smtp, seen, func(m smtptest.Message) bool { return smtptest.To(addr)(m) && m.Code() != "" }).Code()
	done, page := read(c.PostForm(check, url.Values{"code": {code}, "lang": {form.Get("lang")}}))
	if !strings.HasSuffix(done, "/done") {
		t.Fatalf("landed on %s:\n%s", done, page)
	}
	return page
}

// nextMail waits for a mail matching pred among those after the first seen.
func nextMail(t *testing.T, smtp *smtptest.Server, seen int, pred func(smtptest.Message) bool) smtptest.Message {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range smtp.Messages()[seen:] {
			if pred(m) {
				return m
			}
		}
	}
	t.Fatal("no matching mail within 10 s")
	return smtptest.Message{}
}

// filterCounts runs notrain filter and returns its manifest's counts.
func filterCounts(t *testing.T, dir, db, pol, in string) (eligible int64, excluded map[string]int64) {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("out-%d.jsonl", time.Now().UnixNano()))
	man := out + ".manifest.json"
	if code, _, stderr := run(t, dir, nil, "filter", "--in", in, "--out", out, "--manifest", man, "--policy", pol, "--db", db); code != 0 {
		t.Fatalf("filter: %s", stderr)
	}
	b, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Counts struct {
			Eligible int64            `json:"eligible"`
			Excluded map[string]int64 `json:"excluded"`
		} `json:"counts"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Counts.Eligible, m.Counts.Excluded
}

// With a policy in mode consent, serve offers giving and withdrawing
// consent next to objecting; notrain filter then keeps exactly what was
// posted while consent was in force, and only while it is. With the
// built-in policy (mode objection) the consent pages do not exist.
func TestServeInConsentMode(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	pol := writeFile(t, filepath.Join(dir, "consent.yaml"), "mode: consent\n")
	smtp := smtptest.Start(t)
	base, out := serverOut(t, nil, "--db", db, "--mail", smtp.URL(), "--policy", pol)

	before := time.Now().UTC().Add(-time.Hour)
	page := pageFlow(t, base, "/consent", url.Values{"email": {"anna@example.de"}, "scope": {"all"}, "lang": {"en"}}, smtp)
	if !strings.Contains(page, "Your consent is recorded") || !strings.Contains(page, "What your consent means") {
		t.Fatalf("consent page:\n%s", page)
	}
	conf := nextMail(t, smtp, 0, func(m smtptest.Message) bool { return smtptest.To("anna@example.de")(m) && m.Code() == "" })
	if !strings.Contains(conf.Text, "What your consent means") || !strings.Contains(conf.Text, "NTC-") {
		t.Fatalf("consent mail:\n%s", conf.Text)
	}
	time.Sleep(5 * time.Millisecond)
	during := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	items := writeFile(t, filepath.Join(dir, "items.jsonl"), fmt.Sprintf(
		`{"id":"fb:old","product":"facebook","author_id":"u1","kind":"post","visibility":"public","created_at":%q}
{"id":"fb:new","product":"instagram","author_id":"ig1","kind":"post","visibility":"public","created_at":%q}
{"id":"fb:carl","product":"facebook","author_id":"u3","kind":"post","visibility":"public","created_at":%q}
`, before.Format(time.RFC3339Nano), during.Format(time.RFC3339Nano), during.Format(time.RFC3339Nano)))
	if n, ex := filterCounts(t, dir, db, pol, items); n != 1 || ex["no_consent"] != 2 {
		t.Fatalf("with consent in force: %d eligible, %v", n, ex)
	}

	page = pageFlow(t, base, "/consent-withdrawal", url.Values{"email": {"anna@example.de"}, "lang": {"de"}}, smtp)
	if !strings.Contains(page, "Ihre Einwilligung ist widerrufen") {
		t.Fatalf("withdrawal page:\n%s", page)
	}
	time.Sleep(5 * time.Millisecond)
	if n, ex := filterCounts(t, dir, db, pol, items); n != 0 || ex["no_consent"] != 3 {
		t.Fatalf("after the withdrawal: %d eligible, %v", n, ex)
	}
	if !strings.Contains(out.String(), "policy: "+pol) {
		t.Fatalf("banner:\n%s", out.String())
	}

	// Objection mode: no consent pages.
	dir2 := t.TempDir()
	db2 := filepath.Join(dir2, "n.db")
	base2, _ := serverOut(t, nil, "--db", db2, "--init")
	for _, p := range []string{"/consent", "/consent/withdraw"} {
		resp, err := http.Get(base2 + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("objection mode: GET %s: %d", p, resp.StatusCode)
		}
	}
}
