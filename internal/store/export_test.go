package store

import "context"

// QueryRowForTest runs a query in the write transaction (tests read
// session settings this way).
func (tx *Tx) QueryRowForTest(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
	return tx.queryRow(ctx, q, args...)
}
