package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
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

// lineageBlobAccounts is how many accounts one lineage blob holds at most:
// finding one account reads and scans one blob (some 100 KB) per snapshot
// whose key range holds it, and a million accounts are a few hundred
// inserts, written as they come, so registering needs one blob of memory.
const lineageBlobAccounts = 4096

// lineageKey orders accounts as (product, account id) does: a product holds
// no zero byte.
func lineageKey(dst []byte, product, accountID string) []byte {
	dst = append(dst, product...)
	dst = append(dst, 0)
	return append(dst, accountID...)
}

// appendLineageEntry encodes one entry of a blob, whose keys ascend: how
// many leading bytes its key shares with the previous entry's key (prev;
// none for the first), the rest of the key (length-prefixed) and the number
// of items, as unsigned varints. Ids in order share most of their bytes, so
// an entry is about four bytes: the writer's page cache holds a snapshot's
// lineage while it commits, and a million accounts are about 4 MB.
func appendLineageEntry(b, prev, key []byte, items int64) []byte {
	shared := 0
	for shared < min(len(prev), len(key)) && prev[shared] == key[shared] {
		shared++
	}
	b = binary.AppendUvarint(b, uint64(shared))
	b = binary.AppendUvarint(b, uint64(len(key)-shared))
	b = append(b, key[shared:]...)
	return binary.AppendUvarint(b, uint64(items))
}

// decodeBlob gives each entry of a blob to fn and fails unless it holds
// exactly the number of accounts stored beside it: a blob cut at an entry's
// end would otherwise read as a shorter list.
func decodeBlob(b []byte, accounts int64, fn func(AccountItems)) error {
	var n int64
	for a, err := range lineageEntries(b) {
		if err != nil {
			return err
		}
		fn(a)
		n++
	}
	if n != accounts {
		return fmt.Errorf("store: snapshot lineage: a blob holds %d accounts, %d were stored", n, accounts)
	}
	return nil
}

// lineageEntries decodes a blob.
func lineageEntries(b []byte) iter.Seq2[AccountItems, error] {
	return func(yield func(AccountItems, error) bool) {
		damaged := func() { yield(AccountItems{}, errors.New("store: snapshot lineage: damaged entry")) }
		var key []byte
		for len(b) > 0 {
			shared, k1 := binary.Uvarint(b)
			if k1 <= 0 || shared > uint64(len(key)) {
				damaged()
				return
			}
			rest, k2 := binary.Uvarint(b[k1:])
			if k2 <= 0 || rest > uint64(len(b)-k1-k2) {
				damaged()
				return
			}
			b = b[k1+k2:]
			key = append(key[:shared], b[:rest]...)
			b = b[rest:]
			items, k3 := binary.Uvarint(b)
			if k3 <= 0 || items > math.MaxInt64 {
				damaged()
				return
			}
			b = b[k3:]
			product, id, ok := bytes.Cut(key, []byte{0})
			if !ok {
				damaged()
				return
			}
			if !yield(AccountItems{Product: string(product), AccountID: string(id), Items: int64(items)}, nil) {
				return
			}
		}
	}
}

// storeLineage writes what a snapshot kept of each account, in the
// registration's transaction, as blobs of entries in ascending key order:
// a blob ends when it is full or when the next key is lower than the last
// (the filter gives the directory's accounts in order, then the accounts
// only objections name, in order: two runs). Callers give each account
// once (the filter's snapshot holds each key once; registering a sidecar
// checks it): the same key twice in a row is refused here, apart it is not
// seen. A product holding a zero byte is refused: the key could not be
// split again.
func (tx *Tx) storeLineage(ctx context.Context, snapshotID string, rows iter.Seq[AccountItems]) error {
	if rows == nil {
		return nil
	}
	var blob, first, last, key []byte
	var n, seq int64
	flush := func() error {
		if n == 0 {
			return nil
		}
		if _, err := tx.exec(ctx, `INSERT INTO snapshot_lineage (snapshot_id, seq, first_key, last_key, accounts, data) VALUES ($1, $2, $3, $4, $5, $6)`,
			snapshotID, seq, first, last, n, blob); err != nil {
			return fmt.Errorf("store: snapshot lineage: %w", err)
		}
		seq++
		blob, first, n = blob[:0], first[:0], 0
		return nil
	}
	for a := range rows {
		if strings.IndexByte(a.Product, 0) >= 0 {
			return fmt.Errorf("store: snapshot lineage: product %q holds a zero byte", a.Product)
		}
		key = lineageKey(key[:0], a.Product, a.AccountID)
		if n > 0 {
			switch c := bytes.Compare(key, last); {
			case c == 0:
				return fmt.Errorf("store: snapshot lineage: account %s:%s given twice", a.Product, a.AccountID)
			case c < 0 || n == lineageBlobAccounts:
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if n == 0 {
			first = append(first[:0], key...)
			last = last[:0]
		}
		blob = appendLineageEntry(blob, last, key, a.Items)
		last = append(last[:0], key...)
		n++
	}
	return flush()
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
	blobs, err := tx.QueryContext(ctx, `SELECT accounts, data FROM snapshot_lineage WHERE snapshot_id = $1`, snapshotID)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	defer blobs.Close()
	for blobs.Next() {
		var n int64
		var b []byte
		if err := blobs.Scan(&n, &b); err != nil {
			return nil, fmt.Errorf("store: snapshot lineage: %w", err)
		}
		if err := decodeBlob(b, n, func(a AccountItems) { out = append(out, a) }); err != nil {
			return nil, err
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
// snapshots registered before version 18, and in the blobs of later ones
// whose key range holds its key.
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
	key := lineageKey(nil, k.Product, k.AccountID)
	blobs, err := tx.QueryContext(ctx, `SELECT s.id, s.as_of, s.created_at, l.accounts, l.data
		FROM snapshot_lineage l JOIN snapshots s ON s.id = l.snapshot_id
		WHERE l.first_key <= $1 AND l.last_key >= $1`, key)
	if err != nil {
		return err
	}
	defer blobs.Close()
	for blobs.Next() {
		var id string
		var asOf, created, n int64
		var b []byte
		if err := blobs.Scan(&id, &asOf, &created, &n, &b); err != nil {
			return err
		}
		err := decodeBlob(b, n, func(a AccountItems) {
			if a.Product == k.Product && a.AccountID == k.AccountID {
				add(id, asOf, created, a)
			}
		})
		if err != nil {
			return err
		}
	}
	return blobs.Err()
}
