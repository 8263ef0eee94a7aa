package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/translog"
)

// An auditor keeps a checkpoint one day and proves the next that the log
// only grew; a log rewritten and re-signed in between is caught, though
// it is consistent in itself.
func TestLedgerVerifySince(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	accts := writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts)
	importN := func(n int) {
		for range n {
			if code, _, stderr := run(t, dir, nil, "accounts", "import", accts, "--db", db); code != 0 {
				t.Fatal(stderr)
			}
		}
	}
	importN(3)
	k, _, err := translog.LoadKey(db+".log.key", "", false)
	if err != nil {
		t.Fatalf("no log key next to the master key: %v", err)
	}
	var note string
	if err := rawDB(t, db).QueryRow("SELECT checkpoint FROM log_head").Scan(&note); err != nil {
		t.Fatal(err)
	}
	old := writeFile(t, filepath.Join(dir, "yesterday.checkpoint"), note)
	importN(2)
	code, out, stderr := run(t, dir, nil, "ledger", "verify", "--db", db, "--no-update", "--since", old, "--key", k.VerifierKey())
	if code != 0 || !strings.Contains(out, "log intact: 5 leaves") || !strings.Contains(out, "only grew since the checkpoint of 3 leaves") {
		t.Fatalf("grown log: exit %d\n%s%s", code, out, stderr)
	}
	keyFile := writeFile(t, filepath.Join(dir, "log.pub"), k.VerifierKey()+"\n")
	if code, _, stderr := run(t, dir, nil, "ledger", "verify", "--db", db, "--no-update", "--since", old, "--key", keyFile); code != 0 {
		t.Fatalf("--key as a file: %s", stderr)
	}
	// Rewrite from entry 2 on: drop it all and import again, so the chain,
	// the tree and the checkpoint are consistent again, but another history.
	raw := rawDB(t, db)
	for _, q := range []string{"DELETE FROM ledger WHERE seq > 1", "DELETE FROM log_hashes",
		"UPDATE log_head SET size = 0", "UPDATE ledger_head SET seq = 1, hash = (SELECT hash FROM ledger WHERE seq = 1)"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(db + ".ledger-checkpoint")
	other := writeFile(t, filepath.Join(dir, "b.jsonl"), strings.Replace(fixture.Accounts, "anna.ig", "anna.other", 1))
	for range 4 {
		if code, _, stderr := run(t, dir, nil, "accounts", "import", other, "--db", db); code != 0 {
			t.Fatal(stderr)
		}
	}
	if code, out, stderr := run(t, dir, nil, "ledger", "verify", "--db", db, "--no-update", "--key", k.VerifierKey()); code != 0 {
		t.Fatalf("the rewritten log should be consistent in itself: %s%s", out, stderr)
	}
	code, out, stderr = run(t, dir, nil, "ledger", "verify", "--db", db, "--no-update", "--since", old, "--key", k.VerifierKey())
	if code == 0 || !strings.Contains(stderr, "log BROKEN") || !strings.Contains(stderr, "rewritten") {
		t.Fatalf("rewritten log: exit %d\n%s%s", code, out, stderr)
	}
	// A checkpoint signed by another key is refused, not trusted.
	other2, _, _ := translog.LoadKey(filepath.Join(dir, "other.key"), "localhost/notrain", true)
	forged, _ := other2.Sign("localhost/notrain\n3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	code, _, stderr = run(t, dir, nil, "ledger", "verify", "--db", db, "--no-update", "--since", writeFile(t, filepath.Join(dir, "forged"), string(forged)), "--key", k.VerifierKey())
	if code == 0 || !strings.Contains(stderr, "no signature by the log key") {
		t.Fatalf("forged checkpoint: exit %d %s", code, stderr)
	}
}
