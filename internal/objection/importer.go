package objection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/email"
	"github.com/notrain/notrain/internal/jsonlines"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/strictjson"
)

// ImportRecord is one objection that came in by another channel (DESIGN.md):
// either email, or product and account_id.
type ImportRecord struct {
	Email       string          `json:"email"`
	Product     string          `json:"product"`
	AccountID   string          `json:"account_id"`
	Scope       json.RawMessage `json:"scope"`
	ReceivedAt  string          `json:"received_at"`
	EffectiveAt string          `json:"effective_at"`
	Channel     string          `json:"channel"`
	Note        string          `json:"note"`
}

var channelName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// maxImportLine bounds one record: a runaway line must not exhaust memory.
const maxImportLine = 64 << 10

// parseImport validates one record into a newObjection. Unknown keys are
// refused: a misspelt "scope" would widen the objection to all accounts.
func (s *Service) parseImport(line []byte, now time.Time) (newObjection, error) {
	var r ImportRecord
	if err := strictjson.Decode(line, &r); err != nil {
		return newObjection{}, fmt.Errorf("not a valid objection record: %w", err)
	}
	var n newObjection
	switch {
	case r.Email != "" && (r.Product != "" || r.AccountID != ""):
		return n, errors.New("give either email, or product and account_id, not both")
	case r.Email != "":
		// A letter's address is recorded by the operator, as the
		// directory's is: matched the same way (email.ParseRecorded).
		addr, err := email.ParseRecorded(r.Email)
		if err != nil {
			return n, fmt.Errorf("email %q: %w", r.Email, err)
		}
		n.EmailHash = s.keys.EmailHash(addr.Canonical)
	case r.Product != "" && r.AccountID != "":
		if !platform.IsProduct(r.Product) {
			return n, fmt.Errorf("product %q is not a product", r.Product)
		}
		n.Named = []store.AccountKey{{Product: r.Product, AccountID: r.AccountID}}
	default:
		return n, errors.New("give email, or product and account_id")
	}
	scope, err := ParseScopeJSON(r.Scope)
	if err != nil {
		return n, fmt.Errorf("scope %s: use \"all\" or a list of products (%s)", r.Scope, strings.Join(platform.Products(), ", "))
	}
	n.Scope = scope
	if r.EffectiveAt == "" {
		return n, errors.New("effective_at is missing")
	}
	if n.EffectiveAt, err = strictjson.Time(r.EffectiveAt); err != nil {
		return n, fmt.Errorf("effective_at %w", err)
	}
	n.ReceivedAt = n.EffectiveAt
	if r.ReceivedAt != "" {
		if n.ReceivedAt, err = strictjson.Time(r.ReceivedAt); err != nil {
			return n, fmt.Errorf("received_at %w", err)
		}
	}
	switch {
	case n.ReceivedAt.After(n.EffectiveAt):
		return n, errors.New("received_at is after effective_at")
	case n.EffectiveAt.After(now):
		return n, fmt.Errorf("effective_at %s is in the future: an objection takes effect when it is accepted", r.EffectiveAt)
	}
	n.EffectiveAt, n.ReceivedAt = n.EffectiveAt.UTC(), n.ReceivedAt.UTC()
	if !channelName.MatchString(r.Channel) {
		return n, fmt.Errorf("channel %q: lower-case letters, digits and _, e.g. email, letter, import", r.Channel)
	}
	if utf8.RuneCountInString(r.Note) > 1000 {
		return n, errors.New("note is longer than 1000 characters")
	}
	if !plainText(r.Note) {
		return n, errors.New("note contains control characters")
	}
	n.Channel, n.Note = r.Channel, r.Note
	return n, nil
}

// ImportResult is what an objection import did.
type ImportResult struct {
	Records   int
	SHA256    string
	LedgerSeq int64 // the summary entry
}

// Import reads objections (JSON Lines), validates every line first and then
// records them all in one transaction, each with its ledger entry, plus one
// entry for the file: all or nothing.
func (s *Service) Import(ctx context.Context, r io.Reader, source string) (ImportResult, error) {
	now := s.now()
	var recs []newObjection
	sha, _, err := jsonlines.Each(r, maxImportLine, func(_ int, line []byte) error {
		rec, err := s.parseImport(line, now)
		recs = append(recs, rec)
		return err
	})
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Records: len(recs), SHA256: sha}
	err = s.db.Bulk(ctx, func(ctx context.Context, tx *store.Tx) error {
		for _, rec := range recs {
			if _, _, _, err := s.record(ctx, tx, rec, now); err != nil {
				return err
			}
		}
		e, err := tx.Append(ctx, now, ledger.KindObjectionsImported, map[string]any{
			"source": source, "sha256": res.SHA256, "records": len(recs),
		})
		res.LedgerSeq = e.Seq
		return err
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}
