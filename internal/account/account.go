// Package account reads the platform's account directory (JSON Lines, see
// DESIGN.md) and imports it all-or-nothing.
package account

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/notrain/notrain/internal/email"
	"github.com/notrain/notrain/internal/jsonlines"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/strictjson"
)

// MaxLine is the longest line accepted (1 MiB): an account record is small,
// and a runaway line must not exhaust memory.
const MaxLine = 1 << 20

// Record is one line of an account file.
type Record struct {
	Product   string `json:"product"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Birthdate string `json:"birthdate"`
	Handle    string `json:"handle"`
	Group     string `json:"group"`
}

// ParseLine decodes and validates one record. Unknown keys are refused:
// a misspelt "email" would leave the account unmatched by objections.
func ParseLine(line []byte) (Record, error) {
	var r Record
	if err := strictjson.Decode(line, &r); err != nil {
		return Record{}, fmt.Errorf("not a valid account record: %w", err)
	}
	if !platform.IsProduct(r.Product) {
		return r, fmt.Errorf("product %q is not one of %s", r.Product, strings.Join(platform.Products(), ", "))
	}
	if err := checkText("account_id", r.AccountID, true); err != nil {
		return r, err
	}
	if err := checkText("handle", r.Handle, false); err != nil {
		return r, err
	}
	if err := checkText("group", r.Group, false); err != nil {
		return r, err
	}
	if r.Email != "" {
		if _, err := email.ParseRecorded(r.Email); err != nil {
			return r, fmt.Errorf("email %q: %w", r.Email, err)
		}
	}
	if r.Birthdate != "" {
		d, err := time.Parse(time.DateOnly, r.Birthdate)
		if err != nil {
			return r, fmt.Errorf("birthdate %q is not a date (YYYY-MM-DD)", r.Birthdate)
		}
		if d.Year() < 1900 || d.After(time.Now()) {
			return r, fmt.Errorf("birthdate %q is not plausible", r.Birthdate)
		}
	}
	return r, nil
}

func checkText(field, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("%s is missing or empty", field)
		}
		return nil
	}
	if len(v) > 256 {
		return fmt.Errorf("%s is longer than 256 bytes", field)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return fmt.Errorf("%s contains control characters", field)
	}
	return nil
}

// Parsed is a validated account file.
type Parsed struct {
	Accounts []store.Account
	Lines    int
	SHA256   string
	Bytes    int64
}

// Parse reads a whole account file, validating every line. The first bad
// line stops it with a *jsonlines.LineError; e-mail addresses leave it only
// as keyed hashes.
func Parse(r io.Reader, keys *secret.Keys) (Parsed, error) {
	var p Parsed
	seen := map[store.AccountKey]int{}
	sha, size, err := jsonlines.Each(r, MaxLine, func(n int, line []byte) error {
		rec, err := ParseLine(line)
		if err != nil {
			return err
		}
		k := store.AccountKey{Product: rec.Product, AccountID: rec.AccountID}
		if first, dup := seen[k]; dup {
			return fmt.Errorf("account %s/%s already appears on line %d", k.Product, k.AccountID, first)
		}
		seen[k] = n
		a := store.Account{Product: rec.Product, AccountID: rec.AccountID, Birthdate: rec.Birthdate, Handle: rec.Handle, Group: rec.Group}
		if rec.Email != "" {
			addr, _ := email.ParseRecorded(rec.Email) // validated by ParseLine
			a.EmailHash = keys.EmailHash(addr.Canonical)
		}
		p.Accounts = append(p.Accounts, a)
		p.Lines = n
		return nil
	})
	p.SHA256, p.Bytes = sha, size
	return p, err
}

// Result is what an import did.
type Result struct {
	store.UpsertResult
	Records   int
	LedgerSeq int64
	SHA256    string
}

// Import validates the whole file first, then writes every account and one
// ledger entry in a single transaction: either all of it lands or none.
func Import(ctx context.Context, db *store.DB, keys *secret.Keys, r io.Reader, source string, now time.Time) (Result, error) {
	p, err := Parse(r, keys)
	if err != nil {
		return Result{}, err
	}
	return Store(ctx, db, p, source, now)
}

// Store writes parsed accounts and their ledger entry in one transaction.
func Store(ctx context.Context, db *store.DB, p Parsed, source string, now time.Time) (Result, error) {
	res := Result{Records: len(p.Accounts), SHA256: p.SHA256}
	err := db.Bulk(ctx, func(ctx context.Context, tx *store.Tx) error {
		up, err := tx.UpsertAccounts(ctx, p.Accounts, now)
		if err != nil {
			return err
		}
		res.UpsertResult = up
		e, err := tx.Append(ctx, now, ledger.KindAccountsImported, map[string]any{
			"source":    source,
			"sha256":    p.SHA256,
			"records":   len(p.Accounts),
			"inserted":  up.Inserted,
			"updated":   up.Updated,
			"unchanged": up.Unchanged,
		})
		res.LedgerSeq = e.Seq
		return err
	})
	if err != nil {
		return Result{}, err
	}
	// The import has committed; statistics only speed up what follows,
	// so failing to refresh them does not undo or fail it.
	_ = db.RefreshStatistics(ctx)
	return res, nil
}
