package store

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	"github.com/notrain/notrain/internal/ledger"
)

// AccountRow is a directory account as eligibility reads it.
type AccountRow struct {
	Product, AccountID, EmailHash, Birthdate, Group string
}

// GrantRow is an accepted objection or a given consent, before anyone
// expands it to the accounts it covers.
type GrantRow struct {
	EmailHash string       // "" when the grant names accounts only
	Accounts  []AccountKey // accounts named explicitly (at acceptance, or by import)
	Products  []string     // scope; empty = all products
	From, To  int64        // in force from (effective or given) to (withdrawn; 0 = not), Unix µs
}

// EligibilityRead is one consistent read of everything eligibility depends
// on, at one ledger head.
type EligibilityRead struct {
	ctx  context.Context
	tx   *sql.Tx
	head ledger.Head
}

// ReadEligibility runs fn over one consistent read of the store (one read
// transaction, so one ledger head).
func (db *DB) ReadEligibility(ctx context.Context, fn func(*EligibilityRead) error) error {
	tx, err := db.readTx(ctx)
	if err != nil {
		return fmt.Errorf("store: eligibility read: %w", err)
	}
	defer tx.Rollback()
	src := &EligibilityRead{ctx: ctx, tx: tx}
	if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM ledger_head WHERE id = 1").Scan(&src.head.Seq, &src.head.Hash); err != nil {
		return fmt.Errorf("store: eligibility read: %w", err)
	}
	return fn(src)
}

// DirectorySize is the number of accounts and the bytes of their ids, to
// size a snapshot before reading it.
func (db *DB) DirectorySize(ctx context.Context) (accounts, idBytes int, err error) {
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(LENGTH(account_id)), 0) FROM accounts").Scan(&accounts, &idBytes); err != nil {
		return 0, 0, fmt.Errorf("store: directory size: %w", err)
	}
	return accounts, idBytes, nil
}

// Head is the ledger head the read sees.
func (s *EligibilityRead) Head() ledger.Head { return s.head }

// Accounts streams the directory in (product, account id) order.
func (s *EligibilityRead) Accounts(fn func(AccountRow) error) error {
	rows, err := s.tx.QueryContext(s.ctx, `SELECT product, account_id, email_hash, birthdate, link_group
		FROM accounts ORDER BY product, account_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var a AccountRow
	for rows.Next() {
		if err := rows.Scan(&a.Product, &a.AccountID, &a.EmailHash, &a.Birthdate, &a.Group); err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// grants reads objections or consents with the accounts they name, merging
// two ordered scans instead of one query per grant.
func (s *EligibilityRead) grants(main, accounts string, fn func(GrantRow) error) error {
	named := map[string][]AccountKey{}
	rows, err := s.tx.QueryContext(s.ctx, accounts)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var k AccountKey
		if err := rows.Scan(&id, &k.Product, &k.AccountID); err != nil {
			rows.Close()
			return err
		}
		named[id] = append(named[id], k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = s.tx.QueryContext(s.ctx, main)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, emailHash, scope string
		var g GrantRow
		if err := rows.Scan(&id, &emailHash, &scope, &g.From, &g.To); err != nil {
			return err
		}
		g.EmailHash, g.Accounts = emailHash, named[id]
		if scope != "all" && scope != "" {
			g.Products = strings.Split(scope, ",")
		}
		if err := fn(g); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Objections streams the objections in force at some time: accepted ones.
func (s *EligibilityRead) Objections(fn func(GrantRow) error) error {
	// In review or rejected objections are not in force; their effective_at is 0.
	return s.grants(`SELECT id, email_hash, scope, effective_at, withdrawn_at FROM objections
		WHERE status = 'accepted' AND effective_at <> 0 ORDER BY id`,
		`SELECT objection_id, product, account_id FROM objection_accounts ORDER BY objection_id, product, account_id`, fn)
}

// Consents streams every consent.
func (s *EligibilityRead) Consents(fn func(GrantRow) error) error {
	return s.grants(`SELECT id, email_hash, scope, given_at, withdrawn_at FROM consents ORDER BY id`,
		`SELECT consent_id, product, account_id FROM consent_accounts ORDER BY consent_id, product, account_id`, fn)
}

// ItemExclusions streams the excluded item ids.
func (s *EligibilityRead) ItemExclusions(fn func(string) error) error {
	rows, err := s.tx.QueryContext(s.ctx, "SELECT item_id FROM item_exclusions ORDER BY item_id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SnapshotRecord is a registered training snapshot.
type SnapshotRecord struct {
	ID             string
	CreatedAt      int64
	AsOf           int64
	PolicySHA256   string
	Eligibility    ledger.Head
	Read, Kept     int64
	Manifest       string
	ManifestSHA256 string
	// Accounts is what the snapshot kept of each account (items > 0),
	// stored with the registration so a person can be told.
	Accounts iter.Seq[AccountItems]
}

// RegisterSnapshot stores a snapshot with its manifest and what it kept of
// each account, and records it in the ledger: all of it or, on error,
// nothing.
func (tx *Tx) RegisterSnapshot(ctx context.Context, s SnapshotRecord, entry map[string]any) (ledger.Entry, error) {
	e, err := tx.Append(ctx, fromMicros(s.CreatedAt), ledger.KindSnapshotRegistered, entry)
	if err != nil {
		return e, err
	}
	_, err = tx.exec(ctx, `INSERT INTO snapshots (id, created_at, as_of, policy_sha256, eligibility_seq, eligibility_hash,
		records_read, records_kept, manifest, manifest_sha256, ledger_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		s.ID, s.CreatedAt, s.AsOf, s.PolicySHA256, s.Eligibility.Seq, s.Eligibility.Hash, s.Read, s.Kept, s.Manifest, s.ManifestSHA256, e.Seq)
	if err != nil {
		return e, fmt.Errorf("store: register snapshot: %w", err)
	}
	return e, tx.storeLineage(ctx, s.ID, s.Accounts)
}
