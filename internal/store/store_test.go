package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

var ctx = context.Background()

// openAt creates (or opens) and migrates the store at dsn, signed by a
// fresh log key.
func openAt(t *testing.T, dsn string) *store.DB {
	t.Helper()
	return openWith(t, dsn, store.Options{})
}

// openWith is openAt with options.
func openWith(t *testing.T, dsn string, opt store.Options) *store.DB {
	t.Helper()
	db, err := store.Create(ctx, dsn, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	setLogKey(t, db)
	return db
}

// createAt creates (or opens) the store at dsn without a log key.
func createAt(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Create(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenRefusesVolatileTargets(t *testing.T) {
	for _, dsn := range []string{"", ":memory:", "file::memory:?cache=shared", "file:x.db?mode=memory"} {
		if db, err := store.Open(ctx, dsn, store.Options{}); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func TestMigrationsAreIdempotent(t *testing.T) { dbtest.Each(t, testMigrationsAreIdempotent) }

func testMigrationsAreIdempotent(t *testing.T, path string) {
	counts := map[int]bool{}
	for range 3 {
		db, err := store.Create(ctx, path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := dbtest.Raw(t, path).QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n < 2 {
			t.Fatalf("schema_migrations rows = %d, %v", n, err)
		}
		counts[n] = true
	}
	if len(counts) != 1 {
		t.Fatalf("reopening applied migrations again: %v", counts)
	}
	raw := dbtest.Raw(t, path)
	// A database from a newer notrain is refused, not silently used.
	if _, err := raw.Exec("INSERT INTO schema_migrations VALUES (9999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, path, store.Options{}); err == nil {
		t.Fatal("a database with a newer schema was opened")
	}
}

func TestDurabilitySettings(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "notrain.db"))
	raw := dbtest.Raw(t, db.Path())
	var mode string
	if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
}

// Sessions are pinned to synchronous_commit=on even where the connection
// asks for less.
func TestPostgresPinsSynchronousCommit(t *testing.T) {
	dsn := dbtest.Postgres(t)
	db := openAt(t, dsn+"&options=-c%20synchronous_commit%3Doff")
	var v string
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.QueryRowForTest(ctx, "SHOW synchronous_commit").Scan(&v)
	})
	if err != nil || v != "on" {
		t.Fatalf("synchronous_commit in a write = %q, %v", v, err)
	}
}

func appendEntry(ctx context.Context, tx *store.Tx, n int) error {
	_, err := tx.Append(ctx, time.Unix(int64(1_700_000_000+n), 0), "test.entry", map[string]any{"n": n})
	return err
}

// A failing write inside a group commit undoes only itself.
func TestGroupCommitIsolatesFailures(t *testing.T) { dbtest.Each(t, testGroupCommitIsolatesFailures) }

func testGroupCommitIsolatesFailures(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range 200 {
		wg.Go(func() {
			errs[i] = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				if err := appendEntry(ctx, tx, i); err != nil {
					return err
				}
				if i%3 == 0 {
					return fmt.Errorf("op %d fails on purpose", i)
				}
				return nil
			})
		})
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if (i%3 == 0) != (err != nil) {
			t.Fatalf("op %d: err = %v", i, err)
		}
		if err != nil {
			failed++
		}
	}
	head, err := db.VerifyLedger(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(200 - failed); head.Seq != want {
		t.Fatalf("ledger has %d entries, want %d (failed ops must leave no entry)", head.Seq, want)
	}
}

// Writes that return nil are durable when Write returns: a second process
// opening the file sees them.
func TestAcknowledgedWritesAreVisibleToOthers(t *testing.T) {
	dbtest.Each(t, testAcknowledgedWritesAreVisibleToOthers)
}

func testAcknowledgedWritesAreVisibleToOthers(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, i) }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n int
	if err := dbtest.Raw(t, dsn).QueryRow("SELECT COUNT(*) FROM ledger").Scan(&n); err != nil || n != 50 {
		t.Fatalf("another connection sees %d entries, %v", n, err)
	}
}

func TestWriteAfterCloseFails(t *testing.T) { dbtest.Each(t, testWriteAfterCloseFails) }

func testWriteAfterCloseFails(t *testing.T, dsn string) {
	db, err := store.Create(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = db.Write(ctx, func(context.Context, *store.Tx) error { return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

func TestCancelledWriteIsNotApplied(t *testing.T) { dbtest.Each(t, testCancelledWriteIsNotApplied) }

func testCancelledWriteIsNotApplied(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := db.Write(cctx, func(ctx context.Context, tx *store.Tx) error { return appendEntry(ctx, tx, 1) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if h, _ := db.LedgerHead(ctx); h.Seq != 0 {
		t.Fatal("a cancelled write was applied")
	}
}
