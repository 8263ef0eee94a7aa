package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// A write the database refuses fails only the op that made it, even when
// it reaches the server only with a later op's statement (PostgreSQL's
// pipe sends writes with the next read).
func TestRefusedWriteFailsOnlyItsOp(t *testing.T) { dbtest.Each(t, testRefusedWriteFailsOnlyItsOp) }

func testRefusedWriteFailsOnlyItsOp(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	now := time.Now()
	req := func(id string) store.CodeRequest {
		return store.CodeRequest{ID: id, Kind: "objection", EmailHash: "h", Lang: "de", Scope: "all",
			CodeSentAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
	}
	if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRequest(ctx, req("taken")) }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 120)
	for i := range errs {
		wg.Go(func() {
			errs[i] = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				id := fmt.Sprintf("r%d", i)
				if i%7 == 3 {
					id = "taken" // a duplicate key: the server refuses it
				}
				if err := tx.InsertRequest(ctx, req(id)); err != nil {
					return err
				}
				// A read after the write, so that on the pipe the refused
				// insert goes out with this op's own read or a later op's.
				_, err := tx.Request(ctx, id)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%7 == 3) != (err != nil) {
			t.Fatalf("op %d: err = %v", i, err)
		}
	}
	var n int
	if err := dbtest.Raw(t, dsn).QueryRow("SELECT COUNT(*) FROM code_requests").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(errs) - (len(errs)+3)/7; n != want {
		t.Fatalf("%d code requests stored, want %d", n, want)
	}
}

// A limit counted from an address's events holds across the writers of
// several instances on one database: the count and the event it allows
// are one step.
func TestAddressLimitHoldsAcrossInstances(t *testing.T) {
	dbtest.Each(t, testAddressLimitHoldsAcrossInstances)
}

func testAddressLimitHoldsAcrossInstances(t *testing.T, dsn string) {
	a := openAt(t, dsn)
	b, err := store.Open(ctx, dsn, store.Options{Writers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	const limit = 5
	refused := errors.New("limit reached")
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			errs[i] = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				now := time.Now()
				seen, err := tx.AddressEvents(ctx, "box", "code_request", now.Add(-time.Hour))
				if err != nil {
					return err
				}
				if len(seen) >= limit {
					return refused
				}
				// A slow group: the other instance's groups run meanwhile.
				time.Sleep(2 * time.Millisecond)
				return tx.AddressEvent(ctx, "box", "code_request", now)
			})
		})
	}
	wg.Wait()
	allowed := 0
	for i, err := range errs {
		switch {
		case err == nil:
			allowed++
		case !errors.Is(err, refused):
			t.Fatalf("op %d: %v", i, err)
		}
	}
	var n int
	if err := dbtest.Raw(t, dsn).QueryRow("SELECT COUNT(*) FROM address_events WHERE email_hash = 'box'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if allowed != limit || n != limit {
		t.Fatalf("%d ops allowed, %d events stored; the limit is %d", allowed, n, limit)
	}
}

// LookUpAddress answers a code request's questions about its address in
// one read, and the transaction keeps answering them as it writes events.
func TestLookUpAddress(t *testing.T) { dbtest.Each(t, testLookUpAddress) }

func testLookUpAddress(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	now := time.Now()
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.UpsertAccounts(ctx, []store.Account{{Product: "p", AccountID: "a", EmailHash: "known-hash"}}, now); err != nil {
			return err
		}
		if err := tx.AddressEvent(ctx, "box", "code_request", now.Add(-2*time.Hour)); err != nil {
			return err
		}
		if err := tx.AddressEvent(ctx, "box", "code_request", now.Add(-48*time.Hour)); err != nil {
			return err
		}
		return tx.AddressEvent(ctx, "box", "no_account_notice", now.Add(-time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		hash  string
		known bool
	}{{"known-hash", true}, {"other-hash", false}} {
		err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.LookUpAddress(ctx, "box", c.hash, now.Add(-24*time.Hour)); err != nil {
				return err
			}
			known, err := tx.HasAccountWithEmail(ctx, c.hash)
			if err != nil || known != c.known {
				return fmt.Errorf("known = %v, %v; want %v", known, err, c.known)
			}
			if err := tx.AddressEvent(ctx, "box", "code_request", now); err != nil {
				return err
			}
			reqs, err := tx.AddressEvents(ctx, "box", "code_request", now.Add(-24*time.Hour))
			if err != nil {
				return err
			}
			notices, err := tx.AddressEvents(ctx, "box", "no_account_notice", now.Add(-24*time.Hour))
			if err != nil {
				return err
			}
			// The 48-hour-old request is outside the window; this op's own
			// request is inside it.
			if len(reqs) != 2 || !reqs[1].Equal(time.UnixMicro(now.UnixMicro())) || len(notices) != 1 {
				return fmt.Errorf("requests %v, notices %v", reqs, notices)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatalf("%s: %v", c.hash, err)
		}
	}
}

// Receipts made from each instance's recent log verify, for entries it
// appended itself (answered from memory) and for entries another instance
// appended (its own checkpoint does not cover them: the store's is read).
func TestRecentLogReceiptsAcrossInstances(t *testing.T) {
	dbtest.Each(t, testRecentLogReceiptsAcrossInstances)
}

func testRecentLogReceiptsAcrossInstances(t *testing.T, dsn string) {
	a := createAt(t, dsn)
	k := logKey(t)
	if err := a.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.SetLogKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	appendOn := func(db *store.DB, n int) int64 {
		var seq int64
		if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			e, err := tx.Append(ctx, time.Unix(int64(1_700_000_000+n), 0), "test.entry", map[string]any{"n": n})
			seq = e.Seq
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return seq
	}
	s1 := appendOn(a, 1)
	s2 := appendOn(b, 2) // beyond a's own latest checkpoint
	for _, c := range []struct {
		db  *store.DB
		seq int64
	}{{a, s1}, {a, s2}, {b, s1}, {b, s2}} {
		rc, err := receipt.Make(ctx, c.db.RecentLog(), c.seq)
		if err != nil {
			t.Fatalf("receipt of %d: %v", c.seq, err)
		}
		v, err := receipt.Verify(rc, k.Verifier())
		if err != nil {
			t.Fatalf("receipt of %d does not verify: %v", c.seq, err)
		}
		if v.Entry.Seq != c.seq || v.Checkpoint.Size < c.seq {
			t.Fatalf("receipt of %d: entry %d, checkpoint of %d", c.seq, v.Entry.Seq, v.Checkpoint.Size)
		}
	}
}
