package store

import (
	"context"
	"fmt"
	"time"
)

// AssertionUsed reports whether the platform assertion with this id (its
// jti) has been used, in the transaction that would use it.
func (tx *Tx) AssertionUsed(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM assertion_ids WHERE jti = $1`, jti).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: assertion id: %w", err)
	}
	return n > 0, nil
}

// UseAssertion records that the assertion with this id has been used; it
// must be called in the transaction that records what the assertion asked
// for, so neither can be kept without the other. ErrAssertionUsed: another
// transaction (of this instance or another) used it first.
func (tx *Tx) UseAssertion(ctx context.Context, jti string, expires time.Time) error {
	res, err := tx.exec(ctx, `INSERT INTO assertion_ids (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`,
		jti, micros(expires))
	if err != nil {
		return fmt.Errorf("store: use assertion id: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: use assertion id: %w", err)
	}
	if n == 0 {
		return ErrAssertionUsed
	}
	return nil
}

// AssertionUsed reports whether the assertion with this id has been used,
// outside a write: for a page that only shows what the assertion would do.
func (db *DB) AssertionUsed(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM assertion_ids WHERE jti = $1`, jti).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: assertion id: %w", err)
	}
	return n > 0, nil
}
