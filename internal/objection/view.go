package objection

import (
	"context"
	"errors"
	"time"

	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/store"
)

// Mail delivery states as a person sees them.
const (
	MailQueued   = "queued"
	MailSent     = "sent"
	MailRetrying = "retrying"
	MailFailed   = "failed"
)

// View is what the "check your mail" page shows about a request.
type View struct {
	Started
	Done       bool
	Reference  string
	MailState  string
	MailAt     time.Time
	Expired    bool
	AttemptsOK bool
}

// View reads a request's state. Mail state comes from the outbox, where
// every code request leaves a row (a suppressed placeholder where an unknown
// address's daily notice was already sent), so the page does not tell known
// and unknown addresses apart.
func (s *Service) View(ctx context.Context, flow Flow, requestID string) (View, error) {
	if !ids.IsRequest(requestID) {
		return View{}, notFound()
	}
	req, err := s.db.Request(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) || err == nil && Flow(req.Kind) != flow {
		return View{}, notFound()
	}
	if err != nil {
		return View{}, err
	}
	v := View{Started: s.started(req), Done: !req.UsedAt.IsZero(), Reference: req.ResultRef,
		Expired: !s.now().Before(req.ExpiresAt), AttemptsOK: req.Attempts < otp.MaxAttempts,
		MailState: MailSent, MailAt: req.CodeSentAt}
	m, err := s.db.LatestMailFor(ctx, requestID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return View{}, err
	case m.Status == store.MailSent:
		v.MailAt = m.SentAt
	case m.Status == store.MailAbandoned:
		v.MailState = MailFailed
	case m.Attempts > 0:
		v.MailState = MailRetrying
	default:
		v.MailState, v.MailAt = MailQueued, m.CreatedAt
	}
	return v, nil
}

// Result reads the outcome of a completed request for its confirmation page.
func (s *Service) Result(ctx context.Context, flow Flow, requestID string) (Outcome, error) {
	if !ids.IsRequest(requestID) {
		return Outcome{}, notFound()
	}
	req, err := s.db.Request(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (Flow(req.Kind) != flow || req.ResultRef == "") {
		return Outcome{}, notFound()
	}
	if err != nil {
		return Outcome{}, err
	}
	if h, ok := s.flows[flow]; ok {
		if h.Result == nil {
			return Outcome{}, notFound()
		}
		return h.Result(ctx, req)
	}
	if flow == FlowWithdrawal {
		w, err := s.db.Withdrawal(ctx, req.ResultRef)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Flow: flow, Reference: w.ID, Status: StatusWithdrawn, At: w.WithdrawnAt, Scope: AllAccounts,
			Ended: w.Ended, Lang: req.Lang, LedgerSeq: w.LedgerSeq}, nil
	}
	o, err := s.db.Objection(ctx, req.ResultRef)
	if err != nil {
		return Outcome{}, err
	}
	scope, err := ParseScope(o.Scope)
	if err != nil {
		return Outcome{}, err
	}
	accts, err := s.db.Accounts(ctx, o.Accounts)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Flow: flow, Reference: o.ID, Status: o.Status, At: o.EffectiveAt, Scope: scope, Accounts: accts,
		Lang: req.Lang, LedgerSeq: o.LedgerSeq, NoMail: assertedChannel(req.Channel)}, nil
}
