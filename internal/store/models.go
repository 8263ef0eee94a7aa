package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/ledger"
)

// Model is a model registered as trained on snapshots.
type Model struct {
	ID           string
	Name         string
	Snapshots    []string // sorted
	TrainedAt    time.Time
	RegisteredAt time.Time
	LedgerSeq    int64
}

// MissingSnapshots returns those of ids that no registered snapshot has.
func (tx *Tx) MissingSnapshots(ctx context.Context, ids []string) ([]string, error) {
	var missing []string
	for _, id := range ids {
		rows, err := tx.query(ctx, "SELECT id FROM snapshots WHERE id = $1", id)
		if err != nil {
			return nil, fmt.Errorf("store: snapshot %s: %w", id, err)
		}
		found := rows.Next()
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: snapshot %s: %w", id, err)
		}
		if !found {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// RegisterModel stores a model and its ledger entry, body, in one step of
// the caller's transaction.
func (tx *Tx) RegisterModel(ctx context.Context, m Model, body ledger.ModelRegistered) (ledger.Entry, error) {
	e, err := tx.Append(ctx, m.RegisteredAt, ledger.KindModelRegistered, body)
	if err != nil {
		return e, err
	}
	if _, err := tx.exec(ctx, `INSERT INTO models (id, name, trained_at, registered_at, ledger_seq) VALUES ($1, $2, $3, $4, $5)`,
		m.ID, m.Name, micros(m.TrainedAt), micros(m.RegisteredAt), e.Seq); err != nil {
		return e, fmt.Errorf("store: register model: %w", err)
	}
	for _, s := range m.Snapshots {
		if _, err := tx.exec(ctx, `INSERT INTO model_snapshots (model_id, snapshot_id) VALUES ($1, $2)`, m.ID, s); err != nil {
			return e, fmt.Errorf("store: register model snapshot: %w", err)
		}
	}
	return e, nil
}

// ModelsOnSnapshots returns the models trained on any of the snapshots,
// in registration order, each with all its snapshots.
func (db *DB) ModelsOnSnapshots(ctx context.Context, snapshots []string) ([]Model, error) {
	byID := map[string]*Model{}
	var order []string
	for _, s := range snapshots {
		rows, err := db.r.QueryContext(ctx, `SELECT m.id, m.name, m.trained_at, m.registered_at, m.ledger_seq
			FROM models m JOIN model_snapshots ms ON ms.model_id = m.id WHERE ms.snapshot_id = $1`, s)
		if err != nil {
			return nil, fmt.Errorf("store: models: %w", err)
		}
		for rows.Next() {
			var m Model
			var trained, reg int64
			if err := rows.Scan(&m.ID, &m.Name, &trained, &reg, &m.LedgerSeq); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: models: %w", err)
			}
			if _, ok := byID[m.ID]; !ok {
				m.TrainedAt, m.RegisteredAt = fromMicros(trained), fromMicros(reg)
				byID[m.ID] = &m
				order = append(order, m.ID)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: models: %w", err)
		}
	}
	out := make([]Model, 0, len(order))
	for _, id := range order {
		m := byID[id]
		rows, err := db.r.QueryContext(ctx, "SELECT snapshot_id FROM model_snapshots WHERE model_id = $1 ORDER BY snapshot_id", id)
		if err != nil {
			return nil, fmt.Errorf("store: model snapshots: %w", err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: model snapshots: %w", err)
			}
			m.Snapshots = append(m.Snapshots, s)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: model snapshots: %w", err)
		}
		out = append(out, *m)
	}
	slices.SortStableFunc(out, func(a, b Model) int { return int(a.LedgerSeq - b.LedgerSeq) })
	return out, nil
}

// ObjectionsOf returns the objections made with the e-mail hash or covering
// any of the accounts, oldest first, without their account lists.
func (db *DB) ObjectionsOf(ctx context.Context, emailHash string, accounts []AccountKey) ([]Objection, error) {
	seen := map[string]bool{}
	var out []Objection
	scan := func(q string, args ...any) error {
		rows, err := db.r.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: objections of: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var o Objection
			var recv, eff, wd int64
			if err := rows.Scan(&o.ID, &o.EmailHash, &o.Scope, &o.Channel, &o.Status, &recv, &eff, &wd, &o.WithdrawalRef, &o.LedgerSeq); err != nil {
				return fmt.Errorf("store: objections of: %w", err)
			}
			if seen[o.ID] {
				continue
			}
			seen[o.ID] = true
			o.ReceivedAt, o.EffectiveAt, o.WithdrawnAt = fromMicros(recv), fromMicros(eff), fromMicros(wd)
			out = append(out, o)
		}
		return rows.Err()
	}
	const cols = `SELECT o.id, o.email_hash, o.scope, o.channel, o.status, o.received_at, o.effective_at, o.withdrawn_at,
		o.withdrawal_ref, o.ledger_seq FROM objections o`
	if emailHash != "" {
		if err := scan(cols+" WHERE o.email_hash = $1", emailHash); err != nil {
			return nil, err
		}
	}
	for _, a := range accounts {
		if err := scan(cols+` JOIN objection_accounts oa ON oa.objection_id = o.id WHERE oa.product = $1 AND oa.account_id = $2`,
			a.Product, a.AccountID); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Objection) int { return int(a.LedgerSeq - b.LedgerSeq) })
	return out, nil
}

// WithdrawalRecord is a withdrawal as "my data" lists it.
type WithdrawalRecord struct {
	ID          string // the reference
	WithdrawnAt time.Time
	Ended       int64
	LedgerSeq   int64
}

// WithdrawalsOf returns the withdrawals made with the e-mail hash or named
// by refs (those that ended the person's objections), oldest first.
func (db *DB) WithdrawalsOf(ctx context.Context, emailHash string, refs []string) ([]WithdrawalRecord, error) {
	args := []any{emailHash}
	q := "SELECT id, withdrawn_at, ended, ledger_seq FROM withdrawals WHERE email_hash = $1"
	if len(refs) > 0 {
		ph := make([]string, len(refs))
		for i, r := range refs {
			args = append(args, r)
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		q += " OR id IN (" + strings.Join(ph, ", ") + ")"
	}
	rows, err := db.r.QueryContext(ctx, q+" ORDER BY withdrawn_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("store: withdrawals of: %w", err)
	}
	defer rows.Close()
	var out []WithdrawalRecord
	for rows.Next() {
		var w WithdrawalRecord
		var at int64
		if err := rows.Scan(&w.ID, &at, &w.Ended, &w.LedgerSeq); err != nil {
			return nil, fmt.Errorf("store: withdrawals of: %w", err)
		}
		w.WithdrawnAt = fromMicros(at)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: withdrawals of: %w", err)
	}
	return out, nil
}
