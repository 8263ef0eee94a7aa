package cli_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// operators reset prints a new set-up link, operators disable and tokens
// revoke take access away, and no link is ever made to 0.0.0.0 or ::.
func TestRevokeAndRecoverAccess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "n.db")
	for _, args := range [][]string{
		{"serve", "--db", db, "--admin-addr", "0.0.0.0:0", "--admin-base-url", "http://0.0.0.0:9000"},
		{"serve", "--db", db, "--admin-base-url", "http://[::]:9000/"},
		{"operators", "add", "nina", "--role", "reviewer", "--db", db, "--base-url", "http://0.0.0.0:9000"},
		{"operators", "reset", "nina", "--db", db, "--base-url", "http://[::]:9000"},
	} {
		if code, stdout, stderr := run(t, "", nil, args...); code != 2 || stdout != "" || !strings.Contains(stderr, "unspecified host") {
			t.Fatalf("%v: exit %d %q %s, want 2 naming the unspecified host", args, code, stdout, stderr)
		}
	}
	_, out := serverOut(t, nil, "--demo", "--db", db, "--admin-addr", "127.0.0.1:0")
	var admin string
	re := regexp.MustCompile(`console: (http://[0-9.:]+)/admin`)
	for deadline := time.Now().Add(5 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" {
		t.Fatalf("no console address in %s", out.String())
	}
	link := regexp.MustCompile(`^` + regexp.QuoteMeta(admin) + `/admin/setup/[0-9a-f]{64}\n$`)
	if code, stdout, stderr := run(t, "", nil, "operators", "add", "Rita", "--role", "reviewer", "--db", db, "--base-url", admin); code != 0 || !link.MatchString(stdout) || !strings.Contains(stderr, "operator rita") {
		t.Fatalf("operators add: %d %q %s", code, stdout, stderr)
	}
	code, first, stderr := run(t, "", nil, "operators", "reset", "RITA", "--db", db, "--base-url", admin)
	if code != 0 || !link.MatchString(first) {
		t.Fatalf("operators reset: %d %q %s", code, first, stderr)
	}
	if c, _ := get(t, strings.TrimSpace(first), nil); c != 200 {
		t.Fatalf("reset link: %d", c)
	}
	code, second, stderr := run(t, "", nil, "operators", "reset", "rita", "--drop-totp", "--db", db, "--base-url", admin)
	if code != 0 || !link.MatchString(second) || !strings.Contains(stderr, "removed") {
		t.Fatalf("operators reset --drop-totp: %d %q %s", code, second, stderr)
	}
	if c, _ := get(t, strings.TrimSpace(first), nil); c != http.StatusNotFound {
		t.Fatalf("the first reset's link after a second reset: %d, want 404", c)
	}
	if code, _, stderr := run(t, "", nil, "operators", "disable", "rita", "--db", db); code != 0 || !strings.Contains(stderr, "disabled") {
		t.Fatalf("operators disable: %d %s", code, stderr)
	}
	if c, _ := get(t, strings.TrimSpace(second), nil); c != http.StatusNotFound {
		t.Fatalf("a set-up link of a disabled operator: %d, want 404", c)
	}
	for _, args := range [][]string{{"operators", "reset", "nobody"}, {"operators", "disable", "nobody"}} {
		if code, _, stderr := run(t, "", nil, append(args, "--db", db)...); code != 1 || !strings.Contains(stderr, "no operator") {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
	}
	if code, stdout, _ := run(t, "", nil, "ledger", "verify", "--db", db); code != 0 {
		t.Fatalf("ledger verify after resets: %d %s", code, stdout)
	}

	code, tok, stderr := run(t, "", nil, "tokens", "create", "--scope", "reviews", "--name", "triage", "--db", db)
	tok = strings.TrimSpace(tok)
	if code != 0 || !strings.Contains(stderr, tok[:12]) {
		t.Fatalf("tokens create: %d %q %s", code, tok, stderr)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	if c, body := get(t, admin+"/api/v1/admin/reviews", auth); c == http.StatusUnauthorized {
		t.Fatalf("live token refused: %d %s", c, body)
	}
	if code, stdout, stderr := run(t, "", nil, "tokens", "revoke", "triage", "--db", db); code != 0 || stdout != "revoked "+tok[:12]+"\n" {
		t.Fatalf("tokens revoke: %d %q %s", code, stdout, stderr)
	}
	if c, _ := get(t, admin+"/api/v1/admin/reviews", auth); c != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d, want 401", c)
	}
	if code, _, stderr := run(t, "", nil, "tokens", "revoke", tok[:10], "--db", db); code != 1 || !strings.Contains(stderr, "no live token") {
		t.Fatalf("revoking again: %d %s", code, stderr)
	}
}
