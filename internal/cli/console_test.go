package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve --admin-addr puts the console on its own listener and takes it off
// the portal's; operators add prints the set-up link alone on standard
// output; tokens create --scope reviews prints a token the admin API takes.
func TestConsoleOnItsOwnAddress(t *testing.T) {
	db := filepath.Join(t.TempDir(), "n.db")
	base, out := serverOut(t, nil, "--demo", "--db", db, "--admin-addr", "127.0.0.1:0")
	var admin string
	re := regexp.MustCompile(`console: (http://[0-9.:]+)/admin`)
	for deadline := time.Now().Add(5 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" || admin == base {
		t.Fatalf("no console address in %s", out.String())
	}
	for _, p := range []string{"/admin", "/admin/login", "/api/v1/admin/reviews"} {
		if code, _ := get(t, base+p, nil); code != http.StatusNotFound {
			t.Errorf("portal %s: %d, want 404", p, code)
		}
	}
	if code, body := get(t, admin+"/admin/login", nil); code != 200 || !strings.Contains(body, `name="password"`) {
		t.Fatalf("console login page: %d", code)
	}
	if code, _ := get(t, admin+"/admin", nil); code != http.StatusSeeOther {
		t.Fatalf("console without session: %d", code)
	}

	code, stdout, stderr := run(t, "", nil, "operators", "add", "rita", "--role", "reviewer", "--db", db, "--base-url", admin)
	if code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(admin)+`/admin/setup/[0-9a-f]{64}\n$`).MatchString(stdout) {
		t.Fatalf("operators add: %d %q %s", code, stdout, stderr)
	}
	if c, _ := get(t, strings.TrimSpace(stdout), nil); c != 200 {
		t.Fatalf("set-up link: %d", c)
	}
	if code, _, stderr := run(t, "", nil, "operators", "add", "rita", "--role", "admin", "--db", db); code == 0 {
		t.Fatalf("second add of rita succeeded: %s", stderr)
	}
	if code, _, _ := run(t, "", nil, "operators", "add", "x", "--role", "owner", "--db", db); code != 2 {
		t.Fatalf("bad role: exit %d, want 2", code)
	}

	code, tok, stderr := run(t, "", nil, "tokens", "create", "--scope", "reviews", "--name", "triage", "--db", db)
	if code != 0 || !regexp.MustCompile(`^ntk_[0-9a-f]+\n$`).MatchString(tok) {
		t.Fatalf("tokens create: %d %q %s", code, tok, stderr)
	}
	// serve wires the real queue in: the token lists its (empty) open cases.
	c, body := get(t, admin+"/api/v1/admin/reviews", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(tok)})
	var e struct{ Reviews []json.RawMessage }
	if c != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.Reviews == nil {
		t.Fatalf("admin API with a reviews token: %d %s", c, body)
	}
	if c, _ := get(t, admin+"/api/v1/admin/reviews", nil); c != http.StatusUnauthorized {
		t.Fatalf("admin API without token: %d", c)
	}
}

// Without --admin-addr the console is on the portal's listener.
func TestConsoleOnThePortal(t *testing.T) {
	base := server(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"))
	if code, body := get(t, base+"/admin/login", nil); code != 200 || !strings.Contains(body, `lang="en"`) {
		t.Fatalf("login page: %d", code)
	}
	if code, _ := get(t, base+"/api/v1/admin/reviews", nil); code != http.StatusUnauthorized {
		t.Fatalf("admin API: %d", code)
	}
}
