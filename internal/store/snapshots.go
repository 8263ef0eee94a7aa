package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/ledger"
)

// EligibilityChangedAt is the store's eligibility head time: the latest
// moment, not after now, at which an objection took effect or was
// withdrawn, a consent was given or withdrawn, or an item was excluded.
// A new snapshot may not be built as of an earlier moment: an objection in
// force now keeps content out of every dataset built from now on. Zero when
// nothing ever changed eligibility.
func (db *DB) EligibilityChangedAt(ctx context.Context, now time.Time) (time.Time, error) {
	n := now.UnixMicro()
	var at int64
	err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(t), 0) FROM (
		SELECT effective_at AS t FROM objections WHERE status = 'accepted' AND effective_at <> 0 AND effective_at <= $1
		UNION ALL SELECT withdrawn_at FROM objections WHERE status = 'accepted' AND withdrawn_at <> 0 AND withdrawn_at <= $1
		UNION ALL SELECT given_at FROM consents WHERE given_at <= $1
		UNION ALL SELECT withdrawn_at FROM consents WHERE withdrawn_at <> 0 AND withdrawn_at <= $1
		UNION ALL SELECT added_at FROM item_exclusions WHERE added_at <= $1) changes`, n).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: eligibility head time: %w", err)
	}
	return fromMicros(at), nil
}

// ChangedSince reports whether eligibility may have changed after the
// ledger head h: an entry other than a snapshot or model registration follows it, or
// h is not on this chain at all (a file from another store, or from before
// a restore).
func (db *DB) ChangedSince(ctx context.Context, h ledger.Head) (bool, error) {
	onChain, err := db.hasEntry(ctx, h)
	if err != nil || !onChain {
		return true, err
	}
	n, err := db.EntriesSince(ctx, h.Seq, ledger.KindSnapshotRegistered, ledger.KindModelRegistered)
	return n > 0, err
}

// RegisteredManifest returns the sha256 of the manifest registered for a
// snapshot, or ErrNotFound.
func (db *DB) RegisteredManifest(ctx context.Context, snapshotID string) (string, error) {
	var sum string
	err := db.r.QueryRowContext(ctx, "SELECT manifest_sha256 FROM snapshots WHERE id = $1", snapshotID).Scan(&sum)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: snapshot %s: %w", snapshotID, err)
	}
	return sum, nil
}

// CachePath is where the compact eligibility cache of a SQLite store lives
// ("" for PostgreSQL).
func (db *DB) CachePath() string {
	if db.path == "" {
		return ""
	}
	return db.path + ".eligibility"
}

// hasEntry reports whether the chain holds h (the empty chain's head included).
func (db *DB) hasEntry(ctx context.Context, h ledger.Head) (bool, error) {
	if h.Seq == 0 {
		return h.Hash == ledger.Genesis, nil
	}
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger WHERE seq = $1 AND hash = $2", h.Seq, h.Hash).Scan(&n); err != nil {
		return false, fmt.Errorf("store: ledger: %w", err)
	}
	return n == 1, nil
}
