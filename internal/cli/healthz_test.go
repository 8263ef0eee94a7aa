package cli_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

func healthz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status
}

// /healthz says "failing" while the database refuses writes, and ok again
// once a write commits. The failure is real: the PostgreSQL database is
// switched to read-only under the running server.
func TestHealthzReportsFailingWrites(t *testing.T) {
	dsn := dbtest.Postgres(t)
	dir := t.TempDir()
	secret := strings.Repeat("5e", 32)
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", dsn, "--secret", secret, "--log-key", filepath.Join(dir, "log.key")); code != 0 {
		t.Fatal(stderr)
	}
	base := server(t, nil, "--db", dsn, "--secret", secret, "--log-key", filepath.Join(dir, "log.key"), "--ip-rate-limit", "0")
	if code, status := healthz(t, base); code != http.StatusOK || status != "ok" {
		t.Fatalf("healthz before: %d %q", code, status)
	}
	raw := dbtest.Raw(t, dsn)
	readOnly := func(on bool) {
		t.Helper()
		v := "off"
		if on {
			v = "on"
		}
		var name string
		if err := raw.QueryRow("SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("ALTER DATABASE " + name + " SET default_transaction_read_only = " + v); err != nil {
			t.Fatal(err)
		}
		// Sessions take the setting when they start: end the server's.
		if _, err := raw.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
			t.Fatal(err)
		}
	}
	readOnly(true)
	status, _ := postJSON(t, base+"/api/v1/objections", map[string]any{"email": "anna@example.de", "scope": "all"})
	if status < 500 {
		t.Fatalf("a write to a read-only database answered %d", status)
	}
	if code, status := healthz(t, base); code != http.StatusServiceUnavailable || status != "failing" {
		t.Fatalf("healthz while writes fail: %d %q", code, status)
	}
	readOnly(false)
	// Connections the database ended fail once each while the pool
	// replaces them, as a client retrying would see.
	var body map[string]any
	for range 20 {
		if status, body = postJSON(t, base+"/api/v1/objections", map[string]any{"email": "ben@example.com", "scope": "all"}); status == http.StatusAccepted {
			break
		}
	}
	if status != http.StatusAccepted {
		t.Fatalf("write after recovery: %d %v", status, body)
	}
	var code int
	var health string
	for range 20 {
		if code, health = healthz(t, base); code == http.StatusOK {
			break
		}
	}
	if code != http.StatusOK || health != "ok" {
		t.Fatalf("healthz after recovery: %d %q", code, health)
	}
}
