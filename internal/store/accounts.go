package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Account is one platform account in the directory.
type Account struct {
	Product   string
	AccountID string
	EmailHash string // keyed hash of the canonical e-mail; "" when none
	Birthdate string // YYYY-MM-DD; "" when unknown
	Handle    string
	Group     string // link group: accounts of one person across products
}

// AccountKey names an account.
type AccountKey struct {
	Product   string `json:"product"`
	AccountID string `json:"account_id"`
}

// UpsertResult counts what an import changed.
type UpsertResult struct {
	Inserted, Updated, Unchanged int
}

// UpsertAccounts inserts or updates accounts.
func (tx *Tx) UpsertAccounts(ctx context.Context, accts []Account, now time.Time) (UpsertResult, error) {
	var res UpsertResult
	for _, a := range accts {
		var cur Account
		err := tx.queryRow(ctx, `SELECT email_hash, birthdate, handle, link_group FROM accounts WHERE product = $1 AND account_id = $2`,
			a.Product, a.AccountID).Scan(&cur.EmailHash, &cur.Birthdate, &cur.Handle, &cur.Group)
		switch {
		case err == nil:
			if cur.EmailHash == a.EmailHash && cur.Birthdate == a.Birthdate && cur.Handle == a.Handle && cur.Group == a.Group {
				res.Unchanged++
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE accounts SET email_hash = $3, birthdate = $4, handle = $5, link_group = $6, updated_at = $7
				WHERE product = $1 AND account_id = $2`,
				a.Product, a.AccountID, a.EmailHash, a.Birthdate, a.Handle, a.Group, micros(now)); err != nil {
				return res, fmt.Errorf("store: update account %s/%s: %w", a.Product, a.AccountID, err)
			}
			res.Updated++
		case isNoRows(err):
			if _, err := tx.exec(ctx, `INSERT INTO accounts (product, account_id, email_hash, birthdate, handle, link_group, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				a.Product, a.AccountID, a.EmailHash, a.Birthdate, a.Handle, a.Group, micros(now)); err != nil {
				return res, fmt.Errorf("store: insert account %s/%s: %w", a.Product, a.AccountID, err)
			}
			res.Inserted++
		default:
			return res, fmt.Errorf("store: read account %s/%s: %w", a.Product, a.AccountID, err)
		}
	}
	return res, nil
}

const (
	// The address's own accounts and those sharing a link group with one
	// of them (the same person on other products).
	linkedToEmailSQL = `SELECT product, account_id, email_hash, birthdate, handle, link_group
		FROM accounts WHERE email_hash = $1
		UNION
		SELECT a.product, a.account_id, a.email_hash, a.birthdate, a.handle, a.link_group
		FROM accounts d JOIN accounts a ON a.link_group = d.link_group
		WHERE d.email_hash = $1 AND d.link_group <> ''
		ORDER BY product, account_id`
	accountSQL = `SELECT product, account_id, email_hash, birthdate, handle, link_group
		FROM accounts WHERE product = $1 AND account_id = $2`
)

// AccountsLinkedToEmail returns the accounts that use the e-mail hash and
// every account in their link groups.
func (tx *Tx) AccountsLinkedToEmail(ctx context.Context, emailHash string) ([]Account, error) {
	return scanAccounts(tx.query(ctx, linkedToEmailSQL, emailHash))
}

// HasAccountWithEmail reports whether any account uses the e-mail hash.
func (tx *Tx) HasAccountWithEmail(ctx context.Context, emailHash string) (bool, error) {
	if known, ok := tx.known[emailHash]; ok {
		return known, nil // read with the address (LookUpAddress)
	}
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM accounts WHERE email_hash = $1 LIMIT 1) x`, emailHash).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: account lookup: %w", err)
	}
	return n > 0, nil
}

// Account reads one account.
func (tx *Tx) Account(ctx context.Context, k AccountKey) (Account, error) {
	return oneAccount(tx.query(ctx, accountSQL, k.Product, k.AccountID))
}

func oneAccount(rows rows, err error) (Account, error) {
	accts, err := scanAccounts(rows, err)
	if err != nil {
		return Account{}, err
	}
	if len(accts) == 0 {
		return Account{}, ErrNotFound
	}
	return accts[0], nil
}

// AccountsInGroups returns every account in the given link groups.
func (tx *Tx) AccountsInGroups(ctx context.Context, groups []string) ([]Account, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	q, args := inGroupsSQL(groups)
	return scanAccounts(tx.query(ctx, q, args...))
}

func inGroupsSQL(groups []string) (string, []any) {
	args := make([]any, len(groups))
	ph := make([]string, len(groups))
	for i, g := range groups {
		args[i] = g
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return `SELECT product, account_id, email_hash, birthdate, handle, link_group
		FROM accounts WHERE link_group IN (` + strings.Join(ph, ", ") + `) ORDER BY product, account_id`, args
}

// View is a read-only transaction: reads that must agree with each other
// without taking the writer's turn (and, on PostgreSQL, its locks).
type View struct{ tx *sql.Tx }

// View runs fn in one read-only transaction.
func (db *DB) View(ctx context.Context, fn func(context.Context, *View) error) error {
	tx, err := db.readTx(ctx)
	if err != nil {
		return fmt.Errorf("store: read: %w", err)
	}
	defer tx.Rollback()
	return fn(ctx, &View{tx: tx})
}

// AccountsLinkedToEmail returns the accounts that use the e-mail hash and
// every account in their link groups.
func (v *View) AccountsLinkedToEmail(ctx context.Context, emailHash string) ([]Account, error) {
	return scanAccounts(v.tx.QueryContext(ctx, linkedToEmailSQL, emailHash))
}

// Account reads one account.
func (v *View) Account(ctx context.Context, k AccountKey) (Account, error) {
	return oneAccount(v.tx.QueryContext(ctx, accountSQL, k.Product, k.AccountID))
}

// AccountsInGroups returns every account in the given link groups.
func (v *View) AccountsInGroups(ctx context.Context, groups []string) ([]Account, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	q, args := inGroupsSQL(groups)
	return scanAccounts(v.tx.QueryContext(ctx, q, args...))
}

// Accounts looks up accounts by key; missing ones are left out.
func (db *DB) Accounts(ctx context.Context, keys []AccountKey) ([]Account, error) {
	var out []Account
	for _, k := range keys {
		a, err := scanAccounts(db.r.QueryContext(ctx, `SELECT product, account_id, email_hash, birthdate, handle, link_group
			FROM accounts WHERE product = $1 AND account_id = $2`, k.Product, k.AccountID))
		if err != nil {
			return nil, err
		}
		out = append(out, a...)
	}
	return out, nil
}

func scanAccounts(rows rows, err error) ([]Account, error) {
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.Product, &a.AccountID, &a.EmailHash, &a.Birthdate, &a.Handle, &a.Group); err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// RefreshStatistics has PostgreSQL sample the account directory now, after
// a bulk import. Until autovacuum gets to it, the planner plans from what
// it saw before (an empty table, after a first import) and reads the whole
// directory for every objection's linked accounts: at 1,000 objections/s
// that was 30,000 rows read per objection (bench/surge.sh). SQLite's
// planner uses the indexes without statistics; there it does nothing.
func (db *DB) RefreshStatistics(ctx context.Context) error {
	if db.dialect != Postgres {
		return nil
	}
	if _, err := db.w.ExecContext(ctx, "ANALYZE accounts"); err != nil {
		return fmt.Errorf("store: analyze accounts: %w", err)
	}
	return nil
}
