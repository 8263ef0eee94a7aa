package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/notrain/notrain/internal/cli"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// syncBuffer is a bytes.Buffer safe for a running command and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run runs a command to completion in dir with extra environment variables.
func run(t *testing.T, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := cli.Run(context.Background(), args, cli.Env{Stdout: &out, Stderr: &errb, LookupEnv: lookup(env)})
	return code, out.String(), errb.String()
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAccountsImportIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	good := strings.Split(strings.TrimSpace(fixture.Accounts), "\n")
	bad := strings.Join(good[:3], "\n") + "\n" + `{"product":"facebook","account_id":"u9","birthdate":"1990-13-01"}` + "\n" + good[3] + "\n"
	code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "bad.jsonl"), bad), "--db", db)
	if code == 0 || !strings.Contains(stderr, "line 4") || !strings.Contains(stderr, "birthdate") || !strings.Contains(stderr, "nothing was imported") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// The store the failed import would have created is gone again.
	for _, f := range []string{db, db + "-wal", db + "-shm", db + ".key", db + ".eligibility"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s left by a failed first import", f)
		}
	}
	cases := map[string]string{
		"unknown field":    `{"product":"facebook","account_id":"u9","birth_date":"1990-01-01"}`,
		"unknown product":  `{"product":"myspace","account_id":"u9"}`,
		"missing id":       `{"product":"facebook"}`,
		"bad e-mail":       `{"product":"facebook","account_id":"u9","email":"nope"}`,
		"not json":         `facebook,u9`,
		"duplicate":        good[0],
		"two values":       `{"product":"facebook","account_id":"u9"} {}`,
		"control in id":    `{"product":"facebook","account_id":"u\u00009"}`,
		"future birthdate": `{"product":"facebook","account_id":"u9","birthdate":"2999-01-01"}`,
	}
	for name, line := range cases {
		f := writeFile(t, filepath.Join(dir, "case.jsonl"), good[0]+"\n"+line+"\n")
		if code, _, stderr := run(t, dir, nil, "accounts", "import", f, "--db", db); code == 0 || !strings.Contains(stderr, "line 2") {
			t.Errorf("%s: exit %d, %q", name, code, stderr)
		}
	}
	// The good file imports; a re-import with a change updates.
	code, out, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "good.jsonl"), fixture.Accounts), "--db", db)
	if code != 0 || !strings.Contains(out, "imported 6 accounts") || !strings.Contains(out, "6 new") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	changed := strings.Replace(fixture.Accounts, `"handle":"carl"`, `"handle":"carl.neu"`, 1)
	code, out, _ = run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "good2.jsonl"), changed), "--db", db)
	if code != 0 || !strings.Contains(out, "0 new, 1 updated, 5 unchanged") {
		t.Fatalf("re-import: exit %d: %s", code, out)
	}
	// E-mail addresses are stored only as keyed hashes.
	raw := rawDB(t, db)
	var leaks int
	if err := raw.QueryRow("SELECT COUNT(*) FROM accounts WHERE email_hash LIKE '%@%'").Scan(&leaks); err != nil || leaks != 0 {
		t.Fatalf("plain addresses in accounts: %d, %v", leaks, err)
	}
	st, err := os.Stat(db + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func count(t *testing.T, path, table string) int {
	t.Helper()
	var n int
	if err := rawDB(t, path).QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLedgerVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	accts := writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts)
	for range 3 {
		if code, _, stderr := run(t, dir, nil, "accounts", "import", accts, "--db", db); code != 0 {
			t.Fatal(stderr)
		}
	}
	code, out, _ := run(t, dir, nil, "ledger", "verify", "--db", db)
	if code != 0 || !regexp.MustCompile(`ledger intact: 3 entries, head 3 [0-9a-f]{64}`).MatchString(out) {
		t.Fatalf("exit %d: %s", code, out)
	}
	if _, err := os.Stat(db + ".ledger-checkpoint"); err != nil {
		t.Fatal("no checkpoint written")
	}
	// Change one byte of entry 2.
	if _, err := rawDB(t, db).Exec(`UPDATE ledger SET body = replace(body, '"records":6', '"records":7') WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, dir, nil, "ledger", "verify", "--db", db)
	if code == 0 || !strings.Contains(stderr, "BROKEN at entry 2") {
		t.Fatalf("tampered ledger: exit %d, %s %s", code, out, stderr)
	}
}

func TestServeRefusesUnsafeSettings(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--db", db, "--addr", "0.0.0.0:0"}, nil, "only on loopback"},
		{[]string{"serve", "--db", db, "--code-ttl", "25h"}, nil, "--code-ttl"},
		{[]string{"serve", "--db", ":memory:", "--addr", "127.0.0.1:0"}, nil, "in-memory"},
		{[]string{"serve", "--db", db, "--mail", "http://mail.example.com"}, nil, "smtp://"},
		{[]string{"serve", "--db", db}, map[string]string{"NOTRAIN_IP_RATE_LIMIT": "many"}, "NOTRAIN_IP_RATE_LIMIT"},
		{[]string{"serve", "--db", db}, map[string]string{"NOTRAIN_SECRET": "ab", "NOTRAIN_SECRET_FILE": "/x"}, "both"},
		{[]string{"serve", "--db", db, "--trusted-proxies", "not-a-net"}, nil, "trusted-proxies"},
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		tests = append(tests, struct {
			args []string
			env  map[string]string
			want string
		}{[]string{"serve", "--db", "/dev/shm/notrain-test.db"}, nil, "tmpfs"})
	}
	for _, tt := range tests {
		code, _, stderr := run(t, dir, tt.env, tt.args...)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v %v: exit %d, stderr %q (want %q)", tt.args, tt.env, code, stderr, tt.want)
		}
	}
}

// server runs "notrain serve" in-process and returns its base URL.
func server(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	base, _ := serverOut(t, env, args...)
	return base
}

// serverOut is server that also returns what serve printed.
func serverOut(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- cli.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"}, args...), cli.Env{Stdout: &out, Stderr: &errb, LookupEnv: lookup(env)})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, errb.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop within 15 s")
		}
	})
	re := regexp.MustCompile(`portal on (http://[0-9.:]+)/`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], &out
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		default:
		}
	}
	t.Fatalf("serve did not start: %s %s", out.String(), errb.String())
	return "", nil
}

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %s", url, raw)
	}
	return resp.StatusCode, out
}

// The JSON API end to end with a real SMTP server: the code is read from
// the mail the server received, not from the database.
func TestJSONAPIOverSMTP(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	smtp := smtptest.Start(t)
	base := server(t, map[string]string{"NOTRAIN_MAIL": smtp.URL()}, "--db", db, "--mail-from", "Datenschutz <privacy@notrain.test>")

	status, started := postJSON(t, base+"/api/v1/objections", map[string]any{"email": "ben@example.com", "scope": "all", "lang": "de"})
	if status != http.StatusAccepted || started["status"] != "code_sent" {
		t.Fatalf("%d %v", status, started)
	}
	codeMail := smtp.WaitFor(t, 10*time.Second, smtptest.To("ben@example.com"))
	if codeMail.From != "privacy@notrain.test" || !strings.Contains(codeMail.Subject, codeMail.Code()) {
		t.Fatalf("code mail from %q subject %q", codeMail.From, codeMail.Subject)
	}
	status, done := postJSON(t, base+"/api/v1/objections/verify", map[string]any{"request_id": started["request_id"], "code": codeMail.Code()})
	if status != http.StatusOK || done["status"] != "accepted" || len(done["accounts"].([]any)) != 2 {
		t.Fatalf("%d %v", status, done)
	}
	ref := done["reference"].(string)
	conf := smtp.WaitFor(t, 10*time.Second, func(m smtptest.Message) bool { return strings.Contains(m.Subject, ref) })
	if !strings.Contains(conf.Text, "Instagram (benk)") || !strings.Contains(conf.Text, "Facebook (ben)") {
		t.Fatalf("confirmation:\n%s", conf.Text)
	}

	// Withdrawal the same way, in English, from the linked account's address.
	status, started = postJSON(t, base+"/api/v1/withdrawals", map[string]any{"email": "ben.privat@example.org", "lang": "en"})
	if status != http.StatusAccepted {
		t.Fatalf("%d %v", status, started)
	}
	codeMail = smtp.WaitFor(t, 10*time.Second, smtptest.To("ben.privat@example.org"))
	status, done = postJSON(t, base+"/api/v1/withdrawals/verify", map[string]any{"request_id": started["request_id"], "code": codeMail.Code()})
	if status != http.StatusOK || done["status"] != "withdrawn" || done["objections_ended"] != float64(1) {
		t.Fatalf("%d %v", status, done)
	}
	smtp.WaitFor(t, 10*time.Second, func(m smtptest.Message) bool { return strings.Contains(m.Subject, "Objection withdrawn") })
	// In SMTP mode there is no dev mailbox.
	resp, err := http.Get(base + "/dev/mail.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/dev/mail.json in SMTP mode: %d", resp.StatusCode)
	}
	if n := len(smtp.Messages()); n != 4 {
		t.Fatalf("%d mails received, want 4", n)
	}
}

func TestDemoServeStartsWithAccounts(t *testing.T) {
	dir := t.TempDir()
	base := server(t, nil, "--demo", "--db", filepath.Join(dir, "n.db"))
	status, _ := postJSON(t, base+"/api/v1/objections", map[string]any{"email": "jörg@müller.de"})
	if status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	var mails []map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/dev/mail.json")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&mails)
		resp.Body.Close()
		if len(mails) > 0 && mails[0]["sent_at"] != nil {
			break
		}
	}
	if len(mails) != 1 || mails[0]["kind"] != "code" || mails[0]["to"] != "jörg@xn--mller-kva.de" {
		t.Fatalf("dev mailbox: %v", mails)
	}
	if mails[0]["sent_at"] == nil {
		t.Fatal("the dev dispatcher did not deliver the mail")
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := run(t, "", nil, "version"); code != 0 || !strings.HasPrefix(out, "notrain ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, stderr := run(t, "", nil, "frobnicate"); code != 2 || !strings.Contains(stderr, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, stderr)
	}
	if code, _, _ := run(t, "", nil); code != 2 {
		t.Fatalf("no command: exit %d", code)
	}
}
