// Package mydata answers a person's "my data" request (GDPR Art. 15): for
// every account an address and its link groups cover, the objections and
// withdrawals, the snapshots that kept content of those accounts and the
// models trained on them; and the consents and reports the address itself
// gave and filed. The person proves the address with a one-time
// code (objection.FlowAccess) and presents the access token it bought.
package mydata

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/account"
	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// ErrUnauthorized is the one answer for a missing, unknown or expired token.
var ErrUnauthorized = errors.New("mydata: no valid access token")

// Receipts gives the receipt of a ledger entry (c2sp.org/tlog-proof), as
// receipt.Maker does. A nil Receipts leaves receipts empty.
type Receipts interface {
	Receipt(ctx context.Context, ledgerSeq int64) ([]byte, error)
}

// Service reads a person's data.
type Service struct {
	db       *store.DB
	keys     *secret.Keys
	receipts Receipts
	now      func() time.Time
}

// New makes a Service; receipts may be nil.
func New(db *store.DB, keys *secret.Keys, receipts Receipts, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keys: keys, receipts: receipts, now: now}
}

// Account is one account the address covers.
type Account struct {
	Product   string `json:"product"`
	AccountID string `json:"account_id"`
}

// Objection is one objection of the person, with its state now.
type Objection struct {
	Reference   string  `json:"reference"`
	Status      string  `json:"status"` // accepted | in_review | rejected | withdrawn
	Scope       string  `json:"scope"`
	EffectiveAt *string `json:"effective_at"`
	WithdrawnAt *string `json:"withdrawn_at"`
	Receipt     string  `json:"receipt"`
	// WithdrawalRef is the withdrawal that ended it, for the page.
	WithdrawalRef string `json:"-"`
	LedgerSeq     int64  `json:"-"`
}

// Withdrawal is one withdrawal of the person.
type Withdrawal struct {
	Reference       string `json:"reference"`
	WithdrawnAt     string `json:"withdrawn_at"`
	ObjectionsEnded int64  `json:"objections_ended"`
	Receipt         string `json:"receipt"`
}

// Snapshot is one snapshot that kept content of the person's accounts.
type Snapshot struct {
	SnapshotID string           `json:"snapshot_id"`
	AsOf       string           `json:"as_of"`
	Items      map[string]int64 `json:"items"` // "<product>:<account_id>" → items kept
	// ObjectionInForce: an objection of the person was in force at AsOf.
	ObjectionInForce bool `json:"objection_in_force"`
}

// Model is a model trained on one of those snapshots.
type Model struct {
	Name      string   `json:"name"`
	Snapshots []string `json:"snapshots"`
	TrainedAt *string  `json:"trained_at"`
}

// Consent is one consent to training the person gave (policy mode
// consent), with the accounts it covered when it was given.
type Consent struct {
	Reference   string    `json:"reference"`
	GivenAt     string    `json:"given_at"`
	WithdrawnAt *string   `json:"withdrawn_at"`
	Scope       string    `json:"scope"`
	Accounts    []Account `json:"accounts"`
	Receipt     string    `json:"receipt"`
}

// Report is one report of content that shows the person, with its state.
// What the person wrote about themselves is not listed: a final decision
// blanks it, and until then it is what they sent.
type Report struct {
	Reference  string   `json:"reference"`
	ReceivedAt string   `json:"received_at"`
	Status     string   `json:"status"` // in_review | info_requested | approved | rejected | superseded
	Items      []string `json:"items"`
	DecidedAt  *string  `json:"decided_at"`
	Receipt    string   `json:"receipt"`
}

// Overview is everything notrain holds about an address. Every list is
// present (never null), so known and unknown addresses look alike.
type Overview struct {
	Accounts   []Account   `json:"accounts"`
	Objections []Objection `json:"objections"`
	// Withdrawals is beyond the documented answer's four lists: GDPR
	// Art. 15 covers every decision, and a withdrawal has its own receipt.
	Withdrawals []Withdrawal `json:"withdrawals"`
	Snapshots   []Snapshot   `json:"snapshots"`
	Models      []Model      `json:"models"`
	// Consents and Reports are the address's own: matched on its keyed
	// e-mail hash, not on the accounts it covers, since a consent or a
	// report another address filed for a shared account is that
	// address's data.
	Consents []Consent `json:"consents"`
	Reports  []Report  `json:"reports"`
}

// Authenticate returns the e-mail hash an access token answers for.
func (s *Service) Authenticate(ctx context.Context, tok string) (string, error) {
	if !strings.HasPrefix(tok, objection.AccessTokenPrefix) || len(tok) > 200 {
		return "", ErrUnauthorized
	}
	t, err := s.db.AccessTokenByHash(ctx, s.keys.TokenHash(objection.AccessTokenKind, tok))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrUnauthorized
	case err != nil:
		return "", err
	case !s.now().Before(t.ExpiresAt):
		return "", ErrUnauthorized
	}
	return t.EmailHash, nil
}

func stamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// Overview reads everything about the address with the e-mail hash.
func (s *Service) Overview(ctx context.Context, emailHash string) (Overview, error) {
	ov := Overview{Accounts: []Account{}, Objections: []Objection{}, Withdrawals: []Withdrawal{}, Snapshots: []Snapshot{}, Models: []Model{},
		Consents: []Consent{}, Reports: []Report{}}
	var accts []store.Account
	// The same expansion an objection gets, so "my data" covers what an
	// objection would; read-only, so looking never holds up a writer.
	err := s.db.View(ctx, func(ctx context.Context, v *store.View) error {
		var err error
		accts, err = account.Covered(ctx, v, emailHash, nil, func(string) bool { return true })
		return err
	})
	if err != nil {
		return Overview{}, err
	}
	keys := make([]store.AccountKey, len(accts))
	for i, a := range accts {
		keys[i] = store.AccountKey{Product: a.Product, AccountID: a.AccountID}
		ov.Accounts = append(ov.Accounts, Account{Product: a.Product, AccountID: a.AccountID})
	}
	objs, err := s.db.ObjectionsOf(ctx, emailHash, keys)
	if err != nil {
		return Overview{}, err
	}
	// The intervals in which an objection covering each account was in
	// force, from the accounts the objection recorded when it was accepted:
	// the same accounts the filter's eligibility snapshot reads, so the
	// page and the filter cannot disagree about what an objection covers.
	in := map[store.AccountKey][]eligibility.Interval{}
	for _, o := range objs {
		status := o.Status
		if !o.WithdrawnAt.IsZero() {
			status = objection.StatusWithdrawn
		}
		if o.Status == store.StatusAccepted && !o.EffectiveAt.IsZero() {
			full, err := s.db.Objection(ctx, o.ID)
			if err != nil {
				return Overview{}, err
			}
			for _, k := range full.Accounts {
				in[k] = append(in[k], eligibility.Interval{From: o.EffectiveAt.UnixMicro(), To: micros(o.WithdrawnAt)})
			}
		}
		rc := s.receipt(ctx, o.LedgerSeq)
		ov.Objections = append(ov.Objections, Objection{Reference: o.ID, Status: status, Scope: o.Scope,
			EffectiveAt: stamp(o.EffectiveAt), WithdrawnAt: stamp(o.WithdrawnAt), Receipt: rc,
			WithdrawalRef: o.WithdrawalRef, LedgerSeq: o.LedgerSeq})
	}
	var refs []string
	for _, o := range objs {
		if o.WithdrawalRef != "" && !slices.Contains(refs, o.WithdrawalRef) {
			refs = append(refs, o.WithdrawalRef)
		}
	}
	wds, err := s.db.WithdrawalsOf(ctx, emailHash, refs)
	if err != nil {
		return Overview{}, err
	}
	for _, w := range wds {
		ov.Withdrawals = append(ov.Withdrawals, Withdrawal{Reference: w.ID, WithdrawnAt: w.WithdrawnAt.UTC().Format(time.RFC3339Nano),
			ObjectionsEnded: w.Ended, Receipt: s.receipt(ctx, w.LedgerSeq)})
	}
	if err := s.decisions(ctx, emailHash, &ov); err != nil {
		return Overview{}, err
	}
	if len(keys) == 0 {
		return ov, nil
	}
	snaps, err := s.db.SnapshotsForAccounts(ctx, keys)
	if err != nil {
		return Overview{}, err
	}
	ids := make([]string, len(snaps))
	for i, sn := range snaps {
		ids[i] = sn.SnapshotID
		items := map[string]int64{}
		inForce := false
		for _, it := range sn.Items {
			items[it.Product+":"+it.AccountID] = it.Items
			inForce = inForce || eligibility.InForce(in[store.AccountKey{Product: it.Product, AccountID: it.AccountID}], sn.AsOf.UnixMicro())
		}
		ov.Snapshots = append(ov.Snapshots, Snapshot{SnapshotID: sn.SnapshotID, AsOf: sn.AsOf.UTC().Format(time.RFC3339Nano),
			Items: items, ObjectionInForce: inForce})
	}
	ms, err := s.db.ModelsOnSnapshots(ctx, ids)
	if err != nil {
		return Overview{}, err
	}
	for _, m := range ms {
		ov.Models = append(ov.Models, Model{Name: m.Name, Snapshots: m.Snapshots, TrainedAt: stamp(m.TrainedAt)})
	}
	return ov, nil
}

// decisions adds the address's consents and reports.
func (s *Service) decisions(ctx context.Context, emailHash string, ov *Overview) error {
	cs, err := s.db.ConsentsOf(ctx, emailHash)
	if err != nil {
		return err
	}
	for _, c := range cs {
		accts := make([]Account, len(c.Accounts))
		for i, a := range c.Accounts {
			accts[i] = Account{Product: a.Product, AccountID: a.AccountID}
		}
		ov.Consents = append(ov.Consents, Consent{Reference: c.ID, GivenAt: c.GivenAt.UTC().Format(time.RFC3339Nano),
			WithdrawnAt: stamp(c.WithdrawnAt), Scope: c.Scope, Accounts: accts, Receipt: s.receipt(ctx, c.LedgerSeq)})
	}
	rs, err := s.db.ReportsOf(ctx, emailHash)
	if err != nil {
		return err
	}
	for _, r := range rs {
		items := r.Items
		if items == nil {
			items = []string{}
		}
		ov.Reports = append(ov.Reports, Report{Reference: r.ID, ReceivedAt: r.ReceivedAt.UTC().Format(time.RFC3339Nano),
			Status: r.Status, Items: items, DecidedAt: stamp(r.DecidedAt), Receipt: s.receipt(ctx, r.LedgerSeq)})
	}
	return nil
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// receipt is "" when there is none yet: an entry not yet in a signed
// checkpoint has no receipt until the next one, and a person's data is not
// withheld for it (the receipt can be made again at any time).
func (s *Service) receipt(ctx context.Context, seq int64) string {
	if s.receipts == nil || seq == 0 {
		return ""
	}
	b, err := s.receipts.Receipt(ctx, seq)
	if err != nil {
		return ""
	}
	return string(b)
}
