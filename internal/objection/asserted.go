package objection

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/account"
	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/store"
)

// Channels of objections made with a platform assertion instead of a code.
const (
	ChannelWebAssertion = "web_assertion"
	ChannelAPIAssertion = "api_assertion"
)

// assertedChannel reports whether an objection came with an assertion: no
// code went to an address, so no confirmation mail follows either.
func assertedChannel(ch string) bool {
	return ch == ChannelWebAssertion || ch == ChannelAPIAssertion
}

// AssertedInput is an objection the platform vouches for: the person is
// signed in there as the assertion's account.
type AssertedInput struct {
	Assertion assertion.Assertion // verified (assertion.Verifier)
	Scope     Scope
	Reason    string // optional, as in the e-mail flow
	Lang      string
	Channel   string // ChannelWebAssertion | ChannelAPIAssertion
}

// AssertedAccounts is what a verified assertion would object for, before
// the person confirms: the account and its link group, read without
// writing (the assertion is not used up). It refuses an assertion already
// used (CodeAssertionReplayed) or naming an account the directory lacks
// (CodeAssertionUnknownAccount).
func (s *Service) AssertedAccounts(ctx context.Context, a assertion.Assertion) ([]store.Account, error) {
	used, err := s.db.AssertionUsed(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if used {
		return nil, &Error{Code: CodeAssertionReplayed}
	}
	k := store.AccountKey{Product: a.Product, AccountID: a.AccountID}
	var accts []store.Account
	err = s.db.View(ctx, func(ctx context.Context, v *store.View) error {
		if _, err := v.Account(ctx, k); errors.Is(err, store.ErrNotFound) {
			return &Error{Code: CodeAssertionUnknownAccount}
		} else if err != nil {
			return err
		}
		accts, err = account.Covered(ctx, v, "", []store.AccountKey{k}, AllAccounts.Covers)
		return err
	})
	return accts, err
}

// ObjectAsserted records an objection for the assertion's account and its
// link group, at once and without a code: the same record, ledger entry
// and receipt as a verified code, in one transaction that also uses the
// assertion up, so neither can be kept without the other. The outcome's
// request (Started.RequestID) is a completed request like a code flow's,
// so its confirmation page and receipt are the code flow's too. No mail is
// sent: notrain holds account addresses only as keyed hashes, so it has
// no address to write to; the reference and receipt are in the answer.
func (s *Service) ObjectAsserted(ctx context.Context, in AssertedInput) (Outcome, string, error) {
	if utf8.RuneCountInString(in.Reason) > MaxReason {
		return Outcome{}, "", fieldErr(CodeReasonTooLong, "reason")
	}
	if !plainText(in.Reason) {
		return Outcome{}, "", fieldErr(CodeReasonInvalid, "reason")
	}
	if !s.cat.Has(in.Lang) {
		return Outcome{}, "", fieldErr(CodeLangInvalid, "lang")
	}
	if !assertedChannel(in.Channel) {
		return Outcome{}, "", errors.New("objection: not an assertion channel: " + in.Channel)
	}
	a := in.Assertion
	k := store.AccountKey{Product: a.Product, AccountID: a.AccountID}
	now := s.now()
	req := store.CodeRequest{ID: ids.Request(), Kind: string(FlowObjection), Known: true, Lang: in.Lang,
		Scope: in.Scope.String(), Reason: in.Reason, Channel: in.Channel, CodeSentAt: now, ExpiresAt: now, UsedAt: now, CreatedAt: now}
	var out Outcome
	var refusal *Error
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		refusal = nil
		// Refusals are decided before anything is written, so a refused
		// assertion leaves the rest of its write group alone.
		used, err := tx.AssertionUsed(ctx, a.ID)
		if err != nil {
			return err
		}
		if used {
			refusal = &Error{Code: CodeAssertionReplayed}
			return nil
		}
		if _, err := tx.Account(ctx, k); errors.Is(err, store.ErrNotFound) {
			refusal = &Error{Code: CodeAssertionUnknownAccount}
			return nil
		} else if err != nil {
			return err
		}
		ref, accts, seq, err := s.record(ctx, tx, newObjection{Named: []store.AccountKey{k}, Scope: in.Scope, Reason: in.Reason,
			Channel: in.Channel, Lang: in.Lang, RequestID: req.ID, ReceivedAt: now, EffectiveAt: now}, now)
		if err != nil {
			return err
		}
		// Another instance may have used it since the read above; its
		// insert then finds the row, and this transaction is undone.
		if err := tx.UseAssertion(ctx, a.ID, a.Expires); err != nil {
			return err
		}
		req.ResultRef = ref
		if err := tx.InsertRequest(ctx, req); err != nil {
			return err
		}
		out = Outcome{Flow: FlowObjection, Reference: ref, Status: StatusAccepted, At: now, Scope: in.Scope,
			Accounts: accts, Lang: in.Lang, LedgerSeq: seq, NoMail: true}
		return nil
	})
	if errors.Is(err, store.ErrAssertionUsed) {
		return Outcome{}, "", &Error{Code: CodeAssertionReplayed}
	}
	if err != nil {
		return Outcome{}, "", err
	}
	if refusal != nil {
		return Outcome{}, "", refusal
	}
	return out, req.ID, nil
}
