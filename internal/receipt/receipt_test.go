package receipt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/rfc6962"
	"github.com/notrain/notrain/internal/translog"
)

func signedStore(t *testing.T, n int) (*store.DB, *translog.Key) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Create(ctx, filepath.Join(t.TempDir(), "r.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, _, err := translog.LoadKey(filepath.Join(t.TempDir(), "log.key"), "r.example/notrain", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Append(ctx, time.Unix(1_700_000_000+int64(i), 0), ledger.KindObjectionAccepted, ledger.ObjectionAccepted{Reference: "NT-TEST-" + string(rune('A'+i%26)), Accounts: []string{}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	return db, k
}

// Every entry's receipt verifies, with our code and with an independent
// reading of the spec; one flipped byte anywhere in it is refused.
func TestReceipts(t *testing.T) {
	ctx := context.Background()
	const n = 37
	db, k := signedStore(t, n)
	for seq := int64(1); seq <= n; seq++ {
		b, err := receipt.Make(ctx, db, seq)
		if err != nil {
			t.Fatal(err)
		}
		got, err := receipt.Verify(b, k.Verifier())
		if err != nil {
			t.Fatalf("receipt of entry %d: %v\n%s", seq, err, b)
		}
		if got.Entry.Seq != seq || got.Entry.Kind != ledger.KindObjectionAccepted || !strings.Contains(string(got.Entry.Body), `"reference":"NT-TEST-`) {
			t.Fatalf("receipt of %d shows %+v", seq, got.Entry)
		}
		independent(t, b, k.VerifierKey())
		if seq%9 != 1 {
			continue
		}
		for i := range b {
			bad := bytes.Clone(b)
			bad[i] ^= 0x20
			if _, err := receipt.Verify(bad, k.Verifier()); err == nil {
				t.Fatalf("receipt of %d with byte %d (%q) flipped still verifies", seq, i, b[i])
			}
		}
	}
	other, _, _ := translog.LoadKey(filepath.Join(t.TempDir(), "o.key"), "r.example/notrain", true)
	b, _ := receipt.Make(ctx, db, 3)
	if _, err := receipt.Verify(b, other.Verifier()); err == nil {
		t.Fatal("a receipt verified under another key")
	}
	if _, err := receipt.Make(ctx, db, n+1); err == nil {
		t.Fatal("a receipt for an entry not in the log was made")
	}
}

// independent checks a receipt the way the README tells a person to: with
// SHA-256 and Ed25519 only.
func independent(t *testing.T, b []byte, vkey string) {
	t.Helper()
	head, note, _ := bytes.Cut(b, []byte("\n\n"))
	cp, err := rfc6962.OpenCheckpoint(note, vkey)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(head), "\n")
	extra := decode(t, strings.TrimPrefix(lines[1], "extra "))
	var index int
	for _, c := range strings.TrimPrefix(lines[2], "index ") {
		index = index*10 + int(c-'0')
	}
	var path [][32]byte
	for _, l := range lines[3:] {
		path = append(path, [32]byte(decode(t, l)))
	}
	root, err := rfc6962.RootFromPath(rfc6962.LeafHash(extra), index, cp.Size, path)
	if err != nil || root != cp.Root {
		t.Fatalf("independent check of leaf %d: %v", index, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra AAAA\nindex 0\n\no\n1\nAAAA\n\n— o x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := receipt.Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Format(), b) {
			t.Fatalf("%q parsed but formats as %q", b, r.Format())
		}
	})
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
