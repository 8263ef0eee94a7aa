package store

import (
	"context"
	"fmt"
	"time"
)

// Report is a request to keep specific items out of training, filed by
// anyone (with or without an account) and decided by the privacy team.
type Report struct {
	ID          string // the reference number
	RequestID   string
	EmailHash   string
	Email       string // the address the decision goes to; "" once it is queued
	Lang        string
	Relation    string // me | my_child | other
	Description string
	Account     string
	Channel     string
	Status      string // in_review | info_requested | approved | rejected | superseded
	ReceivedAt  time.Time
	LedgerSeq   int64
	DecidedAt   time.Time
	DecidedBy   string
	Note        string
	DecisionSeq int64
	Items       []string // in the order the person gave them
	// Follows is the case this report answers a request for more
	// information on (closed as superseded when this one came in); "" for
	// a report that follows none.
	Follows string
}

// Report statuses.
const (
	ReportInReview      = "in_review"
	ReportInfoRequested = "info_requested"
	ReportApproved      = "approved"
	ReportRejected      = "rejected"
	// ReportSuperseded: the person answered a request for more
	// information by filing again; the case goes on under the new report.
	ReportSuperseded = "superseded"
)

const reportCols = `id, request_id, email_hash, email, lang, relation, description, account, channel, status,
	received_at, ledger_seq, decided_at, decided_by, note, decision_seq, follows`

func scanReport(row interface{ Scan(...any) error }) (Report, error) {
	var r Report
	var recv, dec int64
	err := row.Scan(&r.ID, &r.RequestID, &r.EmailHash, &r.Email, &r.Lang, &r.Relation, &r.Description, &r.Account, &r.Channel,
		&r.Status, &recv, &r.LedgerSeq, &dec, &r.DecidedBy, &r.Note, &r.DecisionSeq, &r.Follows)
	if isNoRows(err) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: report: %w", err)
	}
	r.ReceivedAt, r.DecidedAt = fromMicros(recv), fromMicros(dec)
	return r, nil
}

// InsertReport stores a verified report and its items.
func (tx *Tx) InsertReport(ctx context.Context, r Report) error {
	if err := tx.write(ctx, "insert report", `INSERT INTO reports (`+reportCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		r.ID, r.RequestID, r.EmailHash, r.Email, r.Lang, r.Relation, r.Description, r.Account, r.Channel, r.Status,
		micros(r.ReceivedAt), r.LedgerSeq, micros(r.DecidedAt), r.DecidedBy, r.Note, r.DecisionSeq, r.Follows); err != nil {
		return err
	}
	for i, id := range r.Items {
		if err := tx.write(ctx, "insert report item", `INSERT INTO report_items (report_id, pos, item_id) VALUES ($1, $2, $3)`,
			r.ID, i, id); err != nil {
			return err
		}
	}
	return nil
}

// Report reads a report with its items inside the transaction, locking it
// on PostgreSQL (SQLite has one writer), so a decision sees the state it
// changes and two decisions on one report cannot both pass.
func (tx *Tx) Report(ctx context.Context, id string) (Report, error) {
	q := `SELECT ` + reportCols + ` FROM reports WHERE id = $1`
	if tx.db.dialect == Postgres {
		q += " FOR UPDATE"
	}
	r, err := scanReport(tx.queryRow(ctx, q, id))
	if err != nil {
		return r, err
	}
	rows, err := tx.query(ctx, `SELECT item_id FROM report_items WHERE report_id = $1 ORDER BY pos`, id)
	if err != nil {
		return r, fmt.Errorf("store: report items: %w", err)
	}
	r.Items, err = scanStrings(rows)
	return r, err
}

// Report reads a report with its items.
func (db *DB) Report(ctx context.Context, id string) (Report, error) {
	r, err := scanReport(db.r.QueryRowContext(ctx, `SELECT `+reportCols+` FROM reports WHERE id = $1`, id))
	if err != nil {
		return r, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT item_id FROM report_items WHERE report_id = $1 ORDER BY pos`, id)
	if err != nil {
		return r, fmt.Errorf("store: report items: %w", err)
	}
	r.Items, err = scanStrings(rows)
	return r, err
}

// OpenReports lists the reports still waiting for a decision (in review or
// waiting for more information), oldest first, with their items.
func (db *DB) OpenReports(ctx context.Context) ([]Report, error) {
	out, err := db.reportsWhere(ctx, `r.status IN ('in_review', 'info_requested')`)
	if err != nil {
		return nil, fmt.Errorf("store: open reports: %w", err)
	}
	return out, nil
}

// reportsWhere reads the reports (aliased r) a condition selects, oldest
// first, then their items in the order given, in two statements. A report
// that leaves the condition between the two reads keeps no items and is
// dropped.
func (db *DB) reportsWhere(ctx context.Context, cond string, args ...any) ([]Report, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+reportCols+` FROM reports r WHERE `+cond+` ORDER BY r.received_at, r.id`, args...)
	if err != nil {
		return nil, err
	}
	var out []Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(out) == 0 {
		return nil, err
	}
	items, err := db.r.QueryContext(ctx, `SELECT i.report_id, i.item_id FROM report_items i
		JOIN reports r ON r.id = i.report_id WHERE `+cond+` ORDER BY i.report_id, i.pos`, args...)
	if err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	defer items.Close()
	byID := make(map[string]*Report, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	for items.Next() {
		var rid, item string
		if err := items.Scan(&rid, &item); err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		if r := byID[rid]; r != nil {
			r.Items = append(r.Items, item)
		}
	}
	if err := items.Err(); err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	kept := out[:0]
	for _, r := range out {
		if len(r.Items) > 0 {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// ReportDecision is what a decision changes on a report.
type ReportDecision struct {
	Status      string
	DecidedAt   time.Time
	DecidedBy   string
	Note        string
	DecisionSeq int64
	// Final blanks what the person told about themselves (the address,
	// the description and the account they named): the decision is final
	// and its mail is queued, so nothing needs them any more. A request
	// for more information keeps them: the case goes on.
	Final bool
}

// DecideReport records a decision on an open report. It changes the
// report only while it is open (in review or waiting for more
// information): a decided report is never decided again.
func (tx *Tx) DecideReport(ctx context.Context, id string, d ReportDecision) error {
	q := `UPDATE reports SET status = $2, decided_at = $3, decided_by = $4, note = $5, decision_seq = $6`
	if d.Final {
		q += `, email = '', description = '', account = ''`
	}
	q += ` WHERE id = $1 AND status IN ('in_review', 'info_requested')`
	return tx.writeChecked(ctx, "decide report", oneRow("decide report", id), q,
		id, d.Status, micros(d.DecidedAt), d.DecidedBy, d.Note, d.DecisionSeq)
}

// SupersedeReport closes a case waiting for more information because the
// person filed again (follower is the new report): the address is
// blanked, since the new report carries its own; the description and the
// account stay for the operator deciding the new case, and go with its
// final decision (ForgetSuperseded). It changes the report only while it
// waits for more information.
func (tx *Tx) SupersedeReport(ctx context.Context, id string, at time.Time, seq int64) error {
	return tx.writeChecked(ctx, "supersede report", oneRow("supersede report", id), `UPDATE reports
		SET status = 'superseded', decided_at = $2, decided_by = '', decision_seq = $3, email = ''
		WHERE id = $1 AND status = 'info_requested'`, id, micros(at), seq)
}

// ForgetSuperseded blanks what the person told about themselves in the
// cases a finally decided report followed up, walking back its chain of
// follows: they were kept only for that decision.
func (tx *Tx) ForgetSuperseded(ctx context.Context, follows string) error {
	// A report can only follow one received before it, so the chain ends;
	// the bound guards against a hand-edited table.
	for range 1000 {
		if follows == "" {
			return nil
		}
		var next string
		err := tx.queryRow(ctx, `SELECT follows FROM reports WHERE id = $1 AND status = 'superseded'`, follows).Scan(&next)
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: superseded report: %w", err)
		}
		if err := tx.write(ctx, "forget superseded report", `UPDATE reports SET email = '', description = '', account = ''
			WHERE id = $1`, follows); err != nil {
			return err
		}
		follows = next
	}
	return nil
}

// ExcludeItems adds items to the exclusion list every later snapshot
// honours. An item already on it keeps its first entry: it has been out
// since then.
func (tx *Tx) ExcludeItems(ctx context.Context, items []string, reason string, at time.Time, seq int64) error {
	for _, id := range items {
		if err := tx.write(ctx, "exclude item", `INSERT INTO item_exclusions (item_id, reason, added_at, ledger_seq)
			VALUES ($1, $2, $3, $4) ON CONFLICT (item_id) DO NOTHING`, id, reason, micros(at), seq); err != nil {
			return err
		}
	}
	return nil
}

// ItemExclusion is one entry of the exclusion list.
type ItemExclusion struct {
	ItemID    string
	Reason    string
	AddedAt   time.Time
	LedgerSeq int64
}

// ItemExclusion reads one entry of the exclusion list.
func (db *DB) ItemExclusion(ctx context.Context, id string) (ItemExclusion, error) {
	var e ItemExclusion
	var at int64
	err := db.r.QueryRowContext(ctx, `SELECT item_id, reason, added_at, ledger_seq FROM item_exclusions WHERE item_id = $1`, id).
		Scan(&e.ItemID, &e.Reason, &at, &e.LedgerSeq)
	if isNoRows(err) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("store: item exclusion: %w", err)
	}
	e.AddedAt = fromMicros(at)
	return e, nil
}

// ObjectionsInReview lists the objections a policy sent to review, oldest first.
func (db *DB) ObjectionsInReview(ctx context.Context) ([]Objection, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, email_hash, scope, reason, channel, status, lang, request_id, received_at
		FROM objections WHERE status = 'in_review' ORDER BY received_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: objections in review: %w", err)
	}
	defer rows.Close()
	var out []Objection
	for rows.Next() {
		var o Objection
		var recv int64
		if err := rows.Scan(&o.ID, &o.EmailHash, &o.Scope, &o.Reason, &o.Channel, &o.Status, &o.Lang, &o.RequestID, &recv); err != nil {
			return nil, fmt.Errorf("store: objections in review: %w", err)
		}
		o.ReceivedAt = fromMicros(recv)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: objections in review: %w", err)
	}
	return out, nil
}

func scanStrings(rows rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("store: scan: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: scan: %w", err)
	}
	return out, nil
}

// ReportsOf lists the reports filed with the e-mail hash, oldest first,
// with their items: what "my data" shows. The keyed hash stays after the
// decision blanks the address, so a decided report is still found.
func (db *DB) ReportsOf(ctx context.Context, emailHash string) ([]Report, error) {
	out, err := db.reportsWhere(ctx, `r.email_hash = $1`, emailHash)
	if err != nil {
		return nil, fmt.Errorf("store: reports of: %w", err)
	}
	return out, nil
}
