package objection

import (
	"context"
	"slices"
	"time"

	"github.com/notrain/notrain/internal/account"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/store"
)

// Outcome is the result of a verified code.
type Outcome struct {
	Flow      Flow
	Reference string
	Status    string // accepted | in_review | withdrawn
	At        time.Time
	Scope     Scope
	Accounts  []store.Account
	Ended     int
	Lang      string
	LedgerSeq int64
	// Token and ExpiresAt are the access token of FlowAccess (shown once;
	// only its keyed hash is stored).
	Token     string
	ExpiresAt time.Time
	// Items are what a report asked to keep out (registered flows).
	Items []string
	// ProductsEnded and ProductsKept are what a withdrawal of consent
	// ended and what the address's consents still cover after it.
	ProductsEnded []string
	ProductsKept  []string
	// NoMail: no confirmation mail was sent (an objection made with a
	// platform assertion: notrain has no address to write to).
	NoMail bool
}

// Status values of an Outcome.
const (
	StatusAccepted  = store.StatusAccepted
	StatusInReview  = store.StatusInReview
	StatusWithdrawn = "withdrawn"
)

// newObjection is an objection about to be recorded, from any channel.
type newObjection struct {
	EmailHash   string
	Named       []store.AccountKey
	Scope       Scope
	Reason      string
	Note        string
	Channel     string
	Lang        string
	RequestID   string
	ReceivedAt  time.Time
	EffectiveAt time.Time
}

// record stores an accepted objection, the accounts it covers and its
// ledger entry, in the caller's transaction.
// The ledger entry is dated now, when the decision is recorded; the body
// carries when the objection took effect.
func (s *Service) record(ctx context.Context, tx *store.Tx, n newObjection, now time.Time) (string, []store.Account, int64, error) {
	accts, err := account.Covered(ctx, tx, n.EmailHash, n.Named, n.Scope.Covers)
	if err != nil {
		return "", nil, 0, err
	}
	ref := ids.Reference(ObjectionPrefix)
	keys := make([]store.AccountKey, len(accts))
	pseud := make([]string, len(accts))
	for i, a := range accts {
		keys[i] = store.AccountKey{Product: a.Product, AccountID: a.AccountID}
		pseud[i] = s.keys.Pseudonym("account", a.Product+"/"+a.AccountID)
	}
	slices.Sort(pseud)
	subject := ""
	if n.EmailHash != "" {
		subject = s.keys.Pseudonym("email", n.EmailHash)
	}
	entry, err := tx.Append(ctx, now, ledger.KindObjectionAccepted, ledger.ObjectionAccepted{
		Reference:   ref,
		Subject:     subject,
		Accounts:    pseud,
		Scope:       n.Scope.String(),
		Channel:     n.Channel,
		ReceivedAt:  n.ReceivedAt.UTC().Format(time.RFC3339Nano),
		EffectiveAt: n.EffectiveAt.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", nil, 0, err
	}
	if err := tx.InsertObjection(ctx, store.Objection{
		ID: ref, EmailHash: n.EmailHash, Scope: n.Scope.String(), Reason: n.Reason, Note: n.Note, Channel: n.Channel,
		Status: store.StatusAccepted, Lang: n.Lang, RequestID: n.RequestID, ReceivedAt: n.ReceivedAt, EffectiveAt: n.EffectiveAt,
		LedgerSeq: entry.Seq, Accounts: keys,
	}); err != nil {
		return "", nil, 0, err
	}
	return ref, accts, entry.Seq, nil
}

func (s *Service) accept(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (Outcome, error) {
	scope, err := ParseScope(req.Scope)
	if err != nil {
		return Outcome{}, err
	}
	ref, accts, seq, err := s.record(ctx, tx, newObjection{EmailHash: req.EmailHash, Scope: scope, Reason: req.Reason,
		Channel: req.Channel, Lang: req.Lang, RequestID: req.ID, ReceivedAt: req.CreatedAt, EffectiveAt: now}, now)
	if err != nil {
		return Outcome{}, err
	}
	if err := s.queue(ctx, tx, mail.KindObjectionConfirmed, req, now, mail.Data{
		Flow: req.Kind, Reference: ref, At: now, Accounts: accountLines(accts), LedgerSeq: seq,
	}); err != nil {
		return Outcome{}, err
	}
	return Outcome{Flow: FlowObjection, Reference: ref, Status: StatusAccepted, At: now, Scope: scope, Accounts: accts,
		Lang: req.Lang, LedgerSeq: seq}, nil
}

func (s *Service) withdraw(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (Outcome, error) {
	ended, err := tx.ObjectionsInForceFor(ctx, req.EmailHash, req.CreatedAt)
	if err != nil {
		return Outcome{}, err
	}
	ref := ids.Reference(WithdrawalPrefix)
	for _, id := range ended {
		if err := tx.WithdrawObjection(ctx, id, ref, now); err != nil {
			return Outcome{}, err
		}
	}
	entry, err := tx.Append(ctx, now, ledger.KindObjectionWithdrawn, ledger.ObjectionWithdrawn{
		Reference:   ref,
		Subject:     s.keys.Pseudonym("email", req.EmailHash),
		Objections:  append([]string{}, ended...),
		Channel:     req.Channel,
		WithdrawnAt: now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return Outcome{}, err
	}
	if err := tx.InsertWithdrawal(ctx, store.Withdrawal{ID: ref, EmailHash: req.EmailHash, RequestID: req.ID,
		Channel: req.Channel, WithdrawnAt: now, Ended: len(ended), LedgerSeq: entry.Seq}); err != nil {
		return Outcome{}, err
	}
	if err := s.queue(ctx, tx, mail.KindWithdrawalConfirmed, req, now, mail.Data{
		Flow: req.Kind, Reference: ref, At: now, Ended: len(ended), LedgerSeq: entry.Seq,
	}); err != nil {
		return Outcome{}, err
	}
	return Outcome{Flow: FlowWithdrawal, Reference: ref, Status: StatusWithdrawn, At: now, Scope: AllAccounts,
		Ended: len(ended), Lang: req.Lang, LedgerSeq: entry.Seq}, nil
}

func accountLines(accts []store.Account) []mail.AccountLine {
	out := make([]mail.AccountLine, len(accts))
	for i, a := range accts {
		out[i] = mail.AccountLine{Product: a.Product, Handle: a.Handle}
	}
	return out
}

// AccessTokenKind separates "my data" token hashes from machine tokens'.
const AccessTokenKind = "access"

// AccessTokenPrefix starts every "my data" token.
const AccessTokenPrefix = "ntp_"

// grantAccess issues the access token a verified access code buys.
func (s *Service) grantAccess(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (Outcome, error) {
	tok := AccessTokenPrefix + ids.Random(32)
	exp := now.Add(AccessTTL)
	if err := tx.InsertAccessToken(ctx, store.AccessToken{Hash: s.keys.TokenHash(AccessTokenKind, tok), EmailHash: req.EmailHash,
		RequestID: req.ID, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return Outcome{}, err
	}
	return Outcome{Flow: FlowAccess, At: now, Scope: AllAccounts, Lang: req.Lang, Token: tok, ExpiresAt: exp}, nil
}
