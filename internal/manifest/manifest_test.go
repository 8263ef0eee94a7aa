package manifest_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/manifest"
	"github.com/notrain/notrain/internal/translog"
)

func key(t *testing.T, name string) *translog.Key {
	t.Helper()
	k, _, err := translog.LoadKey(filepath.Join(t.TempDir(), name), "m.example/notrain", true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// write puts a manifest and its signature by k into dir.
func write(t *testing.T, dir string, k *translog.Key, body string) string {
	t.Helper()
	p := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sig, err := manifest.Sign(k, sha256.Sum256([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".sig", sig, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifyOffline(t *testing.T) {
	k := key(t, "k")
	dir := t.TempDir()
	data := "a\nb\n"
	os.WriteFile(filepath.Join(dir, "out.jsonl"), []byte(data), 0o644)
	sum := sha256.Sum256([]byte(data))
	body := `{"snapshot_id":"snap_1","ledger_head":{"seq":0},"checkpoint":{"origin":"m.example/notrain","size":0,"root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},` +
		`"inputs":[],"outputs":[{"path":"/elsewhere/out.jsonl","bytes":4,"sha256":"` + hexOf(sum) + `"}]}`
	p := write(t, dir, k, body)
	r, err := manifest.Verify(context.Background(), manifest.Options{Manifest: p, Verifier: k.Verifier(), Data: dir})
	if err != nil || r.SnapshotID != "snap_1" || r.Files != 1 {
		t.Fatalf("%+v, %v", r, err)
	}
	for _, c := range []struct{ name, body, want string }{
		{"checkpoint of another log", strings.Replace(body, `"origin":"m.example/notrain"`, `"origin":"x.example/notrain"`, 1), "of the log"},
		{"size not the ledger head", strings.Replace(body, `"seq":0`, `"seq":3`, 1), "ledger head"},
		{"no checkpoint", strings.Replace(body, `"checkpoint"`, `"checkpoint_"`, 1), "names no checkpoint"},
		{"output changed", strings.Replace(body, `"bytes":4`, `"bytes":5`, 1), "differs from the manifest"},
	} {
		p := write(t, t.TempDir(), k, c.body)
		os.WriteFile(filepath.Join(filepath.Dir(p), "out.jsonl"), []byte(data), 0o644)
		o := manifest.Options{Manifest: p, Verifier: k.Verifier(), Data: filepath.Dir(p)}
		if _, err := manifest.Verify(context.Background(), o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	// Signed by another key, or the manifest changed after signing.
	if _, err := manifest.Verify(context.Background(), manifest.Options{Manifest: p, Verifier: key(t, "other").Verifier()}); err == nil {
		t.Error("a signature by another key was accepted")
	}
	os.WriteFile(p, []byte(strings.Replace(body, "snap_1", "snap_2", 1)), 0o644)
	if _, err := manifest.Verify(context.Background(), manifest.Options{Manifest: p, Verifier: k.Verifier()}); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("a changed manifest: %v", err)
	}
}

func hexOf(b [32]byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
