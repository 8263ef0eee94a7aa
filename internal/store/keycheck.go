package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrKeyMismatch is returned by CheckKey for a key other than the store's.
var ErrKeyMismatch = errors.New("the master key does not match this store's key")

// KeyState says what the store knows of its master key.
type KeyState struct {
	Check   string // the recorded check value, "" if none yet
	HasData bool   // the store holds rows made with some key
}

// KeyState reads the recorded key check and whether the store holds data:
// a store with data but no key file must not get a fresh key, under which
// none of its e-mail hashes would match.
func (db *DB) KeyState(ctx context.Context) (KeyState, error) {
	var st KeyState
	err := db.r.QueryRowContext(ctx, "SELECT value FROM key_check WHERE id = 1").Scan(&st.Check)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("store: key check: %w", err)
	}
	err = db.r.QueryRowContext(ctx, `SELECT (SELECT seq FROM ledger_head WHERE id = 1) > 0
		OR EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM code_requests) OR EXISTS (SELECT 1 FROM objections)`).Scan(&st.HasData)
	if err != nil {
		return st, fmt.Errorf("store: key check: %w", err)
	}
	return st, nil
}

// CheckKey compares check with the store's recorded check value and
// records it when the store has none yet (a new store, or one from before
// checks were kept). It returns ErrKeyMismatch for any other key.
func (db *DB) CheckKey(ctx context.Context, check string) error {
	var stored string
	err := db.Write(ctx, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.exec(ctx, "INSERT INTO key_check (id, value, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
			check, time.Now().UnixMicro()); err != nil {
			return err
		}
		return tx.queryRow(ctx, "SELECT value FROM key_check WHERE id = 1").Scan(&stored)
	})
	if err != nil {
		return fmt.Errorf("store: key check: %w", err)
	}
	if stored != check {
		return ErrKeyMismatch
	}
	return nil
}
