package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// CodeRequest is one code flow: an objection or withdrawal waiting for its code.
type CodeRequest struct {
	ID         string
	Kind       string // objection | withdrawal
	EmailHash  string
	Email      string // delivery address; "" once the flow has ended
	Known      bool   // an account used the address when the flow started
	Lang       string
	Scope      string
	Reason     string
	Channel    string
	CodeHash   string
	CodeSentAt time.Time
	ExpiresAt  time.Time
	Attempts   int
	UsedAt     time.Time
	ResultRef  string
	CreatedAt  time.Time
	// Data is what a flow owned by another package (a report, a consent)
	// carries until its code confirms it; that package alone reads it.
	Data string
}

const requestCols = `id, kind, email_hash, email, known, lang, scope, reason, channel, code_hash,
	code_sent_at, expires_at, attempts, used_at, result_ref, created_at, data`

func scanRequest(row interface{ Scan(...any) error }) (CodeRequest, error) {
	var r CodeRequest
	var known int64
	var sent, exp, used, created int64
	err := row.Scan(&r.ID, &r.Kind, &r.EmailHash, &r.Email, &known, &r.Lang, &r.Scope, &r.Reason, &r.Channel, &r.CodeHash,
		&sent, &exp, &r.Attempts, &used, &r.ResultRef, &created, &r.Data)
	if isNoRows(err) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: code request: %w", err)
	}
	r.Known = known == 1
	r.CodeSentAt, r.ExpiresAt, r.UsedAt, r.CreatedAt = fromMicros(sent), fromMicros(exp), fromMicros(used), fromMicros(created)
	return r, nil
}

// InsertRequest stores a new code flow.
func (tx *Tx) InsertRequest(ctx context.Context, r CodeRequest) error {
	known := 0
	if r.Known {
		known = 1
	}
	return tx.write(ctx, "insert code request", `INSERT INTO code_requests (`+requestCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		r.ID, r.Kind, r.EmailHash, r.Email, known, r.Lang, r.Scope, r.Reason, r.Channel, r.CodeHash,
		micros(r.CodeSentAt), micros(r.ExpiresAt), r.Attempts, micros(r.UsedAt), r.ResultRef, micros(r.CreatedAt), r.Data)
}

// Request reads a code flow inside the transaction, locking it on PostgreSQL.
func (tx *Tx) Request(ctx context.Context, id string) (CodeRequest, error) {
	q := `SELECT ` + requestCols + ` FROM code_requests WHERE id = $1`
	if tx.db.dialect == Postgres {
		q += " FOR UPDATE"
	}
	return scanRequest(tx.queryRow(ctx, q, id))
}

// Request reads a code flow.
func (db *DB) Request(ctx context.Context, id string) (CodeRequest, error) {
	return scanRequest(db.r.QueryRowContext(ctx, `SELECT `+requestCols+` FROM code_requests WHERE id = $1`, id))
}

// AttemptAllowed reports whether the code may still be checked: it is
// unused and its attempts are not exhausted. r must have been read with
// Tx.Request in this transaction: that read locks the row (PostgreSQL; on
// SQLite there is one writer) and sees every earlier write to it, so the
// decision holds until the transaction ends.
func (r CodeRequest) AttemptAllowed(max int) bool {
	return r.Attempts < max && r.UsedAt.IsZero()
}

// CountAttempt records a checked code that did not match; it commits with
// the group whatever else the op does. req is as for AttemptAllowed,
// which must have allowed the attempt: the update carries the same
// conditions, and changing no row fails the transaction rather than
// losing the count.
func (tx *Tx) CountAttempt(ctx context.Context, req CodeRequest, max int) error {
	return tx.writeChecked(ctx, "count attempt", oneRow("count attempt", req.ID), `UPDATE code_requests SET attempts = attempts + 1
		WHERE id = $1 AND attempts < $2 AND used_at = 0`, req.ID, max)
}

// UseCode records the attempt whose code matched and the flow's outcome:
// the attempt is counted, the code marked used, the result's reference
// kept and the address and the flow's data forgotten, in one statement. req is as for
// CountAttempt.
func (tx *Tx) UseCode(ctx context.Context, req CodeRequest, max int, at time.Time, ref string) error {
	return tx.writeChecked(ctx, "use code", oneRow("use code", req.ID), `UPDATE code_requests
		SET attempts = attempts + 1, used_at = $3, result_ref = $4, email = '', data = ''
		WHERE id = $1 AND attempts < $2 AND used_at = 0`, req.ID, max, micros(at), ref)
}

// oneRow is the check of a write that must change exactly one row.
func oneRow(what, id string) func(int64) error {
	return func(n int64) error {
		if n != 1 {
			return fmt.Errorf("store: %s: %s changed %d rows, not 1", what, id, n)
		}
		return nil
	}
}

// RenewCode replaces the code of an unused request (resend): the old code
// stops working and the attempt counter starts again.
func (tx *Tx) RenewCode(ctx context.Context, id, codeHash string, sentAt, expiresAt time.Time) error {
	return tx.writeChecked(ctx, "renew code", func(n int64) error {
		if n != 1 {
			return fmt.Errorf("store: renew code: request %s is used or gone", id)
		}
		return nil
	}, `UPDATE code_requests SET code_hash = $2, code_sent_at = $3, expires_at = $4, attempts = 0
		WHERE id = $1 AND used_at = 0`, id, codeHash, micros(sentAt), micros(expiresAt))
}

// AddressEvent records a rate-limited event for an address.
func (tx *Tx) AddressEvent(ctx context.Context, emailHash, kind string, at time.Time) error {
	if err := tx.write(ctx, "address event", `INSERT INTO address_events (email_hash, kind, at) VALUES ($1, $2, $3)`,
		emailHash, kind, micros(at)); err != nil {
		return err
	}
	if w := tx.addrEvents[emailHash]; w != nil && micros(at) > w.since {
		// Kept in time order, as read.
		i := len(w.events)
		for i > 0 && w.events[i-1].at > micros(at) {
			i--
		}
		w.events = slices.Insert(w.events, i, addressEvent{kind: kind, at: micros(at)})
	}
	return nil
}

// AddressEvents returns the times of an address's events since a moment, oldest first.
//
// The address is locked first, to the end of the transaction, so that the
// count and the event it leads to are one step for every writer of every
// instance: two requests for one address cannot both pass a limit each
// would pass alone.
//
// A code request asks about several kinds of event of one address (its
// limits, then whether a notice is due): the first question reads every
// kind since then at once, and the transaction answers the later ones,
// and counts its own new events, from what it read.
func (tx *Tx) AddressEvents(ctx context.Context, emailHash, kind string, since time.Time) ([]time.Time, error) {
	w := tx.addrEvents[emailHash]
	if w == nil || micros(since) < w.since {
		tx.lockKey("address", emailHash)
		var err error
		if w, err = tx.readAddressEvents(ctx, emailHash, micros(since)); err != nil {
			return nil, err
		}
		if tx.addrEvents == nil {
			tx.addrEvents = map[string]*eventWindow{}
		}
		tx.addrEvents[emailHash] = w
	}
	var out []time.Time
	for _, e := range w.events {
		if e.kind == kind && e.at > micros(since) {
			out = append(out, fromMicros(e.at))
		}
	}
	return out, nil
}

// LookUpAddress reads, in one statement, what a code request needs to know
// of its address: the events of mailbox since then (as AddressEvents,
// which then answers from them) and whether an account uses emailHash (as
// HasAccountWithEmail). Every request makes the same read, known address
// or not.
func (tx *Tx) LookUpAddress(ctx context.Context, mailbox, emailHash string, since time.Time) error {
	tx.lockKey("address", mailbox)
	rows, err := tx.query(ctx, `SELECT kind, at FROM address_events WHERE email_hash = $1 AND at > $2
		UNION ALL
		SELECT '', CASE WHEN EXISTS (SELECT 1 FROM accounts WHERE email_hash = $3) THEN 1 ELSE 0 END
		ORDER BY 2`, mailbox, micros(since), emailHash)
	if err != nil {
		return fmt.Errorf("store: address lookup: %w", err)
	}
	w, known, err := scanAddressEvents(rows, micros(since))
	if err != nil {
		return err
	}
	if known == nil {
		return errors.New("store: address lookup: no account row")
	}
	if tx.addrEvents == nil {
		tx.addrEvents = map[string]*eventWindow{}
	}
	tx.addrEvents[mailbox] = w
	if tx.known == nil {
		tx.known = map[string]bool{}
	}
	tx.known[emailHash] = *known
	return nil
}

// eventWindow is what a transaction knows of an address's events: all of
// them after since, oldest first.
type eventWindow struct {
	since  int64
	events []addressEvent
}

type addressEvent struct {
	kind string
	at   int64
}

func (tx *Tx) readAddressEvents(ctx context.Context, emailHash string, since int64) (*eventWindow, error) {
	rows, err := tx.query(ctx, `SELECT kind, at FROM address_events WHERE email_hash = $1 AND at > $2 ORDER BY at`,
		emailHash, since)
	if err != nil {
		return nil, fmt.Errorf("store: address events: %w", err)
	}
	w, _, err := scanAddressEvents(rows, since)
	return w, err
}

// scanAddressEvents reads events (kind, at) oldest first; a row of kind ""
// is LookUpAddress's account flag, returned as known.
func scanAddressEvents(rows rows, since int64) (*eventWindow, *bool, error) {
	defer rows.Close()
	w := &eventWindow{since: since}
	var known *bool
	for rows.Next() {
		var e addressEvent
		if err := rows.Scan(&e.kind, &e.at); err != nil {
			return nil, nil, fmt.Errorf("store: address events: %w", err)
		}
		if e.kind == "" {
			k := e.at == 1
			known = &k
			continue
		}
		w.events = append(w.events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: address events: %w", err)
	}
	return w, known, nil
}

// Forget blanks the addresses of flows that ended or expired before cutoff
// and drops rate-limit events older than keep and access tokens expired
// before cutoff. Data minimisation: an address
// is kept only while a mail may still need to go to it.
func (tx *Tx) Forget(ctx context.Context, cutoff, keepEvents time.Time) error {
	if _, err := tx.exec(ctx, `UPDATE code_requests SET email = '', data = '' WHERE email <> '' AND expires_at < $1`, micros(cutoff)); err != nil {
		return fmt.Errorf("store: forget addresses: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM address_events WHERE at < $1`, micros(keepEvents)); err != nil {
		return fmt.Errorf("store: forget events: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM client_events WHERE at < $1`, micros(keepEvents)); err != nil {
		return fmt.Errorf("store: forget events: %w", err)
	}
	if _, err := tx.exec(ctx, `DELETE FROM idempotency WHERE created_at < $1`, micros(keepEvents)); err != nil {
		return fmt.Errorf("store: forget idempotency keys: %w", err)
	}
	// "My data" tokens are of no use once expired.
	if _, err := tx.exec(ctx, `DELETE FROM access_tokens WHERE expires_at < $1`, micros(cutoff)); err != nil {
		return fmt.Errorf("store: forget access tokens: %w", err)
	}
	// Console sessions past their absolute expiry, likewise.
	if _, err := tx.exec(ctx, `DELETE FROM operator_sessions WHERE expires_at < $1`, micros(cutoff)); err != nil {
		return fmt.Errorf("store: forget operator sessions: %w", err)
	}
	// An expired assertion is refused before its id is looked at.
	if _, err := tx.exec(ctx, `DELETE FROM assertion_ids WHERE expires_at < $1`, micros(cutoff)); err != nil {
		return fmt.Errorf("store: forget assertion ids: %w", err)
	}
	return nil
}
