package store

import (
	"context"
	"fmt"
	"time"
)

// Objection is an objection to training on a person's content.
type Objection struct {
	ID            string // the reference number
	EmailHash     string
	Scope         string
	Reason        string
	Channel       string
	Status        string // accepted | in_review | rejected
	Lang          string
	RequestID     string
	ReceivedAt    time.Time
	EffectiveAt   time.Time
	WithdrawnAt   time.Time
	WithdrawalRef string
	LedgerSeq     int64
	Note          string
	Accounts      []AccountKey
}

// Objection statuses.
const (
	StatusAccepted = "accepted"
	StatusInReview = "in_review"
)

// InsertObjection stores an objection and the accounts it covers.
func (tx *Tx) InsertObjection(ctx context.Context, o Objection) error {
	err := tx.write(ctx, "insert objection", `INSERT INTO objections (id, email_hash, scope, reason, channel, status, lang, request_id,
		received_at, effective_at, withdrawn_at, withdrawal_ref, ledger_seq, note)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		o.ID, o.EmailHash, o.Scope, o.Reason, o.Channel, o.Status, o.Lang, o.RequestID,
		micros(o.ReceivedAt), micros(o.EffectiveAt), micros(o.WithdrawnAt), o.WithdrawalRef, o.LedgerSeq, o.Note)
	if err != nil {
		return err
	}
	for _, a := range o.Accounts {
		if err := tx.write(ctx, "insert objection account", `INSERT INTO objection_accounts (objection_id, product, account_id) VALUES ($1, $2, $3)`,
			o.ID, a.Product, a.AccountID); err != nil {
			return err
		}
	}
	return nil
}

// ObjectionsInForceFor returns the ids of objections in force at the moment
// that were made with the e-mail hash or cover an account that uses it, and
// were recorded (their ledger entry's time) no later than recordedBy: a
// withdrawal ends only what was in force when it was asked for.
//
// It reads under the ledger head's lock (which every recorded objection
// takes): no other group or instance can record one between this read and
// the withdrawal's own entry.
func (tx *Tx) ObjectionsInForceFor(ctx context.Context, emailHash string, recordedBy time.Time) ([]string, error) {
	if tx.head == nil {
		if err := tx.loadHead(ctx); err != nil {
			return nil, err
		}
	}
	rows, err := tx.query(ctx, `SELECT o.id FROM objections o LEFT JOIN ledger l ON l.seq = o.ledger_seq
		WHERE o.withdrawn_at = 0 AND o.status <> 'rejected' AND COALESCE(l.at, 0) <= $2 AND (
			o.email_hash = $1 OR o.id IN (
				SELECT oa.objection_id FROM objection_accounts oa
				JOIN accounts a ON a.product = oa.product AND a.account_id = oa.account_id
				WHERE a.email_hash = $1))
		ORDER BY o.id`, emailHash, micros(recordedBy))
	if err != nil {
		return nil, fmt.Errorf("store: objections in force: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: objections in force: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: objections in force: %w", err)
	}
	return ids, nil
}

// WithdrawObjection ends an objection at the moment given.
func (tx *Tx) WithdrawObjection(ctx context.Context, id, withdrawalRef string, at time.Time) error {
	return tx.writeChecked(ctx, "withdraw objection", func(n int64) error {
		if n != 1 {
			return fmt.Errorf("store: withdraw objection %s: not in force", id)
		}
		return nil
	}, `UPDATE objections SET withdrawn_at = $2, withdrawal_ref = $3 WHERE id = $1 AND withdrawn_at = 0`,
		id, micros(at), withdrawalRef)
}

// Withdrawal records that a person withdrew their objections.
type Withdrawal struct {
	ID          string
	EmailHash   string
	RequestID   string
	Channel     string
	WithdrawnAt time.Time
	Ended       int
	LedgerSeq   int64
}

// InsertWithdrawal stores a withdrawal.
func (tx *Tx) InsertWithdrawal(ctx context.Context, w Withdrawal) error {
	return tx.write(ctx, "insert withdrawal", `INSERT INTO withdrawals (id, email_hash, request_id, channel, withdrawn_at, ended, ledger_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		w.ID, w.EmailHash, w.RequestID, w.Channel, micros(w.WithdrawnAt), w.Ended, w.LedgerSeq)
}

// Objection reads an objection with the accounts it covers.
func (db *DB) Objection(ctx context.Context, id string) (Objection, error) {
	var o Objection
	var recv, eff, wd int64
	err := db.r.QueryRowContext(ctx, `SELECT id, email_hash, scope, reason, channel, status, lang, request_id,
		received_at, effective_at, withdrawn_at, withdrawal_ref, ledger_seq FROM objections WHERE id = $1`, id).
		Scan(&o.ID, &o.EmailHash, &o.Scope, &o.Reason, &o.Channel, &o.Status, &o.Lang, &o.RequestID,
			&recv, &eff, &wd, &o.WithdrawalRef, &o.LedgerSeq)
	if isNoRows(err) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("store: objection: %w", err)
	}
	o.ReceivedAt, o.EffectiveAt, o.WithdrawnAt = fromMicros(recv), fromMicros(eff), fromMicros(wd)
	rows, err := db.r.QueryContext(ctx, `SELECT product, account_id FROM objection_accounts WHERE objection_id = $1
		ORDER BY product, account_id`, id)
	if err != nil {
		return o, fmt.Errorf("store: objection accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k AccountKey
		if err := rows.Scan(&k.Product, &k.AccountID); err != nil {
			return o, fmt.Errorf("store: objection accounts: %w", err)
		}
		o.Accounts = append(o.Accounts, k)
	}
	if err := rows.Err(); err != nil {
		return o, fmt.Errorf("store: objection accounts: %w", err)
	}
	return o, nil
}

// Withdrawal reads a withdrawal.
func (db *DB) Withdrawal(ctx context.Context, id string) (Withdrawal, error) {
	var w Withdrawal
	var at int64
	err := db.r.QueryRowContext(ctx, `SELECT id, email_hash, request_id, channel, withdrawn_at, ended, ledger_seq
		FROM withdrawals WHERE id = $1`, id).Scan(&w.ID, &w.EmailHash, &w.RequestID, &w.Channel, &at, &w.Ended, &w.LedgerSeq)
	if isNoRows(err) {
		return w, ErrNotFound
	}
	if err != nil {
		return w, fmt.Errorf("store: withdrawal: %w", err)
	}
	w.WithdrawnAt = fromMicros(at)
	return w, nil
}

// ObjectionCounts returns how many objections are in force and withdrawn.
func (db *DB) ObjectionCounts(ctx context.Context) (inForce, withdrawn int, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN withdrawn_at = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN withdrawn_at <> 0 THEN 1 ELSE 0 END), 0) FROM objections`).Scan(&inForce, &withdrawn)
	if err != nil {
		return 0, 0, fmt.Errorf("store: objection counts: %w", err)
	}
	return inForce, withdrawn, nil
}
