package cli_test

import (
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/translog"
)

// notrain evidence REFERENCE prints the signed export (or writes it with
// --out); a missing store is an error that creates nothing, an unknown
// reference a clear error.
func TestEvidenceCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	code, _, stderr := run(t, dir, nil, "evidence", "NT-AAAA-BBBB-CCCC", "--db", db, "--operator", "alice")
	if code == 0 || !strings.Contains(stderr, "nothing was created") {
		t.Fatalf("missing store: exit %d, %q", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a missing store left %v", entries)
	}

	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	objs := writeFile(t, filepath.Join(dir, "o.jsonl"), `{"email":"anna@example.de","scope":"all","received_at":"2025-05-20T08:00:00Z","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`+"\n")
	if code, _, stderr := run(t, dir, nil, "objections", "import", objs, "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	sdb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	var ref string
	err = sdb.QueryRow("SELECT id FROM objections").Scan(&ref)
	sdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := translog.LoadKey(db+".log.key", "", false)
	if err != nil {
		t.Fatal(err)
	}

	// The form, notrain evidence REFERENCE, works: the export
	// names the command line, never the login.
	code, stdout, stderr := run(t, dir, map[string]string{"USER": "carol"}, "evidence", ref, "--db", db)
	if code != 0 {
		t.Fatalf("without --operator: exit %d, stderr %s", code, stderr)
	}
	if p := checkJWS(t, stdout, key.PublicKey()); !strings.Contains(p, `"operator":"cli"`) || strings.Contains(p, "carol") {
		t.Fatalf("without --operator: %s", p)
	}
	code, stdout, stderr = run(t, dir, map[string]string{"USER": "carol"}, "evidence", ref, "--db", db, "--operator", "Carol Weiss")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	payload := checkJWS(t, stdout, key.PublicKey())
	if !strings.Contains(payload, `"reference":"`+ref+`"`) || !strings.Contains(payload, `"operator":"Carol Weiss"`) ||
		!strings.Contains(payload, `"kind":"objection.accepted"`) || strings.Contains(payload, "anna@") {
		t.Fatalf("payload:\n%s", payload)
	}

	out := filepath.Join(dir, "evidence.json")
	code, stdout, stderr = run(t, dir, nil, "evidence", ref, "--db", db, "--out", out, "--operator", "alice")
	if code != 0 || stdout != "" {
		t.Fatalf("--out: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if p := checkJWS(t, string(b), key.PublicKey()); !strings.Contains(p, `"operator":"alice"`) || !strings.Contains(p, `"kind":"evidence.exported"`) {
		t.Fatalf("file payload:\n%s", p)
	}

	code, _, stderr = run(t, dir, nil, "evidence", "NT-AAAA-BBBB-CCCC", "--db", db, "--operator", "alice")
	if code != 1 || !strings.Contains(stderr, "no ledger entry names this reference") {
		t.Fatalf("unknown reference: exit %d, %q", code, stderr)
	}
	if code, _, _ := run(t, dir, nil, "evidence", "--db", db); code != 2 {
		t.Fatalf("no reference: exit %d", code)
	}
	if code, _, stderr := run(t, dir, nil, "ledger", "verify", "--db", db); code != 0 {
		t.Fatalf("ledger verify: %s", stderr)
	}
	// The public ledger names neither exporter.
	sdb, err = sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var n int
	if err := sdb.QueryRow(`SELECT COUNT(*) FROM ledger WHERE body LIKE '%Carol%' OR body LIKE '%carol%' OR body LIKE '%alice%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d ledger bodies name an exporter (%v)", n, err)
	}
}

// checkJWS verifies a flattened JWS signed EdDSA with pub and returns its payload.
func checkJWS(t *testing.T, doc string, pub ed25519.PublicKey) string {
	t.Helper()
	var j struct{ Protected, Payload, Signature string }
	if err := json.Unmarshal([]byte(doc), &j); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	h, err1 := base64.RawURLEncoding.DecodeString(j.Protected)
	p, err2 := base64.RawURLEncoding.DecodeString(j.Payload)
	sig, err3 := base64.RawURLEncoding.DecodeString(j.Signature)
	if err1 != nil || err2 != nil || err3 != nil || !strings.Contains(string(h), `"alg":"EdDSA"`) {
		t.Fatalf("not a JWS: %s", doc)
	}
	if !ed25519.Verify(pub, []byte(j.Protected+"."+j.Payload), sig) {
		t.Fatal("the signature does not verify")
	}
	return string(p)
}
