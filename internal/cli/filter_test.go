package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/translog"
)

const content = `{"id":"c1","product":"facebook","author_id":"u1","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z","text":"anna"}
{"id":"c2","product":"instagram","author_id":"ig1","kind":"photo","visibility":"public","created_at":"2025-04-02T10:00:00Z"}
{"id":"c3","product":"facebook","author_id":"u2","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z","mentions":["u1"]}
{"id":"c4","product":"facebook","author_id":"u2","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z"}
{"id":"c5","product":"facebook","author_id":"u3","kind":"comment","visibility":"public","created_at":"2025-04-02T10:00:00Z"}
{"id":"c6","product":"facebook","author_id":"u2","kind":"message","visibility":"private","created_at":"2025-04-02T10:00:00Z"}
not json
`

// filterEnv is a directory with a store holding the fixture accounts.
func filterEnv(t *testing.T) (dir, db string) {
	t.Helper()
	dir = t.TempDir()
	db = filepath.Join(dir, "n.db")
	writeFile(t, filepath.Join(dir, "content.jsonl"), content)
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	return dir, db
}

func filterArgs(dir, db string, extra ...string) []string {
	return append([]string{"filter", "--in", filepath.Join(dir, "content.jsonl"), "--out", filepath.Join(dir, "out.jsonl"),
		"--manifest", filepath.Join(dir, "manifest.json"), "--db", db, "--progress", "never"}, extra...)
}

func kept(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ ID string }
		json.Unmarshal([]byte(l), &r)
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, " ")
}

func objectionsFile(t *testing.T, dir, lines string) string {
	return writeFile(t, filepath.Join(dir, "objections.jsonl"), lines)
}

func TestFilterHonoursImportedObjections(t *testing.T) {
	dir, db := filterEnv(t)
	if code, out, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if got := kept(t, dir); got != "c1 c2 c3 c4 c5" {
		t.Fatalf("before any objection kept %q", got)
	}
	// anna objects by letter, with another spelling of her address. The
	// import refreshes the eligibility cache; put the stale one from the
	// first run back: the filter must notice and not be fooled by it.
	stale, err := os.ReadFile(db + ".eligibility")
	if err != nil {
		t.Fatal(err)
	}
	obj := objectionsFile(t, dir, `{"email":" ANNA@Example.DE","scope":"all","received_at":"2025-05-20T08:00:00Z","effective_at":"2025-05-20T08:00:00Z","channel":"letter","note":"ticket 4711"}`+"\n")
	if code, _, stderr := run(t, dir, nil, "objections", "import", obj, "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	if fresh, _ := os.ReadFile(db + ".eligibility"); string(fresh) == string(stale) {
		t.Fatal("the import did not refresh the eligibility cache")
	}
	os.WriteFile(db+".eligibility", stale, 0o600)
	code, out, stderr := run(t, dir, nil, filterArgs(dir, db)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// c1 (her Facebook), c2 (her linked Instagram) out as objection; c3 mentions her.
	if got := kept(t, dir); got != "c4 c5" {
		t.Fatalf("kept %q, want c4 c5", got)
	}
	if !strings.Contains(out, "objection") || !strings.Contains(out, "third_party") {
		t.Fatalf("summary: %s", out)
	}
	var m struct {
		SnapshotID   string              `json:"snapshot_id"`
		PolicySHA256 string              `json:"policy_sha256"`
		LedgerHead   struct{ Seq int64 } `json:"ledger_head"`
		Inputs       []struct {
			Path, SHA256 string
			Bytes        int64
		}
		Outputs []struct {
			Path, SHA256 string
			Bytes        int64
		}
		Counts struct {
			Read, Eligible int64
			Excluded       map[string]int64
		}
		Eligibility struct {
			Origin struct{ Source string }
		}
		Registered bool
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	outBytes, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if m.Counts.Read != 7 || m.Counts.Eligible != 2 || m.Counts.Excluded["objection"] != 2 || m.Counts.Excluded["third_party"] != 1 ||
		m.Counts.Excluded["malformed"] != 1 || m.Counts.Excluded["minor"] != 0 || !m.Registered || len(m.PolicySHA256) != 64 {
		t.Fatalf("manifest: %s", b)
	}
	if m.Outputs[0].SHA256 != hexSHA(outBytes) || m.Inputs[0].SHA256 != hexSHA([]byte(content)) || m.Eligibility.Origin.Source != "store" {
		t.Fatalf("manifest hashes or origin wrong: %s", b)
	}
	// The snapshot is registered in the ledger, which still verifies.
	code, out, _ = run(t, dir, nil, "ledger", "verify", "--db", db)
	if code != 0 {
		t.Fatal(out)
	}
	var n int
	rawDB(t, db).QueryRow("SELECT COUNT(*) FROM ledger WHERE kind = 'snapshot.registered' AND body LIKE '%" + m.SnapshotID + "%'").Scan(&n)
	if n != 1 {
		t.Fatal("snapshot not in the ledger")
	}
	// A third run reuses the cache (only a snapshot registration followed it).
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatal(stderr)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "manifest.json"))
	if !strings.Contains(string(b), `"source": "cache"`) || kept(t, dir) != "c4 c5" {
		t.Fatalf("cache not used or decisions changed: %s", b)
	}
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestObjectionsImportIsAllOrNothing(t *testing.T) {
	dir, db := filterEnv(t)
	good := `{"email":"anna@example.de","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`
	for name, bad := range map[string]string{
		"both":        `{"email":"a@b.de","product":"facebook","account_id":"u1","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
		"neither":     `{"effective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
		"future":      `{"email":"a@b.de","effective_at":"2999-05-20T08:00:00Z","channel":"email"}`,
		"bad time":    `{"email":"a@b.de","effective_at":"20.5.2025","channel":"email"}`,
		"order":       `{"email":"a@b.de","received_at":"2025-05-21T08:00:00Z","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
		"channel":     `{"email":"a@b.de","effective_at":"2025-05-20T08:00:00Z","channel":"Brief!"}`,
		"scope":       `{"email":"a@b.de","scope":["myspace"],"effective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
		"unknown key": `{"email":"a@b.de","efective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
		"bad e-mail":  `{"email":"anna","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
		"product":     `{"product":"myspace","account_id":"u1","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`,
	} {
		obj := objectionsFile(t, dir, good+"\n"+bad+"\n")
		code, _, stderr := run(t, dir, nil, "objections", "import", obj, "--db", db)
		if code == 0 || !strings.Contains(stderr, "line 2") || !strings.Contains(stderr, "nothing was imported") {
			t.Errorf("%s: exit %d, %s", name, code, stderr)
		}
	}
	if n := count(t, db, "objections"); n != 0 {
		t.Fatalf("%d objections imported from bad files", n)
	}
	// By account, including one the directory lacks.
	obj := objectionsFile(t, dir, `{"product":"facebook","account_id":"u2","scope":["facebook"],"effective_at":"2025-05-20T08:00:00Z","channel":"support"}
{"product":"facebook","account_id":"nobody-yet","effective_at":"2025-05-20T08:00:00Z","channel":"support"}
`)
	if code, out, stderr := run(t, dir, nil, "objections", "import", obj, "--db", db); code != 0 || !strings.Contains(out, "imported 2 objections") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatal(stderr)
	}
	if got := kept(t, dir); got != "c1 c2 c5" {
		t.Fatalf("kept %q", got)
	}
}

// Fail closed: whatever stops the filter from proving its work, it exits
// non-zero and leaves neither output nor manifest.
func TestFilterFailsClosed(t *testing.T) {
	nothingLeft := func(t *testing.T, dir string) {
		t.Helper()
		for _, name := range []string{"out.jsonl", "manifest.json", "out.lineage.jsonl"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("%s exists", name)
			}
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temporary file %s left", e.Name())
			}
		}
	}
	t.Run("broken ledger", func(t *testing.T) {
		dir, db := filterEnv(t)
		rawDB(t, db).Exec(`UPDATE ledger SET body = replace(body, '"records":6', '"records":5') WHERE seq = 1`)
		code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...)
		if code == 0 || !strings.Contains(stderr, "ledger BROKEN at entry 1") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		nothingLeft(t, dir)
	})
	t.Run("cut-off ledger behind the cache", func(t *testing.T) {
		dir, db := filterEnv(t)
		if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
			t.Fatal(stderr)
		}
		os.Remove(filepath.Join(dir, "out.jsonl"))
		os.Remove(filepath.Join(dir, "manifest.json"))
		os.Remove(filepath.Join(dir, "out.lineage.jsonl"))
		raw := rawDB(t, db)
		raw.Exec(`DELETE FROM ledger WHERE seq = 2`)
		raw.Exec(`UPDATE ledger_head SET seq = 1, hash = (SELECT hash FROM ledger WHERE seq = 1)`)
		code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...)
		if code == 0 || !strings.Contains(stderr, "BROKEN") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		nothingLeft(t, dir)
	})
	t.Run("invalid policy", func(t *testing.T) {
		dir, db := filterEnv(t)
		pol := writeFile(t, filepath.Join(dir, "p.yaml"), "rules:\n  - {name: bad, expr: 'size(txt) > 1'}\n")
		code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--policy", pol)...)
		if code == 0 || !strings.Contains(stderr, `rule "bad"`) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		nothingLeft(t, dir)
	})
	t.Run("unreachable store", func(t *testing.T) {
		dir, _ := filterEnv(t)
		code, _, stderr := run(t, dir, nil, filterArgs(dir, filepath.Join(dir, "no", "such", "dir", "n.db"))...)
		if code == 0 || stderr == "" {
			t.Fatalf("exit %d", code)
		}
		nothingLeft(t, dir)
	})
	t.Run("as-of in the future", func(t *testing.T) {
		dir, db := filterEnv(t)
		code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--as-of", "2999-01-01T00:00:00Z")...)
		if code == 0 || !strings.Contains(stderr, "future") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		nothingLeft(t, dir)
	})
	t.Run("as-of with an offset of 24 hours", func(t *testing.T) {
		dir, db := filterEnv(t)
		code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--as-of", "2025-05-20T07:59:59+24:00")...)
		if code != 2 || !strings.Contains(stderr, "not an RFC 3339 time") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		nothingLeft(t, dir)
	})
	t.Run("damaged snapshot file", func(t *testing.T) {
		dir, db := filterEnv(t)
		snap := filepath.Join(dir, "snap.bin")
		if code, _, stderr := run(t, dir, nil, "snapshot", "export", "--out", snap, "--db", db); code != 0 {
			t.Fatal(stderr)
		}
		b, _ := os.ReadFile(snap)
		b[len(b)/2] ^= 1
		os.WriteFile(snap, b, 0o644)
		args := []string{"filter", "--in", filepath.Join(dir, "content.jsonl"), "--out", filepath.Join(dir, "out.jsonl"), "--manifest", filepath.Join(dir, "manifest.json"), "--snapshot", snap}
		if code, _, stderr := run(t, dir, nil, args...); code == 0 || !strings.Contains(stderr, "snapshot") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		nothingLeft(t, dir)
	})
	t.Run("damaged eligibility cache is rebuilt, not trusted", func(t *testing.T) {
		dir, db := filterEnv(t)
		if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
			t.Fatal(stderr)
		}
		os.WriteFile(db+".eligibility", []byte("garbage"), 0o644)
		if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
			t.Fatal(stderr)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if !strings.Contains(string(b), `"source": "store"`) {
			t.Fatalf("manifest: %s", b)
		}
	})
	t.Run("cache from another database is rebuilt", func(t *testing.T) {
		dir, db := filterEnv(t)
		other, otherDB := filterEnv(t)
		run(t, other, nil, "objections", "import", objectionsFile(t, other, `{"email":"carl@example.net","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`+"\n"), "--db", otherDB)
		if code, _, stderr := run(t, other, nil, filterArgs(other, otherDB)...); code != 0 {
			t.Fatal(stderr)
		}
		b, _ := os.ReadFile(otherDB + ".eligibility")
		os.WriteFile(db+".eligibility", b, 0o644)
		if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := kept(t, dir); got != "c1 c2 c3 c4 c5" {
			t.Fatalf("kept %q: the other database's objection leaked in", got)
		}
	})
	t.Run("input is output", func(t *testing.T) {
		dir, db := filterEnv(t)
		args := []string{"filter", "--in", filepath.Join(dir, "content.jsonl"), "--out", filepath.Join(dir, "content.jsonl"), "--manifest", filepath.Join(dir, "manifest.json"), "--db", db}
		if code, _, _ := run(t, dir, nil, args...); code != 2 {
			t.Fatalf("exit %d", code)
		}
	})
}

// An exported snapshot lets a job far from the database decide exactly
// as the store would.
func TestSnapshotExportGivesTheSameDecisions(t *testing.T) {
	dir, db := filterEnv(t)
	obj := objectionsFile(t, dir, `{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`+"\n")
	run(t, dir, nil, "objections", "import", obj, "--db", db)
	asOf := "2026-01-01T00:00:00Z"
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--as-of", asOf)...); code != 0 {
		t.Fatal(stderr)
	}
	fromStore := kept(t, dir)
	snap := filepath.Join(dir, "snap.bin")
	code, out, stderr := run(t, dir, nil, "snapshot", "export", "--out", snap, "--db", db)
	if code != 0 || !strings.Contains(out, "6 accounts, 1 objections") {
		t.Fatalf("export: %d %s %s", code, out, stderr)
	}
	far := t.TempDir()
	writeFile(t, filepath.Join(far, "content.jsonl"), content)
	args := []string{"filter", "--in", filepath.Join(far, "content.jsonl"), "--out", filepath.Join(far, "out.jsonl"),
		"--manifest", filepath.Join(far, "manifest.json"), "--snapshot", snap, "--as-of", asOf}
	if code, _, stderr := run(t, far, nil, args...); code != 0 {
		t.Fatal(stderr)
	}
	if got := kept(t, far); got != fromStore || got != "c1 c2 c5" {
		t.Fatalf("from the file %q, from the store %q", got, fromStore)
	}
	b, _ := os.ReadFile(filepath.Join(far, "manifest.json"))
	if !strings.Contains(string(b), `"source": "file"`) || !strings.Contains(string(b), `"registered": false`) {
		t.Fatalf("manifest: %s", b)
	}
}

func TestPolicyCheck(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := run(t, dir, nil, "policy", "check")
	if code != 0 || !strings.Contains(out, "# sha256: ") || !strings.Contains(out, "minimum_age: 18") {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := writeFile(t, filepath.Join(dir, "p.yaml"), "kinds: [post, message]\n")
	if code, _, stderr := run(t, dir, nil, "policy", "check", bad); code == 0 || !strings.Contains(stderr, "never training data") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// A registered snapshot can be re-created for verification after the
// store has moved on: --reproduce takes its as-of and policy, matches its
// output byte for byte, and registers nothing. A new snapshot as of that
// moment is refused.
func TestReproduceARegisteredSnapshot(t *testing.T) {
	dir, db := filterEnv(t)
	now := time.Now().UTC()
	asOf := now.Add(-48 * time.Hour).Format(time.RFC3339)
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--as-of", asOf)...); code != 0 {
		t.Fatal(stderr)
	}
	registered := filepath.Join(t.TempDir(), "registered.json")
	if err := os.Rename(filepath.Join(dir, "manifest.json"), registered); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	// anna objects after that snapshot was built.
	obj := objectionsFile(t, dir, `{"email":"anna@example.de","effective_at":"`+now.Add(-24*time.Hour).Format(time.RFC3339)+`","channel":"letter"}`+"\n")
	if code, _, stderr := run(t, dir, nil, "objections", "import", obj, "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--as-of", asOf)...); code != 2 || !strings.Contains(stderr, "--reproduce") {
		t.Fatalf("a new snapshot before the objection: exit %d, %s", code, stderr)
	}
	entries := count(t, db, "ledger")
	code, out, stderr := run(t, dir, nil, filterArgs(dir, db, "--reproduce", registered)...)
	if code != 0 || !strings.Contains(out, "matches its manifest") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "out.jsonl")); !bytes.Equal(again, first) {
		t.Fatal("the reproduced output differs")
	}
	if n := count(t, db, "ledger"); n != entries {
		t.Fatalf("reproducing appended %d ledger entries", n-entries)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if !strings.Contains(string(b), `"registered": false`) || !strings.Contains(string(b), `"reproduces": "snap_`) {
		t.Fatalf("manifest: %s", b)
	}
	// Now the objection is honoured by every new snapshot.
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatal(stderr)
	}
	if got := kept(t, dir); got != "c4 c5" {
		t.Fatalf("kept %q", got)
	}
}

// --allow-empty-directory lets a run use a store without accounts and
// says so in the manifest.
func TestAllowEmptyDirectoryIsRecorded(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	writeFile(t, filepath.Join(dir, "content.jsonl"), content)
	s, err := store.Create(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// What serve --init would have made next to the store.
	if _, _, err := translog.LoadKey(db+".log.key", "localhost/notrain", true); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code == 0 || !strings.Contains(stderr, "--allow-empty-directory") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--allow-empty-directory")...); code != 0 {
		t.Fatal(stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if !strings.Contains(string(b), `"allow_empty_directory": true`) {
		t.Fatalf("manifest: %s", b)
	}
}
