package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A snapshot filtered far from the store (as the Beam pipeline does, from
// an exported eligibility file) is registered afterwards and its manifest
// signed; once eligibility has changed, an older one is refused.
func TestSnapshotRegister(t *testing.T) {
	dir, db := filterEnv(t)
	snap := filepath.Join(dir, "snap.bin")
	if code, _, stderr := run(t, dir, nil, "snapshot", "export", "--out", snap, "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	far := func() string {
		far := t.TempDir()
		writeFile(t, filepath.Join(far, "content.jsonl"), content)
		args := []string{"filter", "--in", filepath.Join(far, "content.jsonl"), "--out", filepath.Join(far, "out.jsonl"),
			"--manifest", filepath.Join(far, "manifest.json"), "--snapshot", snap}
		if code, _, stderr := run(t, far, nil, args...); code != 0 {
			t.Fatal(stderr)
		}
		return far
	}
	a, b := far(), far()
	man := filepath.Join(a, "manifest.json")
	code, out, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", man, "--db", db)
	if code != 0 || !strings.Contains(out, "registered as ledger entry") {
		t.Fatalf("register: exit %d\n%s%s", code, out, stderr)
	}
	if st, err := os.Stat(man + ".sig"); err != nil || st.Size() == 0 {
		t.Fatalf("no signature: %v", err)
	}
	if code, _, stderr := run(t, dir, nil, "ledger", "verify", "--db", db); code != 0 {
		t.Fatalf("ledger verify after register: %s", stderr)
	}
	if code, _, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", man, "--db", db); code == 0 || !strings.Contains(stderr, "registered already") {
		t.Fatalf("second registration: exit %d %s", code, stderr)
	}

	// The data moved elsewhere: --data finds it by name, and a changed
	// output is refused.
	moved := t.TempDir()
	for _, name := range []string{"out.jsonl", "out.lineage.jsonl"} {
		body, _ := os.ReadFile(filepath.Join(b, name))
		if name == "out.jsonl" {
			body = append(body, "{}\n"...)
		}
		writeFile(t, filepath.Join(moved, name), string(body))
	}
	if code, _, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", filepath.Join(b, "manifest.json"), "--data", moved, "--db", db); code == 0 || !strings.Contains(stderr, "sha256") {
		t.Fatalf("changed output: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(b, "manifest.json.sig")); err == nil {
		t.Fatal("a refused registration left a signature")
	}

	obj := objectionsFile(t, dir, `{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00Z","channel":"email"}`+"\n")
	run(t, dir, nil, "objections", "import", obj, "--db", db)
	if code, _, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", filepath.Join(b, "manifest.json"), "--db", db); code == 0 || !strings.Contains(stderr, "changed eligibility") {
		t.Fatalf("stale snapshot: exit %d %s", code, stderr)
	}
}
