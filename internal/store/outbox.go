package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Mail is one message in the outbox.
type Mail struct {
	ID            string
	MessageID     string
	Kind          string
	RequestID     string
	To            string
	Lang          string
	Subject       string
	Text          string
	HTML          string
	Data          string // template data (JSON), rendered when sent; "" for mails stored rendered
	Urgent        bool   // sent before others when mail backs up (codes)
	Status        string // queued | sent | abandoned
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time
}

// Outbox statuses.
const (
	MailQueued    = "queued"
	MailSent      = "sent"
	MailAbandoned = "abandoned"
)

const mailCols = `id, message_id, kind, request_id, rcpt, lang, subject, text_body, html_body, data, status, attempts,
	next_attempt_at, last_error, created_at, sent_at`

func scanMail(row interface{ Scan(...any) error }) (Mail, error) {
	var m Mail
	var next, created, sent int64
	err := row.Scan(&m.ID, &m.MessageID, &m.Kind, &m.RequestID, &m.To, &m.Lang, &m.Subject, &m.Text, &m.HTML, &m.Data, &m.Status,
		&m.Attempts, &next, &m.LastError, &created, &sent)
	if isNoRows(err) {
		return m, ErrNotFound
	}
	if err != nil {
		return m, fmt.Errorf("store: mail: %w", err)
	}
	m.NextAttemptAt, m.CreatedAt, m.SentAt = fromMicros(next), fromMicros(created), fromMicros(sent)
	return m, nil
}

// QueueMail adds a mail to the outbox; it is sent after the transaction commits.
func (tx *Tx) QueueMail(ctx context.Context, m Mail) error {
	if m.Status == "" {
		m.Status = MailQueued
	}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	priority := 1
	if m.Urgent {
		priority = 0
	}
	return tx.write(ctx, "queue mail", `INSERT INTO outbox (`+mailCols+`, priority)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		m.ID, m.MessageID, m.Kind, m.RequestID, m.To, m.Lang, m.Subject, m.Text, m.HTML, m.Data, m.Status, m.Attempts,
		micros(m.NextAttemptAt), m.LastError, micros(m.CreatedAt), micros(m.SentAt), priority)
}

// ClaimMails leases up to limit due mails to the caller until leaseUntil, so
// that no other dispatcher (in this or another instance) sends them meanwhile.
// It is one statement: the due mails are picked (on PostgreSQL skipping
// those another transaction holds) and leased, and come back in order of
// when they fell due.
func (tx *Tx) ClaimMails(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Mail, error) {
	pick := `SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $2 AND lease_until <= $2
		ORDER BY priority, next_attempt_at LIMIT $3`
	if tx.db.dialect == Postgres {
		pick += " FOR UPDATE SKIP LOCKED"
	}
	tx.writes++
	rows, err := tx.query(ctx, `UPDATE outbox SET lease_until = $1 WHERE id IN (`+pick+`) RETURNING `+mailCols,
		micros(leaseUntil), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim mails: %w", err)
	}
	var out []Mail
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claim mails: %w", err)
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b Mail) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// MarkMailsSent records the delivery of the mails ids at one moment, in one
// statement. With wipe, the bodies are dropped: a delivered code has no
// business staying in the database.
func (tx *Tx) MarkMailsSent(ctx context.Context, ids []string, at time.Time, wipe bool) error {
	if len(ids) == 0 {
		return nil
	}
	set := `status = 'sent', sent_at = $1, attempts = attempts + 1, lease_until = 0, last_error = ''`
	if wipe {
		set += `, text_body = '', html_body = '', data = ''`
	}
	in, arg, err := tx.inList(ids)
	if err != nil {
		return err
	}
	return tx.write(ctx, "mark mails sent", `UPDATE outbox SET `+set+` WHERE id `+in("$2"), micros(at), arg)
}

// inList is "IN (the strings of one parameter)" in the store's dialect,
// with the parameter's value: one statement text for any number of ids.
func (tx *Tx) inList(ids []string) (func(param string) string, any, error) {
	if tx.db.dialect == Postgres {
		return func(p string) string { return "= ANY(" + p + ")" }, ids, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, nil, fmt.Errorf("store: id list: %w", err)
	}
	return func(p string) string { return "IN (SELECT value FROM json_each(" + p + "))" }, string(b), nil
}

// MarkMailFailed records a failed attempt: retried at next, or abandoned.
func (tx *Tx) MarkMailFailed(ctx context.Context, id string, next time.Time, reason string, abandon bool) error {
	status := MailQueued
	if abandon {
		status = MailAbandoned
	}
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return tx.write(ctx, "mark mail failed", `UPDATE outbox SET status = $2, attempts = attempts + 1, next_attempt_at = $3, lease_until = 0,
		last_error = $4 WHERE id = $1`, id, status, micros(next), reason)
}

// ReleaseMail gives up a lease on a mail that was not attempted, so the
// next claim (of any instance) can take it at once.
func (tx *Tx) ReleaseMail(ctx context.Context, id string) error {
	return tx.write(ctx, "release mail", `UPDATE outbox SET lease_until = 0 WHERE id = $1 AND status = 'queued'`, id)
}

// Mails lists the newest outbox entries that are real mails, newest first.
func (db *DB) Mails(ctx context.Context, limit int) ([]Mail, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+mailCols+` FROM outbox WHERE kind <> 'suppressed'
		ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: mails: %w", err)
	}
	defer rows.Close()
	var out []Mail
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: mails: %w", err)
	}
	return out, nil
}

// LatestMailFor returns the newest mail of a code flow.
func (db *DB) LatestMailFor(ctx context.Context, requestID string) (Mail, error) {
	return scanMail(db.r.QueryRowContext(ctx, `SELECT `+mailCols+` FROM outbox WHERE request_id = $1
		ORDER BY created_at DESC, id DESC LIMIT 1`, requestID))
}

// OutboxStats counts mails by status.
type OutboxStats struct {
	Queued, Sent, Abandoned int
	OldestQueued            time.Time
}

// OutboxStats returns the outbox's state for health and metrics.
func (db *DB) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	var oldest int64
	err := db.r.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'abandoned' THEN 1 ELSE 0 END), 0),
		COALESCE(MIN(CASE WHEN status = 'queued' THEN created_at END), 0)
		FROM outbox`).Scan(&s.Queued, &s.Sent, &s.Abandoned, &oldest)
	if err != nil {
		return s, fmt.Errorf("store: outbox stats: %w", err)
	}
	s.OldestQueued = fromMicros(oldest)
	return s, nil
}
