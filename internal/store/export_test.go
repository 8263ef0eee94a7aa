package store

import (
	"context"
	"database/sql"
)

// QueryRowForTest runs a query in the write transaction (tests read
// session settings this way).
func (tx *Tx) QueryRowForTest(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, q, args...)
}
