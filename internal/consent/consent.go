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

// withdraw ends every consent in force that was given with the address or
// covers an account that uses it, and was recorded before the withdrawal
// was asked for.
func (s *Service) withdraw(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (objection.Outcome, error) {
	ended, err := tx.ConsentsInForceFor(ctx, req.EmailHash, req.CreatedAt)
	if err != nil {
		return objection.Outcome{}, err
	}
	ref := ids.Reference(WithdrawalPrefix)
	for _, id := range ended {
		if err := tx.WithdrawConsent(ctx, id, ref, now); err != nil {
			return objection.Outcome{}, err
		}
	}
	entry, err := tx.Append(ctx, now, ledger.KindConsentWithdrawn, ledger.ConsentWithdrawn{
		Reference:   ref,
		Subject:     s.keys.Pseudonym("email", req.EmailHash),
		Consents:    append([]string{}, ended...),
		Channel:     req.Channel,
		WithdrawnAt: now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return objection.Outcome{}, err
	}
	if err := tx.InsertConsentWithdrawal(ctx, store.ConsentWithdrawal{ID: ref, EmailHash: req.EmailHash, RequestID: req.ID,
		Channel: req.Channel, WithdrawnAt: now, Ended: len(ended), LedgerSeq: entry.Seq}); err != nil {
		return objection.Outcome{}, err
	}
	if err := s.svc.QueueMail(ctx, tx, mail.KindConsentWithdrawn, req, now, mail.Data{
		Flow: req.Kind, Reference: ref, At: now, Ended: len(ended), LedgerSeq: entry.Seq,
	}); err != nil {
		return objection.Outcome{}, err
	}
	return objection.Outcome{Flow: FlowWithdraw, Reference: ref, Status: StatusWithdrawn, At: now, Scope: objection.AllAccounts,
		Ended: len(ended), Lang: req.Lang, LedgerSeq: entry.Seq}, nil
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
	return objection.Outcome{Flow: FlowWithdraw, Reference: w.ID, Status: StatusWithdrawn, At: w.WithdrawnAt, Scope: objection.AllAccounts,
		Ended: w.Ended, Lang: req.Lang, LedgerSeq: w.LedgerSeq}, nil
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
