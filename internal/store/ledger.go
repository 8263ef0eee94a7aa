package store

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/ledger"
)

// LedgerHead returns the head recorded with the last append.
func (db *DB) LedgerHead(ctx context.Context) (ledger.Head, error) {
	var h ledger.Head
	if err := db.r.QueryRowContext(ctx, "SELECT seq, hash FROM ledger_head WHERE id = 1").Scan(&h.Seq, &h.Hash); err != nil {
		return h, fmt.Errorf("store: ledger head: %w", err)
	}
	return h, nil
}

// referencedSeq is the highest ledger sequence number a stored record names
// as the entry that recorded it: objections, withdrawals, consents and their
// withdrawals, snapshots, registered models, reports (received and decided)
// and the items their approvals excluded. A chain cut back to a consistent
// head still leaves these pointing past its end; a record kind that names
// an entry and is missing here lets such a cut go unseen.
const referencedSeq = `SELECT COALESCE(MAX(s), 0) FROM (
		SELECT MAX(ledger_seq) AS s FROM objections UNION ALL
		SELECT MAX(ledger_seq) FROM withdrawals UNION ALL
		SELECT MAX(ledger_seq) FROM consents UNION ALL
		SELECT MAX(ledger_seq) FROM consent_withdrawals UNION ALL
		SELECT MAX(ledger_seq) FROM snapshots UNION ALL
		SELECT MAX(ledger_seq) FROM models UNION ALL
		SELECT MAX(ledger_seq) FROM reports UNION ALL
		SELECT MAX(decision_seq) FROM reports UNION ALL
		SELECT MAX(ledger_seq) FROM item_exclusions) x`

// ledgerScan also returns the highest ledger sequence number that a stored
// record refers to (referencedSeq), read in the same transaction.
func (db *DB) ledgerScan(ctx context.Context, fn func(ledger.Entry) error) (ledger.Head, int64, error) {
	// One read transaction: the entries and the head come from one snapshot
	// even while a server keeps appending.
	tx, err := db.readTx(ctx)
	if err != nil {
		return ledger.Head{}, 0, fmt.Errorf("store: ledger scan: %w", err)
	}
	defer tx.Rollback()
	var head ledger.Head
	if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM ledger_head WHERE id = 1").Scan(&head.Seq, &head.Hash); err != nil {
		return head, 0, fmt.Errorf("store: ledger head: %w", err)
	}
	var referenced int64
	if err := tx.QueryRowContext(ctx, referencedSeq).Scan(&referenced); err != nil {
		return head, 0, fmt.Errorf("store: ledger references: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT seq, at, kind, body, prev_hash, hash FROM ledger ORDER BY seq")
	if err != nil {
		return head, 0, fmt.Errorf("store: ledger scan: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ledger.Entry
		var body string
		if err := rows.Scan(&e.Seq, &e.At, &e.Kind, &body, &e.PrevHash, &e.Hash); err != nil {
			return head, 0, fmt.Errorf("store: ledger scan: %w", err)
		}
		e.Body = []byte(body)
		if err := fn(e); err != nil {
			return head, 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return head, 0, fmt.Errorf("store: ledger scan: %w", err)
	}
	return head, referenced, nil
}

// VerifyLedger recomputes the whole chain from one consistent read and
// checks its end against the recorded head and against heads verified or
// read earlier (checkpoints), which must all still be on the chain. It
// returns the verified head, or a *ledger.BadEntryError naming the first
// bad entry.
func (db *DB) VerifyLedger(ctx context.Context, cps ...*ledger.Head) (ledger.Head, error) {
	v := ledger.NewVerifier(cps...)
	recorded, referenced, err := db.ledgerScan(ctx, v.Add)
	if err != nil {
		return ledger.Head{}, err
	}
	head, err := v.Finish(recorded)
	if err != nil {
		return head, err
	}
	// The objections, withdrawals and snapshots the store holds name the
	// entries that recorded them: a chain cut back to a consistent head
	// still leaves them pointing past its end.
	if referenced > head.Seq {
		return head, &ledger.BadEntryError{Seq: head.Seq + 1, Reason: fmt.Sprintf("missing: stored decisions refer to entry %d, the chain ends at %d (entries were cut off)", referenced, head.Seq)}
	}
	return head, nil
}

// EntriesSince counts ledger entries after seq whose kind is not one of skip.
func (db *DB) EntriesSince(ctx context.Context, seq int64, skip ...string) (int64, error) {
	q := "SELECT COUNT(*) FROM ledger WHERE seq > $1"
	args := []any{seq}
	for i, k := range skip {
		q += fmt.Sprintf(" AND kind <> $%d", i+2)
		args = append(args, k)
	}
	var n int64
	if err := db.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: ledger: %w", err)
	}
	return n, nil
}

// VerifyLedgerFrom verifies the chain from a checkpoint verified earlier:
// the checkpoint's entry must still carry its hash, and every entry after it
// must link and hash correctly up to the recorded head. Entries before the
// checkpoint were verified when it was written; `ledger verify` rechecks
// them all. Without a checkpoint it verifies the whole chain.
func (db *DB) VerifyLedgerFrom(ctx context.Context, cp *ledger.Head, extra ...*ledger.Head) (ledger.Head, error) {
	if cp == nil || cp.Seq == 0 {
		return db.VerifyLedger(ctx, extra...)
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return ledger.Head{}, fmt.Errorf("store: ledger scan: %w", err)
	}
	defer tx.Rollback()
	var recorded ledger.Head
	if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM ledger_head WHERE id = 1").Scan(&recorded.Seq, &recorded.Hash); err != nil {
		return ledger.Head{}, fmt.Errorf("store: ledger head: %w", err)
	}
	var hash string
	err = tx.QueryRowContext(ctx, "SELECT hash FROM ledger WHERE seq = $1", cp.Seq).Scan(&hash)
	if isNoRows(err) || err == nil && hash != cp.Hash {
		return ledger.Head{}, &ledger.BadEntryError{Seq: cp.Seq, Reason: "differs from the verified checkpoint, or is missing"}
	}
	if err != nil {
		return ledger.Head{}, fmt.Errorf("store: ledger: %w", err)
	}
	// Heads that must be on the chain but lie before the checkpoint are
	// looked up directly.
	for _, h := range extra {
		if h == nil || h.Seq == 0 || h.Seq > cp.Seq {
			continue
		}
		var hash string
		if err := tx.QueryRowContext(ctx, "SELECT hash FROM ledger WHERE seq = $1", h.Seq).Scan(&hash); isNoRows(err) || err == nil && hash != h.Hash {
			return ledger.Head{}, &ledger.BadEntryError{Seq: h.Seq, Reason: "differs from a head read earlier, or is missing"}
		} else if err != nil {
			return ledger.Head{}, fmt.Errorf("store: ledger: %w", err)
		}
	}
	var referenced int64
	if err := tx.QueryRowContext(ctx, referencedSeq).Scan(&referenced); err != nil {
		return ledger.Head{}, fmt.Errorf("store: ledger references: %w", err)
	}
	v := ledger.ResumeVerifier(*cp, extra...)
	rows, err := tx.QueryContext(ctx, "SELECT seq, at, kind, body, prev_hash, hash FROM ledger WHERE seq > $1 ORDER BY seq", cp.Seq)
	if err != nil {
		return ledger.Head{}, fmt.Errorf("store: ledger scan: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ledger.Entry
		var body string
		if err := rows.Scan(&e.Seq, &e.At, &e.Kind, &body, &e.PrevHash, &e.Hash); err != nil {
			return ledger.Head{}, fmt.Errorf("store: ledger scan: %w", err)
		}
		e.Body = []byte(body)
		if err := v.Add(e); err != nil {
			return ledger.Head{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return ledger.Head{}, fmt.Errorf("store: ledger scan: %w", err)
	}
	head, err := v.Finish(recorded)
	if err == nil && referenced > head.Seq {
		err = &ledger.BadEntryError{Seq: head.Seq + 1, Reason: fmt.Sprintf("missing: stored decisions refer to entry %d, the chain ends at %d (entries were cut off)", referenced, head.Seq)}
	}
	return head, err
}
