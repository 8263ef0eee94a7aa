package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// AccountItems is how many items of one account a snapshot kept.
type AccountItems struct {
	Product   string
	AccountID string
	Items     int64
}

// SnapshotItems is one snapshot that holds items of the accounts asked
// about, with how many of each.
type SnapshotItems struct {
	SnapshotID string
	AsOf       time.Time
	CreatedAt  time.Time
	Items      []AccountItems // ordered by product, account id
}

// lineageBucketAccounts is about how many accounts one lineage blob holds:
// finding one account reads and scans one blob of about this many entries
// (some 100 KB), and a million accounts are a few hundred inserts.
const lineageBucketAccounts = 4096

// lineageBuckets is how many blobs a snapshot of n accounts is spread over.
func lineageBuckets(n int) int64 {
	return int64(max(1, (n+lineageBucketAccounts-1)/lineageBucketAccounts))
}

// lineageHash places an account in a bucket: FNV-1a over product, a zero
// byte and account id, kept non-negative so that both databases compute
// hash % buckets alike.
func lineageHash(product, accountID string) int64 {
	h := fnv.New64a()
	h.Write([]byte(product))
	h.Write([]byte{0})
	h.Write([]byte(accountID))
	return int64(h.Sum64() >> 1)
}

// appendLineageEntry encodes one entry of a blob: product, account id (each
// length-prefixed) and the number of items, as unsigned varints.
func appendLineageEntry(b []byte, a AccountItems) []byte {
	b = binary.AppendUvarint(b, uint64(len(a.Product)))
	b = append(b, a.Product...)
	b = binary.AppendUvarint(b, uint64(len(a.AccountID)))
	b = append(b, a.AccountID...)
	return binary.AppendUvarint(b, uint64(a.Items))
}

// lineageEntries decodes a blob.
func lineageEntries(b []byte) iter.Seq2[AccountItems, error] {
	return func(yield func(AccountItems, error) bool) {
		str := func() (string, bool) {
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return "", false
			}
			s := string(b[k : k+int(n)])
			b = b[k+int(n):]
			return s, true
		}
		for len(b) > 0 {
			var a AccountItems
			var ok bool
			if a.Product, ok = str(); ok {
				a.AccountID, ok = str()
			}
			if ok {
				n, k := binary.Uvarint(b)
				if ok = k > 0 && n <= math.MaxInt64; ok {
					a.Items, b = int64(n), b[k:]
				}
			}
			if !ok {
				yield(AccountItems{}, errors.New("store: snapshot lineage: damaged entry"))
				return
			}
			if !yield(a, nil) {
				return
			}
		}
	}
}

// storeLineage writes what a snapshot kept of each account, in the
// registration's transaction, as blobs of entries hashed into buckets.
// The rows are counted first (they come from the filter's result and can
// be read twice), so the number of buckets is known before any is filled;
// each bucket is one insert. A key given twice is refused.
func (tx *Tx) storeLineage(ctx context.Context, snapshotID string, rows iter.Seq[AccountItems]) error {
	if rows == nil {
		return nil
	}
	n := 0
	for range rows {
		n++
	}
	if n == 0 {
		return nil
	}
	buckets := lineageBuckets(n)
	blobs := make([][]byte, buckets)
	counts := make([]int64, buckets)
	for a := range rows {
		i := lineageHash(a.Product, a.AccountID) % buckets
		blobs[i] = appendLineageEntry(blobs[i], a)
		counts[i]++
	}
	for _, b := range blobs {
		if err := checkUnique(b); err != nil {
			return err
		}
	}
	if _, err := tx.exec(ctx, `UPDATE snapshots SET lineage_buckets = $2 WHERE id = $1`, snapshotID, buckets); err != nil {
		return fmt.Errorf("store: snapshot lineage: %w", err)
	}
	for i, b := range blobs {
		if b == nil {
			continue
		}
		if _, err := tx.exec(ctx, `INSERT INTO snapshot_lineage (snapshot_id, bucket, accounts, data) VALUES ($1, $2, $3, $4)`,
			snapshotID, int64(i), counts[i], b); err != nil {
			return fmt.Errorf("store: snapshot lineage: %w", err)
		}
	}
	return nil
}

// checkUnique refuses a blob that holds an account twice: a key given
// twice always lands in the same bucket.
func checkUnique(b []byte) error {
	var keys []string
	for e, err := range lineageEntries(b) {
		if err != nil {
			return err
		}
		keys = append(keys, e.Product+"\x00"+e.AccountID)
	}
	slices.Sort(keys)
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			p, id, _ := strings.Cut(keys[i], "\x00")
			return fmt.Errorf("store: snapshot lineage: account %s:%s given twice", p, id)
		}
	}
	return nil
}

// SnapshotAccounts returns what the snapshot kept of each account, ordered
// by product and account id.
func (db *DB) SnapshotAccounts(ctx context.Context, snapshotID string) ([]AccountItems, error) {
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	defer tx.Rollback()
	var out []AccountItems
	// Rows of a snapshot registered before version 18.
	rows, err := tx.QueryContext(ctx, `SELECT product, account_id, items FROM snapshot_accounts WHERE snapshot_id = $1`, snapshotID)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	for rows.Next() {
		var a AccountItems
		if err := rows.Scan(&a.Product, &a.AccountID, &a.Items); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: snapshot lineage: %w", err)
		}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	blobs, err := tx.QueryContext(ctx, `SELECT data FROM snapshot_lineage WHERE snapshot_id = $1`, snapshotID)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	defer blobs.Close()
	for blobs.Next() {
		var b []byte
		if err := blobs.Scan(&b); err != nil {
			return nil, fmt.Errorf("store: snapshot lineage: %w", err)
		}
		for a, err := range lineageEntries(b) {
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	if err := blobs.Err(); err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	slices.SortFunc(out, compareAccountItems)
	return out, nil
}

func compareAccountItems(a, b AccountItems) int {
	if c := strings.Compare(a.Product, b.Product); c != 0 {
		return c
	}
	return strings.Compare(a.AccountID, b.AccountID)
}

// SnapshotsForAccounts returns every registered snapshot that kept items
// of any of the accounts, oldest as-of first (ties by id), each with the
// items per account; accounts it kept nothing of are not listed. All of it
// is read at one moment, so a registration committing meanwhile is either
// wholly in the answer or not at all.
func (db *DB) SnapshotsForAccounts(ctx context.Context, accounts []AccountKey) ([]SnapshotItems, error) {
	if len(accounts) == 0 {
		return nil, nil
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: snapshots of accounts: %w", err)
	}
	defer tx.Rollback()
	byID := map[string]*SnapshotItems{}
	add := func(id string, asOf, created int64, a AccountItems) {
		s := byID[id]
		if s == nil {
			s = &SnapshotItems{SnapshotID: id, AsOf: fromMicros(asOf), CreatedAt: fromMicros(created)}
			byID[id] = s
		}
		s.Items = append(s.Items, a)
	}
	seen := map[AccountKey]bool{}
	for _, k := range accounts {
		if seen[k] {
			continue
		}
		seen[k] = true
		if err := accountSnapshots(ctx, tx, k, add); err != nil {
			return nil, fmt.Errorf("store: snapshots of accounts: %w", err)
		}
	}
	out := make([]SnapshotItems, 0, len(byID))
	for _, s := range byID {
		slices.SortFunc(s.Items, compareAccountItems)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.AsOf.Before(b.AsOf) || a.AsOf.Equal(b.AsOf) && a.SnapshotID < b.SnapshotID
	})
	return out, nil
}

// accountSnapshots finds one account in every snapshot: in the rows of
// snapshots registered before version 18, and in the one bucket of each
// later snapshot its key hashes to.
func accountSnapshots(ctx context.Context, tx *sql.Tx, k AccountKey, add func(id string, asOf, created int64, a AccountItems)) error {
	rows, err := tx.QueryContext(ctx, `SELECT s.id, s.as_of, s.created_at, sa.items
		FROM snapshot_accounts sa JOIN snapshots s ON s.id = sa.snapshot_id
		WHERE sa.product = $1 AND sa.account_id = $2`, k.Product, k.AccountID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var asOf, created, n int64
		if err := rows.Scan(&id, &asOf, &created, &n); err != nil {
			rows.Close()
			return err
		}
		add(id, asOf, created, AccountItems{Product: k.Product, AccountID: k.AccountID, Items: n})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	blobs, err := tx.QueryContext(ctx, `SELECT s.id, s.as_of, s.created_at, l.data
		FROM snapshots s JOIN snapshot_lineage l ON l.snapshot_id = s.id AND l.bucket = $1 % s.lineage_buckets
		WHERE s.lineage_buckets > 0`, lineageHash(k.Product, k.AccountID))
	if err != nil {
		return err
	}
	defer blobs.Close()
	for blobs.Next() {
		var id string
		var asOf, created int64
		var b []byte
		if err := blobs.Scan(&id, &asOf, &created, &b); err != nil {
			return err
		}
		for a, err := range lineageEntries(b) {
			if err != nil {
				return err
			}
			if a.Product == k.Product && a.AccountID == k.AccountID {
				add(id, asOf, created, a)
				break
			}
		}
	}
	return blobs.Err()
}
