package store_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
)

// BenchmarkAppendObjection measures one objection-sized ledger entry
// appended by 64 concurrent writers (group commits, as under a surge) on
// SQLite, with its tree hashes and the per-batch signed checkpoint. It
// reports the store's bytes per entry.
func BenchmarkAppendObjection(b *testing.B) {
	path := filepath.Join(b.TempDir(), "b.db")
	db, err := store.Create(ctx, path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	setLogKey(b, db)
	body := ledger.ObjectionAccepted{Reference: "NT-7K2M-9QXD", Subject: "3f9a1c0e5b7d2468ace013579bdf0246", Accounts: []string{"a1b2c3d4e5f60718293a4b5c6d7e8f90", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		Scope: "all", Channel: "web", ReceivedAt: "2026-12-02T12:00:00Z", EffectiveAt: "2026-12-02T12:00:00Z"}
	before := dirSize(path)
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			for range work {
				if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
					_, err := tx.Append(ctx, time.Now(), ledger.KindObjectionAccepted, body)
					return err
				}); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.StopTimer()
	db.Close()
	b.ReportMetric(float64(dirSize(path)-before)/float64(b.N), "store-bytes/entry")
}

func dirSize(db string) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(db + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}
