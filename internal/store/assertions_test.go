package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// The used-assertion table on both stores: an id is used once, a refused
// transaction does not use it, and expired ids are forgotten.
func TestAssertionIDs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Create(ctx, dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		use := func(jti string, exp time.Time) error {
			return db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return tx.UseAssertion(ctx, jti, exp) })
		}
		if err := use("a", now.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := use("a", now.Add(5*time.Minute)); !errors.Is(err, store.ErrAssertionUsed) {
			t.Fatalf("second use: %v", err)
		}
		// A transaction that fails after using an id leaves it unused.
		boom := errors.New("boom")
		err = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.UseAssertion(ctx, "b", now.Add(time.Minute)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		for jti, want := range map[string]bool{"a": true, "b": false} {
			if used, err := db.AssertionUsed(ctx, jti); err != nil || used != want {
				t.Fatalf("%s used=%v (%v), want %v", jti, used, err, want)
			}
		}
		var inTx bool
		if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			inTx, err = tx.AssertionUsed(ctx, "a")
			return err
		}); err != nil || !inTx {
			t.Fatalf("in a transaction: %v %v", inTx, err)
		}
		// Forgotten once expired (with the other short-lived rows).
		if err := use("c", now.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			return tx.Forget(ctx, now.Add(24*time.Hour), now)
		}); err != nil {
			t.Fatal(err)
		}
		for jti, want := range map[string]bool{"a": false, "c": true} {
			if used, err := db.AssertionUsed(ctx, jti); err != nil || used != want {
				t.Fatalf("after forgetting: %s used=%v (%v), want %v", jti, used, err, want)
			}
		}
	})
}
