package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

func countRows(t *testing.T, dsn, q string, args ...any) int {
	t.Helper()
	var n int
	if err := dbtest.Raw(t, dsn).QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A write whose changed rows fail their check fails its op and commits
// nothing of it, even when it waits for the group's commit on
// PostgreSQL's pipe (the check is read before COMMIT is sent).
func TestFailedCheckCommitsNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := openAt(t, dsn)
		now := time.Now()
		err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.InsertRequest(ctx, store.CodeRequest{ID: "a", Kind: "objection", EmailHash: "h", Lang: "de", Scope: "all",
				CodeSentAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}); err != nil {
				return err
			}
			return tx.CountAttempt(ctx, store.CodeRequest{ID: "missing"}, 5) // changes 0 rows: its check fails
		})
		n := countRows(t, dsn, "SELECT COUNT(*) FROM code_requests WHERE id = 'a'")
		if err == nil || n != 0 {
			t.Fatalf("Write returned %v but its insert was committed", err)
		}
	})
}

// The same in a group of two: only the op whose check failed fails, and
// the other's write is committed once.
func TestFailedCheckInAGroupFailsOnlyItsOp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := openWith(t, dsn, store.Options{Writers: 1})
		now := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() { // holds the one writer while the next two queue up
			db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { time.Sleep(300 * time.Millisecond); return nil })
		})
		time.Sleep(50 * time.Millisecond)
		var err1, err2 error
		wg.Go(func() {
			err1 = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return tx.AddressEvent(ctx, "x", "k", now) })
		})
		time.Sleep(20 * time.Millisecond)
		wg.Go(func() {
			err2 = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				if err := tx.AddressEvent(ctx, "y", "k", now); err != nil {
					return err
				}
				return tx.CountAttempt(ctx, store.CodeRequest{ID: "missing"}, 5)
			})
		})
		wg.Wait()
		x := countRows(t, dsn, "SELECT COUNT(*) FROM address_events WHERE email_hash = 'x'")
		y := countRows(t, dsn, "SELECT COUNT(*) FROM address_events WHERE email_hash = 'y'")
		if err1 != nil || x != 1 || err2 == nil || y != 0 {
			t.Fatalf("op1 err=%v, x events=%d; op2 err=%v, y events=%d; want op1 ok with 1 event, op2 failed with 0", err1, x, err2, y)
		}
	})
}
