package filter

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/notrain/notrain/internal/digest"
)

func temp(t *testing.T, path, body string) *Temp {
	t.Helper()
	tf, err := CreateTemp(path, digest.Default)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Close(); err != nil {
		t.Fatal(err)
	}
	return tf
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// A failed install of any output takes back the ones already in place and
// restores what they replaced.
func TestInstallIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	out, lineage, manifest := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "lin"), filepath.Join(dir, "m.json")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(lineage, 0o755); err != nil {
		t.Fatal(err)
	}
	before := names(t, dir)
	if _, err := Install(temp(t, out, "new\n"), temp(t, manifest, "{}"), temp(t, lineage, "x")); err == nil {
		t.Fatal("Install onto a directory succeeded")
	}
	if got := names(t, dir); !slices.Equal(got, before) {
		t.Fatalf("after a failed install: %v, before %v", got, before)
	}
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Fatalf("out holds %q", b)
	}
	// Undo after a successful install restores the old file too.
	in, err := Install(temp(t, out, "new\n"), temp(t, manifest, "{}"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "new\n" {
		t.Fatalf("out holds %q", b)
	}
	if err := in.Undo(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); !slices.Equal(got, before) {
		t.Fatalf("after Undo: %v, before %v", got, before)
	}
	if b, _ := os.ReadFile(out); string(b) != "old\n" {
		t.Fatalf("out holds %q after Undo", b)
	}
	in, err = Install(temp(t, out, "new\n"))
	if err != nil {
		t.Fatal(err)
	}
	in.Done()
	if got := names(t, dir); !slices.Equal(got, before) {
		t.Fatalf("after Done: %v", got)
	}
	// Two outputs under one name are refused.
	if _, err := Install(temp(t, manifest, "a"), temp(t, filepath.Join(dir, ".", "m.json"), "b")); err == nil {
		t.Fatal("two outputs with one name installed")
	}
}
