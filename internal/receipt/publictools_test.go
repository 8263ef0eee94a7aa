package receipt_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/receipt"
)

// The README's standard-library recipe (docs/verify-receipt) accepts a
// real receipt and refuses it with any of many single bytes flipped.
func TestPublicToolsRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	ctx := context.Background()
	db, k := signedStore(t, 300)
	dir := t.TempDir()
	bin := filepath.Join(dir, "verify-receipt")
	if out, err := exec.Command("go", "build", "-o", bin, "../../docs/verify-receipt").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "log.pub")
	os.WriteFile(keyFile, []byte(k.VerifierKey()+"\n"), 0o644)
	run := func(b []byte, key string) (string, error) {
		f := filepath.Join(dir, "r.tlog-proof")
		os.WriteFile(f, b, 0o644)
		out, err := exec.Command(bin, f, key).CombinedOutput()
		return string(out), err
	}
	for _, seq := range []int64{1, 130, 257, 300} {
		b, err := receipt.Make(ctx, db, seq)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{k.VerifierKey(), keyFile} {
			if out, err := run(b, key); err != nil || !strings.Contains(out, "OK: entry") || !strings.Contains(out, "NT-TEST-") {
				t.Fatalf("entry %d: %v\n%s", seq, err, out)
			}
		}
		if seq != 130 {
			continue
		}
		for i := 0; i < len(b); i += 3 {
			bad := bytes.Clone(b)
			bad[i] ^= 0x01
			if out, err := run(bad, keyFile); err == nil {
				t.Fatalf("byte %d (%q) flipped is accepted:\n%s", i, b[i], out)
			}
		}
	}
}
