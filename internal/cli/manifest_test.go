package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/testutil/rfc6962"
	"github.com/notrain/notrain/internal/translog"
)

// A filter run writes a signed manifest that names its checkpoint;
// manifest verify accepts it with the data and refuses a changed output, a
// changed manifest, a signature under another key.
func TestManifestVerify(t *testing.T) {
	dir, db := filterEnv(t)
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatal(stderr)
	}
	mf := filepath.Join(dir, "manifest.json")
	m, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m), `"checkpoint": {`) || !strings.Contains(string(m), `"origin": "localhost/notrain"`) {
		t.Fatalf("the manifest names no checkpoint:\n%s", m)
	}
	sig, err := os.ReadFile(mf + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := translog.LoadKey(db+".log.key", "", false)
	if err != nil {
		t.Fatal(err)
	}
	text, err := rfc6962.OpenNote(sig, k.VerifierKey())
	if err != nil || !strings.HasPrefix(text, "notrain/manifest/v1\n") {
		t.Fatalf("independent check of the signature: %q, %v", text, err)
	}
	code, out, stderr := run(t, dir, nil, "manifest", "verify", mf, "--db", db, "--data", dir)
	if code != 0 || !strings.Contains(out, "signed by localhost/notrain") || !strings.Contains(out, "files match") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	// The log grows; the manifest's checkpoint is still in it.
	writeFile(t, filepath.Join(dir, "more.jsonl"), `{"product":"facebook","account_id":"u77","email":"new@example.de","birthdate":"1990-01-01"}`+"\n")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", filepath.Join(dir, "more.jsonl"), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	if code, out, stderr := run(t, dir, nil, "manifest", "verify", mf, "--db", db, "--key", k.VerifierKey()); code != 0 {
		t.Fatalf("after the log grew: exit %d\n%s%s", code, out, stderr)
	}
	// The same check against the published log, as an auditor without the
	// store does: the key is given, the checkpoint and tiles are fetched.
	base := server(t, nil, "--db", db)
	code, out, stderr = run(t, dir, nil, "manifest", "verify", mf, "--log", base, "--key", k.VerifierKey(), "--data", dir)
	if code != 0 || !strings.Contains(out, "in the log: consistent with its checkpoint") {
		t.Fatalf("--log: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, _ := run(t, dir, nil, "manifest", "verify", mf, "--log", base); code != 0 || !strings.Contains(out, "fetched from the operator") {
		t.Fatalf("--log without --key: exit %d\n%s", code, out)
	}
	refused := func(what string, want string) {
		t.Helper()
		code, out, stderr := run(t, dir, nil, "manifest", "verify", mf, "--db", db, "--data", dir)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Fatalf("%s: exit %d, want an error saying %q\n%s%s", what, code, want, out, stderr)
		}
	}
	out1 := filepath.Join(dir, "out.jsonl")
	orig, _ := os.ReadFile(out1)
	writeFile(t, out1, strings.Replace(string(orig), "c", "C", 1))
	refused("a changed output", "differs from the manifest")
	writeFile(t, out1, string(orig))
	writeFile(t, mf, string(bytes.Replace(m, []byte(`"registered": true`), []byte(`"registered": false`), 1)))
	refused("a changed manifest", "the manifest was changed")
	writeFile(t, mf, string(m))
	other, _, _ := translog.LoadKey(filepath.Join(dir, "other.key"), "localhost/notrain", true)
	forged, _ := other.Sign(strings.SplitN(text, "\n", 2)[0] + "\n" + strings.SplitN(text, "\n", 2)[1])
	writeFile(t, mf+".sig", string(forged))
	refused("a signature by another key", "not signed by the log key")
	writeFile(t, mf+".sig", string(sig))
	if code, _, stderr := run(t, dir, nil, "manifest", "verify", mf, "--db", db, "--data", dir); code != 0 {
		t.Fatalf("restored: %s", stderr)
	}
	// A filter run with a log key that is not the store's is refused and
	// leaves no output.
	os.Rename(db+".log.key", db+".log.key.real")
	os.Rename(filepath.Join(dir, "other.key"), db+".log.key")
	os.Remove(out1)
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code == 0 || !strings.Contains(stderr, "not the one this store's log is signed with") {
		t.Fatalf("another log key: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(out1); err == nil {
		t.Fatal("a refused run left its output")
	}
}
