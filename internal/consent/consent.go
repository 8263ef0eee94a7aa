// Package consent runs consent intake for policy mode consent: a person
// gives consent to training on their content (per product or for all linked
// accounts) and withdraws it, each confirmed with a one-time code through
// the objection service's code machinery, recorded with a ledger entry in
// the same transaction, confirmed by mail with a receipt. The filter's
// no_consent rule reads the consents table this package writes.
package consent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/account"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// The flows this package owns.
const (
	FlowGive     objection.Flow = "consent"
	FlowWithdraw objection.Flow = "consent_withdrawal"
)

// Reference prefixes.
const (
	Prefix           = "NTC"
	WithdrawalPrefix = "NTCW"
)

// Statuses of an outcome.
const (
	StatusGiven     = "given"
	StatusWithdrawn = objection.StatusWithdrawn
)

// Service records consents.
type Service struct {
	db   *store.DB
	keys *secret.Keys
	svc  *objection.Service
}

// Register makes the objection service run the consent flows. Addresses no
// account uses get the "no account" notice, exactly as for an objection,
// so nothing a person sees tells addresses apart. Call it before serving.
func Register(svc *objection.Service, db *store.DB, keys *secret.Keys) *Service {
	s := &Service{db: db, keys: keys, svc: svc}
	svc.Handle(FlowGive, objection.FlowHandler{Finish: s.give, Result: s.givenResult})
	svc.Handle(FlowWithdraw, objection.FlowHandler{Finish: s.withdraw, Result: s.withdrawnResult})
	return s
}

// give records a consent for the accounts the address covers now, in the
// transaction that uses the code: the consent row, its accounts, the
// consent.given entry and the confirmation mail, or none of them.
func (s *Service) give(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (objection.Outcome, error) {
	scope, err := objection.ParseScope(req.Scope)
	if err != nil {
		return objection.Outcome{}, err
	}
	accts, err := account.Covered(ctx, tx, req.EmailHash, nil, scope.Covers)
	if err != nil {
		return objection.Outcome{}, err
	}
	ref := ids.Reference(Prefix)
	keys := make([]store.AccountKey, len(accts))
	pseud := make([]string, len(accts))
	for i, a := range accts {
		keys[i] = store.AccountKey{Product: a.Product, AccountID: a.AccountID}
		pseud[i] = s.keys.Pseudonym("account", a.Product+"/"+a.AccountID)
	}
	slices.Sort(pseud)
	entry, err := tx.Append(ctx, now, ledger.KindConsentGiven, ledger.ConsentGiven{
		Reference: ref,
		Subject:   s.keys.Pseudonym("email", req.EmailHash),
		Accounts:  pseud,
		Scope:     scope.String(),
		Channel:   req.Channel,
		GivenAt:   now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return objection.Outcome{}, err
	}
	if err := tx.InsertConsent(ctx, store.Consent{ID: ref, EmailHash: req.EmailHash, Scope: scope.String(), Channel: req.Channel,
		Lang: req.Lang, RequestID: req.ID, GivenAt: now, LedgerSeq: entry.Seq, Accounts: keys}); err != nil {
		return objection.Outcome{}, err
	}
	if err := s.svc.QueueMail(ctx, tx, mail.KindConsentGiven, req, now, mail.Data{
		Flow: req.Kind, Reference: ref, At: now, Accounts: accountLines(accts), LedgerSeq: entry.Seq,
	}); err != nil {
		return objection.Outcome{}, err
	}
	return objection.Outcome{Flow: FlowGive, Reference: ref, Status: StatusGiven, At: now, Scope: scope, Accounts: accts,
		Lang: req.Lang, LedgerSeq: entry.Seq}, nil
}

// withdraw ends, at the moment now, every consent in force that was given
// with the address or covers an account that uses it, and was recorded
// before the withdrawal was asked for. A withdrawal for some products ends
// only the consents that cover an account of those products, and records
// for each of them, in the same transaction and from the same moment, a
// consent for the accounts of other products it also covered: those are
// covered without a gap, while the withdrawn ones are not covered from now
// on. The consent.withdrawn entry names the scope, what it ended and the
// remainders; each remainder is a consent.given entry naming the consent it
// continues.
func (s *Service) withdraw(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (objection.Outcome, error) {
	scope, err := objection.ParseScope(req.Scope)
	if err != nil {
		return objection.Outcome{}, err
	}
	matched, err := tx.ConsentsInForceFor(ctx, req.EmailHash, req.CreatedAt)
	if err != nil {
		return objection.Outcome{}, err
	}
	ref := ids.Reference(WithdrawalPrefix)
	var ended, remainderRefs []string
	var remainders []store.Consent
	endedProducts, keptProducts := map[string]bool{}, map[string]bool{}
	for _, c := range matched {
		var hit, rest []store.AccountKey
		for _, a := range c.Accounts {
			if scope.Covers(a.Product) {
				hit = append(hit, a)
			} else {
				rest = append(rest, a)
			}
		}
		// A consent that names no account (given when the address had
		// none) is ended only by a withdrawal for every product.
		if len(hit) == 0 && !(scope.All && len(c.Accounts) == 0) {
			for _, a := range c.Accounts {
				keptProducts[a.Product] = true
			}
			continue
		}
		if err := tx.WithdrawConsent(ctx, c.ID, ref, now); err != nil {
			return objection.Outcome{}, err
		}
		ended = append(ended, c.ID)
		for _, a := range hit {
			endedProducts[a.Product] = true
		}
		if len(rest) == 0 {
			continue
		}
		rs, err := objection.NewScope(productsOf(rest))
		if err != nil {
			return objection.Outcome{}, err
		}
		r := store.Consent{ID: ids.Reference(Prefix), EmailHash: c.EmailHash, Scope: rs.String(), Channel: req.Channel,
			Lang: c.Lang, RequestID: req.ID, GivenAt: now, RemainderOf: c.ID, Accounts: rest}
		remainders = append(remainders, r)
		remainderRefs = append(remainderRefs, r.ID)
		for _, a := range rest {
			keptProducts[a.Product] = true
		}
	}
	entry, err := tx.Append(ctx, now, ledger.KindConsentWithdrawn, ledger.ConsentWithdrawn{
		Reference:   ref,
		Subject:     s.keys.Pseudonym("email", req.EmailHash),
		Consents:    append([]string{}, ended...),
		Channel:     req.Channel,
		WithdrawnAt: now.Format(time.RFC3339Nano),
		Scope:       scope.String(),
		Remainders:  remainderRefs,
	})
	if err != nil {
		return objection.Outcome{}, err
	}
	for _, r := range remainders {
		pseud := make([]string, len(r.Accounts))
		for i, a := range r.Accounts {
			pseud[i] = s.keys.Pseudonym("account", a.Product+"/"+a.AccountID)
		}
		slices.Sort(pseud)
		e, err := tx.Append(ctx, now, ledger.KindConsentGiven, ledger.ConsentGiven{
			Reference:   r.ID,
			Subject:     s.keys.Pseudonym("email", r.EmailHash),
			Accounts:    pseud,
			Scope:       r.Scope,
			Channel:     r.Channel,
			GivenAt:     now.Format(time.RFC3339Nano),
			RemainderOf: r.RemainderOf,
		})
		if err != nil {
			return objection.Outcome{}, err
		}
		r.LedgerSeq = e.Seq
		if err := tx.InsertConsent(ctx, r); err != nil {
			return objection.Outcome{}, err
		}
	}
	w := store.ConsentWithdrawal{ID: ref, EmailHash: req.EmailHash, RequestID: req.ID, Channel: req.Channel, Scope: scope.String(),
		WithdrawnAt: now, Ended: len(ended), ProductsEnded: sortedKeys(endedProducts), ProductsKept: sortedKeys(keptProducts),
		LedgerSeq: entry.Seq}
	if err := tx.InsertConsentWithdrawal(ctx, w); err != nil {
		return objection.Outcome{}, err
	}
	if err := s.svc.QueueMail(ctx, tx, mail.KindConsentWithdrawn, req, now, mail.Data{
		Flow: req.Kind, Reference: ref, At: now, Ended: len(ended), LedgerSeq: entry.Seq,
		ProductsEnded: w.ProductsEnded, ProductsKept: w.ProductsKept,
	}); err != nil {
		return objection.Outcome{}, err
	}
	return withdrawnOutcome(w, req.Lang), nil
}

// withdrawnOutcome is a recorded withdrawal as pages and the API show it.
func withdrawnOutcome(w store.ConsentWithdrawal, lang string) objection.Outcome {
	scope, err := objection.ParseScope(w.Scope)
	if err != nil {
		// Stored by withdraw from a parsed scope; a product since dropped
		// from the platform still reads as what was asked for.
		scope = objection.Scope{Products: strings.Split(w.Scope, ",")}
	}
	return objection.Outcome{Flow: FlowWithdraw, Reference: w.ID, Status: StatusWithdrawn, At: w.WithdrawnAt, Scope: scope,
		Ended: w.Ended, ProductsEnded: w.ProductsEnded, ProductsKept: w.ProductsKept, Lang: lang, LedgerSeq: w.LedgerSeq}
}

func productsOf(keys []store.AccountKey) []string {
	var ps []string
	for _, k := range keys {
		if !slices.Contains(ps, k.Product) {
			ps = append(ps, k.Product)
		}
	}
	slices.Sort(ps)
	return ps
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// givenResult reads a recorded consent for its confirmation page.
func (s *Service) givenResult(ctx context.Context, req store.CodeRequest) (objection.Outcome, error) {
	c, err := s.db.Consent(ctx, req.ResultRef)
	if err != nil {
		return objection.Outcome{}, notFound(err)
	}
	scope, err := objection.ParseScope(c.Scope)
	if err != nil {
		return objection.Outcome{}, err
	}
	accts, err := s.db.Accounts(ctx, c.Accounts)
	if err != nil {
		return objection.Outcome{}, err
	}
	return objection.Outcome{Flow: FlowGive, Reference: c.ID, Status: StatusGiven, At: c.GivenAt, Scope: scope, Accounts: accts,
		Lang: req.Lang, LedgerSeq: c.LedgerSeq}, nil
}

// withdrawnResult reads a recorded withdrawal of consent.
func (s *Service) withdrawnResult(ctx context.Context, req store.CodeRequest) (objection.Outcome, error) {
	w, err := s.db.ConsentWithdrawal(ctx, req.ResultRef)
	if err != nil {
		return objection.Outcome{}, notFound(err)
	}
	return withdrawnOutcome(w, req.Lang), nil
}

// notFound turns a missing row into the refusal pages show for an unknown
// request; other errors pass.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &objection.Error{Code: objection.CodeRequestNotFound}
	}
	return err
}

func accountLines(accts []store.Account) []mail.AccountLine {
	out := make([]mail.AccountLine, len(accts))
	for i, a := range accts {
		out[i] = mail.AccountLine{Product: a.Product, Handle: a.Handle}
	}
	return out
}
