package store

import (
	"context"
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

// sqliteLineageRows is how many rows one SQLite insert carries: 4 values
// each, far below the driver's limit on bound values, and large enough that
// parsing and stepping the statement is paid once per hundreds of rows.
const sqliteLineageRows = 256

// storeLineage writes what a snapshot kept of each account, in the
// registration's transaction: PostgreSQL's COPY, SQLite's prepared
// multi-row insert. A million accounts are one statement stream, not a
// million round trips.
func (tx *Tx) storeLineage(ctx context.Context, snapshotID string, rows iter.Seq[AccountItems]) error {
	if rows == nil {
		return nil
	}
	if tx.db.dialect == Postgres {
		return tx.copyLineage(ctx, snapshotID, rows)
	}
	batch := make([]any, 0, 4*sqliteLineageRows)
	full := lineageInsert(sqliteLineageRows)
	flush := func(q string) error {
		if _, err := tx.exec(ctx, q, batch...); err != nil {
			return fmt.Errorf("store: snapshot lineage: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	for r := range rows {
		batch = append(batch, snapshotID, r.Product, r.AccountID, r.Items)
		if len(batch) == cap(batch) {
			if err := flush(full); err != nil {
				return err
			}
		}
	}
	// The rest goes one row per statement, so only two statements are
	// ever prepared.
	rest := batch
	batch = nil
	one := lineageInsert(1)
	for i := 0; i < len(rest); i += 4 {
		batch = rest[i : i+4]
		if err := flush(one); err != nil {
			return err
		}
	}
	return nil
}

func lineageInsert(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO snapshot_accounts (snapshot_id, product, account_id, items) VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", 4*i+1, 4*i+2, 4*i+3, 4*i+4)
	}
	return b.String()
}

// copyLineage streams the rows through COPY on the transaction's own
// connection, so they commit or roll back with the registration.
func (tx *Tx) copyLineage(ctx context.Context, snapshotID string, rows iter.Seq[AccountItems]) error {
	next, stop := iter.Pull(rows)
	defer stop()
	src := pgx.CopyFromFunc(func() ([]any, error) {
		r, ok := next()
		if !ok {
			return nil, nil
		}
		return []any{snapshotID, r.Product, r.AccountID, r.Items}, nil
	})
	// The writes before it go first, so COPY runs inside the transaction.
	err := tx.pipe.flush(ctx)
	if err == nil {
		tx.writes++
		_, err = tx.pipe.conn.CopyFrom(ctx, pgx.Identifier{"snapshot_accounts"}, []string{"snapshot_id", "product", "account_id", "items"}, src)
	}
	if err != nil {
		tx.pipe.broken = err
		return fmt.Errorf("store: snapshot lineage: %w", err)
	}
	return nil
}

// SnapshotAccounts returns what the snapshot kept of each account, ordered
// by product and account id.
func (db *DB) SnapshotAccounts(ctx context.Context, snapshotID string) ([]AccountItems, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT product, account_id, items FROM snapshot_accounts
		WHERE snapshot_id = $1 ORDER BY product, account_id`, snapshotID)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	defer rows.Close()
	var out []AccountItems
	for rows.Next() {
		var a AccountItems
		if err := rows.Scan(&a.Product, &a.AccountID, &a.Items); err != nil {
			return nil, fmt.Errorf("store: snapshot lineage: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: snapshot lineage: %w", err)
	}
	return out, nil
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
	seen := map[AccountKey]bool{}
	for _, k := range accounts {
		if seen[k] {
			continue
		}
		seen[k] = true
		rows, err := tx.QueryContext(ctx, `SELECT s.id, s.as_of, s.created_at, sa.items
			FROM snapshot_accounts sa JOIN snapshots s ON s.id = sa.snapshot_id
			WHERE sa.product = $1 AND sa.account_id = $2`, k.Product, k.AccountID)
		if err != nil {
			return nil, fmt.Errorf("store: snapshots of accounts: %w", err)
		}
		for rows.Next() {
			var id string
			var asOf, created, n int64
			if err := rows.Scan(&id, &asOf, &created, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: snapshots of accounts: %w", err)
			}
			s := byID[id]
			if s == nil {
				s = &SnapshotItems{SnapshotID: id, AsOf: fromMicros(asOf), CreatedAt: fromMicros(created)}
				byID[id] = s
			}
			s.Items = append(s.Items, AccountItems{Product: k.Product, AccountID: k.AccountID, Items: n})
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: snapshots of accounts: %w", err)
		}
	}
	out := make([]SnapshotItems, 0, len(byID))
	for _, s := range byID {
		sort.Slice(s.Items, func(i, j int) bool {
			a, b := s.Items[i], s.Items[j]
			return a.Product < b.Product || a.Product == b.Product && a.AccountID < b.AccountID
		})
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.AsOf.Before(b.AsOf) || a.AsOf.Equal(b.AsOf) && a.SnapshotID < b.SnapshotID
	})
	return out, nil
}
