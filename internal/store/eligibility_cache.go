package store

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/ledger"
)

// BuildEligibility reads the eligibility snapshot from the tables, at one
// ledger head. The caller must verify the ledger with the snapshot's head
// as a checkpoint.
func (db *DB) BuildEligibility(ctx context.Context) (*eligibility.Snapshot, error) {
	var accounts, idBytes int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(LENGTH(account_id)), 0) FROM accounts").Scan(&accounts, &idBytes); err != nil {
		return nil, fmt.Errorf("store: directory size: %w", err)
	}
	var snap *eligibility.Snapshot
	err := db.ReadEligibility(ctx, func(src eligibility.Source) error {
		var err error
		snap, err = eligibility.Build(src, accounts, idBytes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: eligibility: %w", err)
	}
	return snap, nil
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
