package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/notrain/notrain/internal/ledger"
)

// EvidenceRead is what an evidence export reads about one reference, at
// one moment (one read transaction).
type EvidenceRead struct {
	// Entries are the ledger entries whose body names the reference (or a
	// reference it lists) as a JSON string, in ledger order.
	Entries []ledger.Entry
	// Requests are the code requests whose result is the reference.
	Requests []string
	// Mails are the mails queued for those requests: metadata only.
	Mails []MailRecord
	// Accounts are the accounts the decision covers (an objection's or a
	// consent's, or those of what a withdrawal ended).
	Accounts []AccountKey
	// Snapshots are those registered after the reference's first entry.
	Snapshots []SnapshotRecordRow
}

// MailRecord is a queued mail as evidence shows it: never its text or
// subject (a code mail's hold the code), never its recipient.
type MailRecord struct {
	ID        string
	RequestID string
	Kind      string
	Status    string // queued | sent | abandoned
	Attempts  int64
	CreatedAt time.Time
	SentAt    time.Time // zero: not sent
}

// SnapshotRecordRow is a registered snapshot's header.
type SnapshotRecordRow struct {
	ID             string
	CreatedAt      time.Time
	AsOf           time.Time
	LedgerSeq      int64
	PolicySHA256   string
	ManifestSHA256 string
	Read, Kept     int64
}

// ReadEvidence reads everything recorded about a reference. The reference
// must be a plain token (letters, digits, hyphens): it is matched inside
// ledger bodies.
func (db *DB) ReadEvidence(ctx context.Context, reference string) (EvidenceRead, error) {
	var ev EvidenceRead
	for _, r := range reference {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return ev, fmt.Errorf("store: evidence: %q is not a reference", reference)
		}
	}
	tx, err := db.readTx(ctx)
	if err != nil {
		return ev, fmt.Errorf("store: evidence: %w", err)
	}
	defer tx.Rollback()
	// The decision's own entries, then those of the references they list
	// (the objections a withdrawal ended, and so on): one level deep.
	refs, err := linkedReferences(ctx, tx, reference)
	if err != nil {
		return ev, err
	}
	seen := map[int64]bool{}
	for _, ref := range refs {
		rows, err := tx.QueryContext(ctx, `SELECT seq, at, kind, body, prev_hash, hash FROM ledger WHERE body LIKE $1 ORDER BY seq`, `%"`+ref+`"%`)
		if err != nil {
			return ev, fmt.Errorf("store: evidence entries: %w", err)
		}
		for rows.Next() {
			var e ledger.Entry
			var body string
			if err := rows.Scan(&e.Seq, &e.At, &e.Kind, &body, &e.PrevHash, &e.Hash); err != nil {
				rows.Close()
				return ev, fmt.Errorf("store: evidence entries: %w", err)
			}
			e.Body = []byte(body)
			if !seen[e.Seq] {
				seen[e.Seq] = true
				ev.Entries = append(ev.Entries, e)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return ev, fmt.Errorf("store: evidence entries: %w", err)
		}
	}
	sortEntries(ev.Entries)
	if len(ev.Entries) == 0 {
		return ev, ErrNotFound
	}
	if err := scanAll(ctx, tx, `SELECT id FROM code_requests WHERE result_ref = $1 ORDER BY created_at, id`, []any{reference},
		func(r interface{ Scan(...any) error }) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			ev.Requests = append(ev.Requests, id)
			return nil
		}); err != nil {
		return ev, fmt.Errorf("store: evidence requests: %w", err)
	}
	for _, rid := range ev.Requests {
		if err := scanAll(ctx, tx, `SELECT id, request_id, kind, status, attempts, created_at, sent_at FROM outbox
			WHERE request_id = $1 ORDER BY created_at, id`, []any{rid}, func(r interface{ Scan(...any) error }) error {
			var m MailRecord
			var created, sent int64
			if err := r.Scan(&m.ID, &m.RequestID, &m.Kind, &m.Status, &m.Attempts, &created, &sent); err != nil {
				return err
			}
			m.CreatedAt, m.SentAt = fromMicros(created), fromMicros(sent)
			ev.Mails = append(ev.Mails, m)
			return nil
		}); err != nil {
			return ev, fmt.Errorf("store: evidence mails: %w", err)
		}
	}
	if err := scanAll(ctx, tx, `SELECT product, account_id FROM objection_accounts WHERE objection_id = $1
			OR objection_id IN (SELECT id FROM objections WHERE withdrawal_ref = $1)
		UNION SELECT product, account_id FROM consent_accounts WHERE consent_id = $1
			OR consent_id IN (SELECT id FROM consents WHERE withdrawal_ref = $1)
		ORDER BY product, account_id`, []any{reference}, func(r interface{ Scan(...any) error }) error {
		var k AccountKey
		if err := r.Scan(&k.Product, &k.AccountID); err != nil {
			return err
		}
		ev.Accounts = append(ev.Accounts, k)
		return nil
	}); err != nil {
		return ev, fmt.Errorf("store: evidence accounts: %w", err)
	}
	if err := scanAll(ctx, tx, `SELECT id, created_at, as_of, ledger_seq, policy_sha256, manifest_sha256, records_read, records_kept
		FROM snapshots WHERE ledger_seq > $1 ORDER BY ledger_seq`, []any{ev.Entries[0].Seq}, func(r interface{ Scan(...any) error }) error {
		var s SnapshotRecordRow
		var created, asOf int64
		if err := r.Scan(&s.ID, &created, &asOf, &s.LedgerSeq, &s.PolicySHA256, &s.ManifestSHA256, &s.Read, &s.Kept); err != nil {
			return err
		}
		s.CreatedAt, s.AsOf = fromMicros(created), fromMicros(asOf)
		ev.Snapshots = append(ev.Snapshots, s)
		return nil
	}); err != nil {
		return ev, fmt.Errorf("store: evidence snapshots: %w", err)
	}
	return ev, nil
}

// linkedReferences is the reference and the references its own entries
// list (a withdrawal's "objections", "consents"), and for a report the
// case it followed up or the report that followed it up.
func linkedReferences(ctx context.Context, tx *sql.Tx, reference string) ([]string, error) {
	refs := []string{reference}
	for _, q := range []string{
		`SELECT id FROM objections WHERE withdrawal_ref = $1 ORDER BY id`,
		`SELECT id FROM consents WHERE withdrawal_ref = $1 ORDER BY id`,
		// A report and the case it followed up (superseded), both ways.
		`SELECT follows FROM reports WHERE id = $1 AND follows <> ''`,
		`SELECT id FROM reports WHERE follows = $1 ORDER BY id`,
	} {
		if err := scanAll(ctx, tx, q, []any{reference}, func(r interface{ Scan(...any) error }) error {
			var id string
			if err := r.Scan(&id); err != nil {
				return err
			}
			refs = append(refs, id)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: evidence references: %w", err)
		}
	}
	return refs, nil
}

func sortEntries(es []ledger.Entry) {
	slices.SortFunc(es, func(a, b ledger.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
}

// scanAll runs a query and calls fn for each row.
func scanAll(ctx context.Context, q *sql.Tx, query string, args []any, fn func(interface{ Scan(...any) error }) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
