package cli_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// formFlow objects through the HTML pages as a browser without JavaScript
// would, reading the code from the mail the SMTP server received, and
// returns the confirmation page's HTML.
func formFlow(t *testing.T, base string, smtp *smtptest.Server, addr, lang string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(resp *http.Response, err error) (string, string) {
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
	check, _ := get(c.PostForm(base+"/objection", url.Values{"email": {addr}, "scope": {"all"}, "lang": {lang}}))
	code := smtp.WaitFor(t, 10*time.Second, smtptest.To(addr)).Code()
	done, page := get(c.PostForm(check, url.Values{"code": {code}, "lang": {lang}}))
	if !strings.HasSuffix(done, "/done") {
		t.Fatalf("code %s for %s: landed on %s:\n%s", code, addr, done, page)
	}
	return page
}

// What the confirmation page and mail promise about posts by others that
// tag or mention an objector follows the policy given to serve, in every
// language: the filter honours the same file.
func TestServePromisesWhatThePolicyDoes(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	def, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	// A person of the fixture for each language the test runs in: English,
	// German and, when their catalogs are here, three whose letters are not
	// ASCII. The composer's tests hold every language's mails to the policy.
	people := map[string]string{"en": "ben@example.com", "de": "anna@example.de", "el": "carl@example.net",
		"bg": "anna.threads@example.de", "mt": "ben.privat@example.org"}
	var langs []string
	for _, l := range []string{"en", "de", "el", "bg", "mt"} {
		if cat.Has(l) {
			langs = append(langs, l)
		}
	}
	if len(langs) < 2 {
		t.Fatalf("languages %v: English and German must be there", langs)
	}
	for _, tc := range []struct {
		name, policy string
		excluded     bool
	}{
		{"built-in default", "", true},
		{"third_party keep", "third_party: keep\n", false},
		{"third_party exclude", "third_party: exclude\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "n.db")
			if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
				t.Fatal(stderr)
			}
			smtp := smtptest.Start(t)
			args := []string{"--db", db, "--mail", smtp.URL()}
			wantSource, wantSHA := def.Source, def.SHA256
			if tc.policy != "" {
				file := writeFile(t, filepath.Join(dir, "policy.yaml"), tc.policy)
				args = append(args, "--policy", file)
				p, err := policy.Load(file)
				if err != nil {
					t.Fatal(err)
				}
				wantSource, wantSHA = p.Source, p.SHA256
			}
			base, out := serverOut(t, nil, args...)
			for _, lang := range langs {
				promise := cat.T(lang, "what_third_exclude")
				addr := people[lang]
				page := formFlow(t, base, smtp, addr, lang)
				conf := smtp.WaitFor(t, 10*time.Second, func(m smtptest.Message) bool {
					return smtptest.To(addr)(m) && m.Code() == ""
				})
				for part, body := range map[string]string{"page": page, "mail text": conf.Text, "mail html": html.UnescapeString(conf.HTML)} {
					if strings.Contains(part, "page") {
						body = html.UnescapeString(body)
					}
					if got := strings.Contains(body, promise); got != tc.excluded {
						t.Errorf("%s %s: promise %q shown = %v, want %v:\n%s", lang, part, promise, got, tc.excluded, body)
					}
				}
			}
			// By now the banner is complete.
			if !strings.Contains(out.String(), "policy: "+wantSource) || !strings.Contains(out.String(), wantSHA) {
				t.Errorf("the banner does not name the policy %s (sha256 %s):\n%s", wantSource, wantSHA, out.String())
			}
		})
	}
}

// A policy serve cannot read or that fails its checks stops serve before it
// creates a store, with the file and the reason in the message.
func TestServeRefusesABadPolicy(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	for name, tc := range map[string]struct{ content, want string }{
		"unknown value": {"third_party: sometimes\n", `third_party "sometimes"`},
		"unknown key":   {"third_parties: keep\n", "third_parties"},
		"not yaml":      {"third_party: [keep\n", "policy"},
	} {
		file := writeFile(t, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml"), tc.content)
		code, _, stderr := run(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--db", db, "--policy", file)
		if code == 0 || !strings.Contains(stderr, file) || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q (want %q)", name, code, stderr, tc.want)
		}
	}
	code, _, stderr := run(t, dir, nil, "serve", "--addr", "127.0.0.1:0", "--db", db, "--policy", filepath.Join(dir, "missing.yaml"))
	if code == 0 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "n.db*")); len(matches) != 0 {
		t.Errorf("a refused start left %v behind", matches)
	}
}
