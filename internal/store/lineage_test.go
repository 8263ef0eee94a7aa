package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

func register(t *testing.T, db *store.DB, id string, asOf time.Time, rows []store.AccountItems) error {
	t.Helper()
	return db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.RegisterSnapshot(ctx, store.SnapshotRecord{
			ID: id, CreatedAt: asOf.Add(time.Minute).UnixMicro(), AsOf: asOf.UnixMicro(), PolicySHA256: "p",
			Eligibility: ledger.Head{Seq: 0, Hash: ledger.Genesis}, Manifest: "{}", ManifestSHA256: "m",
			Accounts: slices.Values(rows),
		}, map[string]any{"snapshot_id": id})
		return err
	})
}

func TestSnapshotLineage(t *testing.T) { dbtest.Each(t, testSnapshotLineage) }

func testSnapshotLineage(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	// More accounts than one bucket holds, so they spread over several.
	var big []store.AccountItems
	for i := range 9000 {
		big = append(big, store.AccountItems{Product: "facebook", AccountID: fmt.Sprintf("u%05d", i), Items: int64(i%5 + 1)})
	}
	big = append(big, store.AccountItems{Product: "instagram", AccountID: "u0001", Items: 3_000_000_000})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := register(t, db, "snap_a", t0, big); err != nil {
		t.Fatal(err)
	}
	if err := register(t, db, "snap_b", t0.Add(time.Hour), []store.AccountItems{{Product: "facebook", AccountID: "u00002", Items: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := register(t, db, "snap_empty", t0.Add(2*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.SnapshotAccounts(ctx, "snap_a")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, big) {
		t.Fatalf("snap_a lineage: %d rows, want %d (first %v)", len(got), len(big), got[:min(3, len(got))])
	}
	snaps, err := db.SnapshotsForAccounts(ctx, []store.AccountKey{
		{Product: "facebook", AccountID: "u00002"}, {Product: "instagram", AccountID: "u0001"},
		{Product: "facebook", AccountID: "u00002"}, {Product: "threads", AccountID: "nobody"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SnapshotItems{
		{SnapshotID: "snap_a", AsOf: t0, CreatedAt: t0.Add(time.Minute), Items: []store.AccountItems{
			{Product: "facebook", AccountID: "u00002", Items: 3}, {Product: "instagram", AccountID: "u0001", Items: 3_000_000_000}}},
		{SnapshotID: "snap_b", AsOf: t0.Add(time.Hour), CreatedAt: t0.Add(time.Hour + time.Minute), Items: []store.AccountItems{
			{Product: "facebook", AccountID: "u00002", Items: 7}}},
	}
	if fmt.Sprint(snaps) != fmt.Sprint(want) {
		t.Fatalf("SnapshotsForAccounts:\n got %v\nwant %v", snaps, want)
	}
	// Keys out of order (here: descending, so every blob holds one) are
	// found all the same.
	var desc []store.AccountItems
	for i := range 50 {
		desc = append(desc, store.AccountItems{Product: "threads", AccountID: fmt.Sprintf("d%02d", 49-i), Items: int64(i + 1)})
	}
	if err := register(t, db, "snap_desc", t0.Add(3*time.Hour), desc); err != nil {
		t.Fatal(err)
	}
	if got, err := db.SnapshotAccounts(ctx, "snap_desc"); err != nil || len(got) != 50 || got[0] != (store.AccountItems{Product: "threads", AccountID: "d00", Items: 50}) {
		t.Fatalf("snap_desc: %v, %v", got, err)
	}
	if got, err := db.SnapshotsForAccounts(ctx, []store.AccountKey{{Product: "threads", AccountID: "d07"}}); err != nil || len(got) != 1 || got[0].Items[0].Items != 43 {
		t.Fatalf("d07 in snap_desc: %v, %v", got, err)
	}
	if none, err := db.SnapshotsForAccounts(ctx, []store.AccountKey{{Product: "facebook", AccountID: "u99999"}, {Product: "facebook", AccountID: "u00002x"}}); err != nil || len(none) != 0 {
		t.Fatalf("an account no snapshot kept: %v, %v", none, err)
	}
}

// A registration that fails part-way leaves neither the snapshot nor any of
// its lineage rows nor its ledger entry.
func TestSnapshotLineageIsAtomic(t *testing.T) { dbtest.Each(t, testSnapshotLineageIsAtomic) }

func testSnapshotLineageIsAtomic(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	var rows []store.AccountItems
	for i := range 5000 {
		rows = append(rows, store.AccountItems{Product: "facebook", AccountID: fmt.Sprintf("u%05d", i), Items: 1})
	}
	rows = append(rows, rows[len(rows)-1]) // a duplicate key fails after the first blob is written
	if err := register(t, db, "snap_bad", time.Now(), rows); err == nil {
		t.Fatal("a registration with a duplicate lineage row succeeded")
	}
	if _, err := db.RegisteredManifest(ctx, "snap_bad"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the failed snapshot is registered: %v", err)
	}
	var n int
	raw := dbtest.Raw(t, dsn)
	if err := raw.QueryRow("SELECT COUNT(*) FROM snapshot_lineage").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d lineage rows left behind (%v)", n, err)
	}
	if err := raw.QueryRow("SELECT COUNT(*) FROM ledger").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d ledger entries left behind (%v)", n, err)
	}
	// The failure left nothing that gets in the way of the next registration.
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.RegisterSnapshot(ctx, store.SnapshotRecord{ID: "snap_ok", CreatedAt: 1, AsOf: 1, PolicySHA256: "p",
			Eligibility: ledger.Head{Hash: ledger.Genesis}, Manifest: "{}", ManifestSHA256: "m", Accounts: slices.Values(rows[:10])}, map[string]any{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.SnapshotAccounts(ctx, "snap_ok"); err != nil || len(got) != 10 {
		t.Fatalf("snap_ok: %d rows, %v", len(got), err)
	}
}

// Snapshots registered before the lineage moved into buckets keep their
// rows in snapshot_accounts; both are read, side by side.
func TestSnapshotLineageReadsOldRows(t *testing.T) { dbtest.Each(t, testSnapshotLineageReadsOldRows) }

func testSnapshotLineageReadsOldRows(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := register(t, db, "snap_old", t0, nil); err != nil {
		t.Fatal(err)
	}
	raw := dbtest.Raw(t, dsn)
	if _, err := raw.Exec(`INSERT INTO snapshot_accounts (snapshot_id, product, account_id, items) VALUES
		('snap_old', 'facebook', 'u2', 4), ('snap_old', 'facebook', 'u1', 2)`); err != nil {
		t.Fatal(err)
	}
	if err := register(t, db, "snap_new", t0.Add(time.Hour), []store.AccountItems{{Product: "facebook", AccountID: "u1", Items: 5}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.SnapshotAccounts(ctx, "snap_old")
	if want := []store.AccountItems{{Product: "facebook", AccountID: "u1", Items: 2}, {Product: "facebook", AccountID: "u2", Items: 4}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("old rows: %v, %v; want %v", got, err, want)
	}
	snaps, err := db.SnapshotsForAccounts(ctx, []store.AccountKey{{Product: "facebook", AccountID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 || snaps[0].SnapshotID != "snap_old" || snaps[0].Items[0].Items != 2 || snaps[1].SnapshotID != "snap_new" || snaps[1].Items[0].Items != 5 {
		t.Fatalf("SnapshotsForAccounts: %v", snaps)
	}
}

// A product with a zero byte is refused: the stored key could not be split
// into product and account id again.
func TestSnapshotLineageRefusesZeroByteProduct(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := openAt(t, dsn)
		rows := []store.AccountItems{{Product: "facebook\x00x", AccountID: "1", Items: 2}}
		if err := register(t, db, "snap_nul", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rows); err == nil {
			t.Fatal("a product with a zero byte was stored")
		}
	})
}
