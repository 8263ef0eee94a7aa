package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/rfc6962"
	"github.com/notrain/notrain/internal/translog"
)

func logKey(t *testing.T) *translog.Key {
	t.Helper()
	k, _, err := translog.LoadKey(filepath.Join(t.TempDir(), "log.key"), "log.example/notrain", true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signedLog appends n entries in concurrent, randomly sized group commits
// to a store signed by a fresh key and returns it with the entries'
// canonical bytes.
func signedLog(t *testing.T, dsn string, n int) (*store.DB, *translog.Key, [][]byte) {
	t.Helper()
	db := createAt(t, dsn)
	k := logKey(t)
	if err := db.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, i) })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, err := db.LogEntries(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	return db, k, data
}

// Random appends; then every inclusion proof verifies against the signed
// checkpoint and every consistency proof between two sizes verifies, each
// checked by an independent implementation of RFC 6962.
func TestLogProofs(t *testing.T) { dbtest.Each(t, testLogProofs) }

func testLogProofs(t *testing.T, dsn string) {
	const n = 300
	db, k, data := signedLog(t, dsn, n)
	size, msg, err := db.LogCheckpoint(ctx)
	if err != nil || size != n {
		t.Fatalf("checkpoint size %d, %v; want %d", size, err, n)
	}
	cp, err := rfc6962.OpenCheckpoint(msg, k.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([][32]byte, n)
	for i, d := range data {
		leaves[i] = rfc6962.LeafHash(d)
		e, err := ledger.ParseCanonical(d)
		if err != nil || e.Seq != int64(i+1) {
			t.Fatalf("leaf %d is not entry %d: %v", i, i+1, err)
		}
	}
	if cp.Size != n || cp.Root != rfc6962.MTH(leaves) {
		t.Fatal("the signed root is not the RFC 6962 root of the entries")
	}
	for i := range n {
		p, err := db.ProveInclusion(ctx, n, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		root, err := rfc6962.RootFromPath(leaves[i], i, n, hashes(p))
		if err != nil || root != cp.Root {
			t.Fatalf("inclusion proof of leaf %d does not verify: %v", i, err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		m, nn := 1+rng.IntN(n), 1+rng.IntN(n)
		if m > nn {
			m, nn = nn, m
		}
		p, err := db.ProveConsistency(ctx, int64(nn), int64(m))
		if err != nil {
			t.Fatal(err)
		}
		if err := rfc6962.VerifyConsistency(m, nn, rfc6962.MTH(leaves[:m]), rfc6962.MTH(leaves[:nn]), hashes(p)); err != nil {
			t.Fatalf("consistency %d→%d: %v", m, nn, err)
		}
	}
	st, err := db.VerifyLog(ctx, k.Verifier())
	if err != nil || st.Size != n || st.Root != cp.Root {
		t.Fatalf("VerifyLog: %+v, %v", st, err)
	}
}

func hashes(p []tlog.Hash) [][32]byte {
	out := make([][32]byte, len(p))
	for i, h := range p {
		out[i] = h
	}
	return out
}

// A changed entry, a changed or missing tree hash and a changed or
// re-signed checkpoint are each caught.
func TestVerifyLogCatchesTampering(t *testing.T) { dbtest.Each(t, testVerifyLogCatchesTampering) }

func testVerifyLogCatchesTampering(t *testing.T, dsn string) {
	for _, c := range []struct {
		name, sql, want string
	}{
		{"entry body", "UPDATE ledger SET body = '{\"n\":999}' WHERE seq = 17", "stored tree hash"},
		{"tree hash", "UPDATE log_hashes SET hash = (SELECT hash FROM log_hashes WHERE idx = 1) WHERE idx = 40", "stored tree hash 40"},
		{"missing tree hash", "DELETE FROM log_hashes WHERE idx = 7", "missing"},
		{"extra tree hash", "INSERT INTO log_hashes (idx, hash) SELECT 100000, hash FROM log_hashes WHERE idx = 0", "past the ledger"},
		{"checkpoint text", "UPDATE log_head SET checkpoint = REPLACE(checkpoint, '\n60\n', '\n59\n')", "signature"},
		{"cut-off entries", "DELETE FROM ledger WHERE seq > 55", "cut off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := filepath.Join(t.TempDir(), "s.db")
			if dbtest.IsPostgres(dsn) {
				sub = dbtest.Postgres(t)
			}
			db, k, _ := signedLog(t, sub, 60)
			if _, err := db.VerifyLog(ctx, k.Verifier()); err != nil {
				t.Fatalf("untouched log: %v", err)
			}
			if _, err := dbtest.Raw(t, sub).Exec(c.sql); err != nil {
				t.Fatal(err)
			}
			_, err := db.VerifyLog(ctx, k.Verifier())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("after changing the %s: err = %v, want one saying %q", c.name, err, c.want)
			}
		})
	}
	// A checkpoint an auditor kept from before a rewrite catches the
	// rewrite even when the log is re-signed consistently afterwards.
	sub := filepath.Join(t.TempDir(), "r.db")
	if dbtest.IsPostgres(dsn) {
		sub = dbtest.Postgres(t)
	}
	db, k, _ := signedLog(t, sub, 30)
	_, old, _ := db.LogCheckpoint(ctx)
	oldCp, err := translog.OpenCheckpoint(old, k.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.VerifyLog(ctx, k.Verifier(), oldCp)
	if err != nil || st.Size != 30 {
		t.Fatalf("the log does not verify against its own checkpoint: %v", err)
	}
	db.Close()
	raw := dbtest.Raw(t, sub)
	for _, q := range []string{"DELETE FROM ledger WHERE seq > 10", "DELETE FROM log_hashes",
		"UPDATE log_head SET size = 0", "UPDATE ledger_head SET seq = 10, hash = (SELECT hash FROM ledger WHERE seq = 10)"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db = createAt(t, sub)
	if err := db.SetLogKey(ctx, k); err != nil { // rebuilds the tree of 10 and re-signs
		t.Fatal(err)
	}
	for i := range 25 {
		if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, 1000+i) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.VerifyLog(ctx, k.Verifier()); err != nil {
		t.Fatalf("the rewritten log is self-consistent, yet: %v", err)
	}
	if _, err := db.VerifyLog(ctx, k.Verifier(), oldCp); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("the rewrite was not caught by the old checkpoint: %v", err)
	}
}

// A store written before the log existed gets its tree in the first
// transaction that appends, and then verifies.
func TestLogTreeIsBuiltForOlderStores(t *testing.T) { dbtest.Each(t, testLogTreeIsBuiltForOlderStores) }

func testLogTreeIsBuiltForOlderStores(t *testing.T, dsn string) {
	db := chain(t, dsn, 40)
	raw := dbtest.Raw(t, dsn)
	if _, err := raw.Exec("DELETE FROM log_hashes"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE log_head SET size = 0, root = '', checkpoint = '', verifier = ''"); err != nil {
		t.Fatal(err)
	}
	k := logKey(t)
	if _, err := db.VerifyLog(ctx, k.Verifier()); err == nil {
		t.Fatal("a log without a checkpoint verified")
	}
	if err := db.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	st, err := db.VerifyLog(ctx, k.Verifier())
	if err != nil || st.Size != 40 {
		t.Fatalf("after the upgrade: %+v, %v", st, err)
	}
	if err := db.SetLogKey(ctx, logKey(t)); err == nil {
		t.Fatal("a second log key was accepted")
	}
}

func setLogKey(t testing.TB, db *store.DB) {
	t.Helper()
	k, _, err := translog.LoadKey(filepath.Join(t.TempDir(), "log.key"), "log.example/notrain", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
}

// A write that adds to the ledger without the log key is refused: an
// entry no checkpoint covers would have no receipt.
func TestAppendNeedsTheLogKey(t *testing.T) {
	db := createAt(t, filepath.Join(t.TempDir(), "k.db"))
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, 1) })
	if !errors.Is(err, store.ErrNoLogKey) {
		t.Fatalf("append without the log key: %v", err)
	}
	if n, _ := db.EntriesSince(ctx, 0); n != 0 {
		t.Fatalf("%d entries written", n)
	}
}

// Two instances starting at once with different log keys: exactly one
// key is accepted, and every checkpoint is signed by it.
func TestOneLogKeyPerStore(t *testing.T) { dbtest.Each(t, testOneLogKeyPerStore) }

func testOneLogKeyPerStore(t *testing.T, dsn string) {
	for round := range 5 {
		sub := filepath.Join(t.TempDir(), fmt.Sprintf("k%d.db", round))
		if dbtest.IsPostgres(dsn) {
			sub = dbtest.Postgres(t)
		}
		a, b := createAt(t, sub), createAt(t, sub)
		ka, kb := logKey(t), logKey(t)
		errs := make(chan error, 2)
		go func() { errs <- a.SetLogKey(ctx, ka) }()
		go func() { errs <- b.SetLogKey(ctx, kb) }()
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("round %d: both or neither key accepted: %v, %v", round, e1, e2)
		}
		winner, loser, kw := a, b, ka
		if e, _ := b.LogVerifier(ctx); e == kb.VerifierKey() {
			winner, loser, kw = b, a, kb
		}
		for i := range 20 {
			db := winner
			if i%2 == 1 {
				db = loser
			}
			err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, i) })
			if db == winner && err != nil {
				t.Fatal(err)
			}
			if db == loser && err == nil {
				t.Fatalf("round %d: the instance whose key was refused appended", round)
			}
		}
		if _, err := winner.VerifyLog(ctx, kw.Verifier()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// Ops that append and then fail inside a group commit leave no trace in
// the tree: the group runs again without them, while the ops beside them
// keep their entries and hashes.
func TestFailedAppendsLeaveNoTreeHashes(t *testing.T) {
	dbtest.Each(t, testFailedAppendsLeaveNoTreeHashes)
}

func testFailedAppendsLeaveNoTreeHashes(t *testing.T, dsn string) {
	db := createAt(t, dsn)
	k := logKey(t)
	if err := db.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				if err := appendEntry(ctx, tx, i); err != nil {
					return err
				}
				if i%3 == 1 {
					if err := appendEntry(ctx, tx, i+1000); err != nil {
						return err
					}
					return boom
				}
				return nil
			})
		})
	}
	wg.Wait()
	st, err := db.VerifyLog(ctx, k.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != 200 || st.Checkpoint.Size != 200 {
		t.Fatalf("tree of %d, checkpoint of %d; want the 200 entries of the ops that succeeded", st.Size, st.Checkpoint.Size)
	}
}
