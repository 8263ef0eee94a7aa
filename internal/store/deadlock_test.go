package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// Two writers whose ops lock the same address and client in opposite
// orders deadlock; PostgreSQL fails one of them after deadlock_timeout,
// and that op runs again rather than failing (the flows themselves take
// the client first, then the address).
func TestDeadlockedWriteRunsAgain(t *testing.T) {
	dsn := dbtest.Postgres(t)
	db := openWith(t, dsn, store.Options{Writers: 2})
	now := time.Now()
	var wg sync.WaitGroup
	var errStart, errResend error
	wg.Go(func() {
		errStart = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.LookUpAddress(ctx, "box", "h", now.Add(-time.Hour)); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond) // stands for the round trips of other ops
			_, _, err := tx.ClientEvent(ctx, "client", now.Add(-time.Minute), now, 10)
			return err
		})
	})
	wg.Go(func() {
		errResend = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			if _, _, err := tx.ClientEvent(ctx, "client", now.Add(-time.Minute), now, 10); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
			_, err := tx.AddressEvents(ctx, "box", "code_request", now.Add(-time.Hour))
			return err
		})
	})
	wg.Wait()
	if errStart != nil || errResend != nil {
		t.Fatalf("a write failed on a deadlock between two writers: %v; %v", errStart, errResend)
	}
}
