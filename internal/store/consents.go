package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Consent is a consent to training on a person's content (policy mode
// consent): in force from GivenAt until WithdrawnAt (zero: not withdrawn).
type Consent struct {
	ID            string // the reference number
	EmailHash     string
	Scope         string
	Channel       string
	Lang          string
	RequestID     string
	GivenAt       time.Time
	WithdrawnAt   time.Time
	WithdrawalRef string
	// RemainderOf is the consent this one continues: a withdrawal for
	// some products ended it and this one covers its other accounts from
	// the same moment on.
	RemainderOf string
	LedgerSeq   int64
	Accounts    []AccountKey
}

// InsertConsent stores a consent and the accounts it covers.
func (tx *Tx) InsertConsent(ctx context.Context, c Consent) error {
	err := tx.write(ctx, "insert consent", `INSERT INTO consents (id, email_hash, scope, channel, given_at, withdrawn_at,
		ledger_seq, lang, request_id, withdrawal_ref, remainder_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.EmailHash, c.Scope, c.Channel, micros(c.GivenAt), micros(c.WithdrawnAt), c.LedgerSeq, c.Lang, c.RequestID, c.WithdrawalRef,
		c.RemainderOf)
	if err != nil {
		return err
	}
	for _, a := range c.Accounts {
		if err := tx.write(ctx, "insert consent account", `INSERT INTO consent_accounts (consent_id, product, account_id) VALUES ($1, $2, $3)`,
			c.ID, a.Product, a.AccountID); err != nil {
			return err
		}
	}
	return nil
}

// ConsentsInForceFor returns the consents not withdrawn, with the
// accounts each covers, that were given with the e-mail hash or cover an
// account that uses it, and were recorded no later than recordedBy: a
// withdrawal ends what was in force when it was asked for. A remainder
// counts as recorded when the consent it continues was: a withdrawal for
// some products in between must not shield the other accounts from a
// withdrawal asked for before it. It reads under the ledger head's lock, as
// ObjectionsInForceFor does, so no consent is recorded in between.
func (tx *Tx) ConsentsInForceFor(ctx context.Context, emailHash string, recordedBy time.Time) ([]Consent, error) {
	if tx.head == nil {
		if err := tx.loadHead(ctx); err != nil {
			return nil, err
		}
	}
	rows, err := tx.query(ctx, `SELECT c.id, c.email_hash, c.scope, c.channel, c.lang, c.given_at, c.ledger_seq, c.remainder_of,
		COALESCE(l.at, 0)
		FROM consents c LEFT JOIN ledger l ON l.seq = c.ledger_seq
		WHERE c.withdrawn_at = 0 AND (
			c.email_hash = $1 OR c.id IN (
				SELECT ca.consent_id FROM consent_accounts ca
				JOIN accounts a ON a.product = ca.product AND a.account_id = ca.account_id
				WHERE a.email_hash = $1))
		ORDER BY c.id`, emailHash)
	if err != nil {
		return nil, fmt.Errorf("store: consents in force: %w", err)
	}
	type found struct {
		c        Consent
		recorded int64
	}
	var all []found
	for rows.Next() {
		var f found
		var given int64
		if err := rows.Scan(&f.c.ID, &f.c.EmailHash, &f.c.Scope, &f.c.Channel, &f.c.Lang, &given, &f.c.LedgerSeq,
			&f.c.RemainderOf, &f.recorded); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: consents in force: %w", err)
		}
		f.c.GivenAt = fromMicros(given)
		all = append(all, f)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: consents in force: %w", err)
	}
	// Rows are read before further queries: a transaction has one
	// connection.
	var out []Consent
	for _, f := range all {
		recorded := f.recorded
		if f.c.RemainderOf != "" {
			if recorded, err = tx.consentRecorded(ctx, f.c.RemainderOf); err != nil {
				return nil, err
			}
		}
		if recorded > micros(recordedBy) {
			continue
		}
		if f.c.Accounts, err = tx.consentAccounts(ctx, f.c.ID); err != nil {
			return nil, err
		}
		out = append(out, f.c)
	}
	return out, nil
}

// consentRecorded is when the consent that a chain of remainders starts
// from was recorded (its ledger entry's time).
func (tx *Tx) consentRecorded(ctx context.Context, id string) (int64, error) {
	for range 1000 {
		var parent string
		var at int64
		err := tx.queryRow(ctx, `SELECT c.remainder_of, COALESCE(l.at, 0) FROM consents c LEFT JOIN ledger l ON l.seq = c.ledger_seq
			WHERE c.id = $1`, id).Scan(&parent, &at)
		if err != nil {
			return 0, fmt.Errorf("store: consent %s: %w", id, err)
		}
		if parent == "" {
			return at, nil
		}
		id = parent
	}
	return 0, fmt.Errorf("store: consent %s: remainders too deep", id)
}

func (tx *Tx) consentAccounts(ctx context.Context, id string) ([]AccountKey, error) {
	rows, err := tx.query(ctx, `SELECT product, account_id FROM consent_accounts WHERE consent_id = $1
		ORDER BY product, account_id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: consent accounts: %w", err)
	}
	defer rows.Close()
	var keys []AccountKey
	for rows.Next() {
		var k AccountKey
		if err := rows.Scan(&k.Product, &k.AccountID); err != nil {
			return nil, fmt.Errorf("store: consent accounts: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: consent accounts: %w", err)
	}
	return keys, nil
}

// WithdrawConsent ends a consent at the moment given.
func (tx *Tx) WithdrawConsent(ctx context.Context, id, withdrawalRef string, at time.Time) error {
	return tx.writeChecked(ctx, "withdraw consent", func(n int64) error {
		if n != 1 {
			return fmt.Errorf("store: withdraw consent %s: not in force", id)
		}
		return nil
	}, `UPDATE consents SET withdrawn_at = $2, withdrawal_ref = $3 WHERE id = $1 AND withdrawn_at = 0`,
		id, micros(at), withdrawalRef)
}

// ConsentWithdrawal records that a person withdrew their consents, for
// every product or for some.
type ConsentWithdrawal struct {
	ID          string
	EmailHash   string
	RequestID   string
	Channel     string
	Scope       string // "all" or the products, as a consent's
	WithdrawnAt time.Time
	Ended       int
	// ProductsEnded are the products whose consent it ended; ProductsKept
	// those the address's consents still covered after it.
	ProductsEnded []string
	ProductsKept  []string
	LedgerSeq     int64
}

// InsertConsentWithdrawal stores a withdrawal of consent.
func (tx *Tx) InsertConsentWithdrawal(ctx context.Context, w ConsentWithdrawal) error {
	scope := w.Scope
	if scope == "" {
		scope = "all"
	}
	return tx.write(ctx, "insert consent withdrawal", `INSERT INTO consent_withdrawals (id, email_hash, request_id, channel,
		withdrawn_at, ended, ledger_seq, scope, products_ended, products_kept) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		w.ID, w.EmailHash, w.RequestID, w.Channel, micros(w.WithdrawnAt), w.Ended, w.LedgerSeq, scope,
		strings.Join(w.ProductsEnded, ","), strings.Join(w.ProductsKept, ","))
}

// Consent reads a consent with the accounts it covers.
func (db *DB) Consent(ctx context.Context, id string) (Consent, error) {
	var c Consent
	var given, wd int64
	err := db.r.QueryRowContext(ctx, `SELECT id, email_hash, scope, channel, given_at, withdrawn_at, ledger_seq, lang,
		request_id, withdrawal_ref, remainder_of FROM consents WHERE id = $1`, id).
		Scan(&c.ID, &c.EmailHash, &c.Scope, &c.Channel, &given, &wd, &c.LedgerSeq, &c.Lang, &c.RequestID, &c.WithdrawalRef, &c.RemainderOf)
	if isNoRows(err) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("store: consent: %w", err)
	}
	c.GivenAt, c.WithdrawnAt = fromMicros(given), fromMicros(wd)
	rows, err := db.r.QueryContext(ctx, `SELECT product, account_id FROM consent_accounts WHERE consent_id = $1
		ORDER BY product, account_id`, id)
	if err != nil {
		return c, fmt.Errorf("store: consent accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k AccountKey
		if err := rows.Scan(&k.Product, &k.AccountID); err != nil {
			return c, fmt.Errorf("store: consent accounts: %w", err)
		}
		c.Accounts = append(c.Accounts, k)
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("store: consent accounts: %w", err)
	}
	return c, nil
}

// ConsentWithdrawal reads a withdrawal of consent.
func (db *DB) ConsentWithdrawal(ctx context.Context, id string) (ConsentWithdrawal, error) {
	var w ConsentWithdrawal
	var at int64
	var ended, kept string
	err := db.r.QueryRowContext(ctx, `SELECT id, email_hash, request_id, channel, withdrawn_at, ended, ledger_seq, scope,
		products_ended, products_kept FROM consent_withdrawals WHERE id = $1`, id).Scan(&w.ID, &w.EmailHash, &w.RequestID,
		&w.Channel, &at, &w.Ended, &w.LedgerSeq, &w.Scope, &ended, &kept)
	if isNoRows(err) {
		return w, ErrNotFound
	}
	if err != nil {
		return w, fmt.Errorf("store: consent withdrawal: %w", err)
	}
	w.WithdrawnAt = fromMicros(at)
	w.ProductsEnded, w.ProductsKept = splitList(ended), splitList(kept)
	return w, nil
}

// splitList reads a comma-separated list; the empty string is no items.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ConsentsOf lists the consents given with the e-mail hash, oldest first,
// with the accounts each covers: what "my data" shows. Only the address's
// own consents: one given by another address for a shared account is that
// address's data.
func (db *DB) ConsentsOf(ctx context.Context, emailHash string) ([]Consent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, email_hash, scope, channel, given_at, withdrawn_at, ledger_seq, lang,
		request_id, withdrawal_ref, remainder_of FROM consents WHERE email_hash = $1 ORDER BY given_at, id`, emailHash)
	if err != nil {
		return nil, fmt.Errorf("store: consents of: %w", err)
	}
	var out []Consent
	for rows.Next() {
		var c Consent
		var given, wd int64
		if err := rows.Scan(&c.ID, &c.EmailHash, &c.Scope, &c.Channel, &given, &wd, &c.LedgerSeq, &c.Lang, &c.RequestID,
			&c.WithdrawalRef, &c.RemainderOf); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: consents of: %w", err)
		}
		c.GivenAt, c.WithdrawnAt = fromMicros(given), fromMicros(wd)
		out = append(out, c)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: consents of: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	accts, err := db.r.QueryContext(ctx, `SELECT ca.consent_id, ca.product, ca.account_id FROM consent_accounts ca
		JOIN consents c ON c.id = ca.consent_id WHERE c.email_hash = $1 ORDER BY ca.consent_id, ca.product, ca.account_id`, emailHash)
	if err != nil {
		return nil, fmt.Errorf("store: consents of, accounts: %w", err)
	}
	defer accts.Close()
	byID := make(map[string]*Consent, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	for accts.Next() {
		var id string
		var k AccountKey
		if err := accts.Scan(&id, &k.Product, &k.AccountID); err != nil {
			return nil, fmt.Errorf("store: consents of, accounts: %w", err)
		}
		if c := byID[id]; c != nil {
			c.Accounts = append(c.Accounts, k)
		}
	}
	if err := accts.Err(); err != nil {
		return nil, fmt.Errorf("store: consents of, accounts: %w", err)
	}
	return out, nil
}
