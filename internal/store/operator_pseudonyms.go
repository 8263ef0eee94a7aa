package store

import (
	"context"
	"fmt"
	"time"
)

// NameOperator records which operator name a ledger pseudonym stands for,
// in the transaction of the entry that names it. A pseudonym already
// recorded keeps its first row: it is keyed, so it stands for one name.
func (tx *Tx) NameOperator(ctx context.Context, pseudonym, name string, at time.Time) error {
	return tx.write(ctx, "name operator", `INSERT INTO operator_pseudonyms (pseudonym, name, first_at)
		VALUES ($1, $2, $3) ON CONFLICT (pseudonym) DO NOTHING`, pseudonym, name, micros(at))
}

// OperatorNames resolves ledger pseudonyms of operators to their names;
// a pseudonym no entry recorded is absent from the result.
func (db *DB) OperatorNames(ctx context.Context, pseudonyms []string) (map[string]string, error) {
	out := make(map[string]string, len(pseudonyms))
	for _, p := range pseudonyms {
		if _, done := out[p]; done {
			continue
		}
		var name string
		err := db.r.QueryRowContext(ctx, `SELECT name FROM operator_pseudonyms WHERE pseudonym = $1`, p).Scan(&name)
		if isNoRows(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: operator names: %w", err)
		}
		out[p] = name
	}
	return out, nil
}
