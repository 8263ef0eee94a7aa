package secret

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadCreatesPrivateKeyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notrain.key")
	k1, created, err := Load("", path, true)
	if err != nil || !created || len(k1) != KeySize {
		t.Fatalf("first Load = %d bytes, created=%v, err=%v", len(k1), created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := Load("", path, true)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second Load: created=%v err=%v same=%v", created, err, bytes.Equal(k1, k2))
	}
}

func TestLoadRefusesReadableKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notrain.key")
	if err := os.WriteFile(path, bytes.Repeat([]byte("ab"), 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load("", path, true); err == nil {
		t.Fatal("Load accepted a world-readable key file")
	}
}

func TestLoadRejectsShortOrBadKeys(t *testing.T) {
	for _, k := range []string{"abcd", "zz" + string(bytes.Repeat([]byte("00"), 40))} {
		if _, _, err := Load(k, "", false); err == nil {
			t.Errorf("Load(%q) accepted a bad key", k)
		}
	}
}

func TestHashesArePurposeBound(t *testing.T) {
	k, err := New(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	if k.EmailHash("a@b.de") == k.Pseudonym("email", "a@b.de") {
		t.Fatal("e-mail hash and ledger pseudonym coincide")
	}
	if k.CodeHash("ab", "c") == k.CodeHash("a", "bc") {
		t.Fatal("code hash is ambiguous in its parts")
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if k.EmailHash("a@b.de") == other.EmailHash("a@b.de") {
		t.Fatal("hash does not depend on the key")
	}
}

func TestLoadWithoutCreateRefusesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	if _, _, err := Load("", path, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("Load without create wrote a key file")
	}
}

func TestCheckDependsOnTheKey(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, KeySize))
	a2, _ := New(bytes.Repeat([]byte{1}, KeySize))
	b, _ := New(bytes.Repeat([]byte{2}, KeySize))
	if a.Check() != a2.Check() || a.Check() == b.Check() || len(a.Check()) != 64 {
		t.Fatalf("checks %s %s %s", a.Check(), a2.Check(), b.Check())
	}
}
