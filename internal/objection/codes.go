package objection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/email"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/store"
)

// StartInput is a request for a code.
type StartInput struct {
	Flow    Flow
	Email   string
	Scope   Scope // objections only
	Reason  string
	Lang    string
	Channel string // web | api
	Client  string // client address (for --ip-rate-limit); "" = not limited
	// Data is what a registered flow carries to its Finish (JSON, the
	// flow's package validates it); "" for the built-in flows.
	Data string
}

// Started is the answer to a code request. It is the same whether or not
// an account uses the address.
type Started struct {
	RequestID string
	Flow      Flow
	Lang      string
	SentAt    time.Time
	ExpiresAt time.Time
	ResendAt  time.Time
}

// Start validates the input and, in one transaction, records the request
// and queues either a code (the address belongs to an account) or a short
// notice (it does not). The caller sees no difference.
func (s *Service) Start(ctx context.Context, in StartInput) (Started, error) {
	if !s.Runs(in.Flow) {
		return Started{}, fmt.Errorf("objection: no flow %q", in.Flow)
	}
	addr, err := ParseEmail(in.Email)
	if err != nil {
		return Started{}, err
	}
	if utf8.RuneCountInString(in.Reason) > MaxReason {
		return Started{}, fieldErr(CodeReasonTooLong, "reason")
	}
	if !plainText(in.Reason) {
		return Started{}, fieldErr(CodeReasonInvalid, "reason")
	}
	if !s.cat.Has(in.Lang) {
		return Started{}, fieldErr(CodeLangInvalid, "lang")
	}
	if in.Flow == FlowWithdrawal || in.Flow == FlowAccess {
		in.Scope, in.Reason = AllAccounts, ""
	}
	h := s.keys.EmailHash(addr.Canonical)
	box := s.keys.EmailHash(addr.Mailbox)
	now := s.now()
	req := store.CodeRequest{
		ID: ids.Request(), Kind: string(in.Flow), EmailHash: h, Email: addr.Canonical, Lang: in.Lang,
		Scope: in.Scope.String(), Reason: in.Reason, Channel: in.Channel,
		CodeSentAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL), CreatedAt: now, Data: in.Data,
	}
	var sent sentMail
	err = s.save(ctx, in.Flow, func(ctx context.Context, tx *store.Tx) error {
		// Locks in one order for every flow: the client, then the address
		// (a resend takes them in this order too).
		if err := s.checkClientLimit(ctx, tx, in.Client, now); err != nil {
			return err
		}
		// One read for the address's limits, its notices and its account.
		if err := tx.LookUpAddress(ctx, box, h, now.Add(-addressWindow)); err != nil {
			return err
		}
		if err := s.checkAddressLimit(ctx, tx, box, now); err != nil {
			return err
		}
		known, err := tx.HasAccountWithEmail(ctx, h)
		if err != nil {
			return err
		}
		req.Known = known
		code, err := s.newCode(&req)
		if err != nil {
			return err
		}
		if err := tx.InsertRequest(ctx, req); err != nil {
			return err
		}
		sent, err = s.queueCodeMail(ctx, tx, req, box, code, now)
		return err
	})
	if err != nil {
		return Started{}, s.countRefusal(err)
	}
	s.countSent(sent)
	return s.started(req), nil
}

// plainText reports whether s is valid UTF-8 free of control characters
// other than line breaks and tabs (NUL, for one, no database stores).
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// ParseEmail validates an address as the flows do, with the refusal a form shows.
func ParseEmail(s string) (email.Address, error) {
	addr, err := email.Parse(s)
	switch {
	case errors.Is(err, email.ErrEmpty):
		return addr, fieldErr(CodeEmailRequired, "email")
	case errors.Is(err, email.ErrTooLong):
		return addr, fieldErr(CodeEmailTooLong, "email")
	case errors.Is(err, email.ErrNotCanonical):
		return addr, fieldErr(CodeEmailNotCanonical, "email")
	case err != nil:
		return addr, fieldErr(CodeEmailInvalid, "email")
	}
	return addr, nil
}

func (s *Service) started(r store.CodeRequest) Started {
	return Started{RequestID: r.ID, Flow: Flow(r.Kind), Lang: r.Lang, SentAt: r.CodeSentAt, ExpiresAt: r.ExpiresAt,
		ResendAt: r.CodeSentAt.Add(otp.ResendCooldown)}
}

// sentMail says which mail a code request queued, for the metrics.
type sentMail int

const (
	sentNothing sentMail = iota
	sentCode
	sentNotice
)

// queueCodeMail queues the code for a known address, or at most one notice
// a day for an unknown one. When the notice is not due, a suppressed
// placeholder goes through the outbox instead, queued, woken and attempted
// exactly like a real mail (the dispatcher opens a mail transaction for it
// and stops short of the message), so the delivery state the check page
// shows, and when it changes, is the same as for a code. Every path does
// the same work in the store (one read of the notice events, one event
// written, one mail queued), so the answer's timing does not tell them
// apart either.
func (s *Service) queueCodeMail(ctx context.Context, tx *store.Tx, req store.CodeRequest, box, code string, now time.Time) (sentMail, error) {
	recent, err := tx.AddressEvents(ctx, box, eventNotice, now.Add(-noticeEvery))
	if err != nil {
		return sentNothing, err
	}
	kind, what, event := mail.KindCode, sentCode, eventMail
	switch {
	case req.Known || s.anyAddress(Flow(req.Kind)):
		// Access is asked for by whoever holds the mailbox, for whatever
		// notrain holds about it, "nothing" included: every address gets
		// the code, so an unknown address sees its (empty) data too.
	case len(recent) > 0:
		kind, what, code = mail.KindSuppressed, sentNothing, ""
	default:
		kind, what, code, event = mail.KindNoAccount, sentNotice, "", eventNotice
	}
	if err := tx.AddressEvent(ctx, box, event, now); err != nil {
		return sentNothing, err
	}
	err = s.queue(ctx, tx, kind, req, now, mail.Data{Flow: req.Kind, Code: code, ExpiresAt: req.ExpiresAt})
	return what, err
}

// queue puts a mail in the outbox of this transaction, as template data:
// rendering happens when it is sent, outside the transaction.
func (s *Service) queue(ctx context.Context, tx *store.Tx, kind string, req store.CodeRequest, now time.Time, d mail.Data) error {
	d.BaseURL = s.cfg.BaseURL
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("objection: mail data: %w", err)
	}
	// The Message-ID is random on its own, not the outbox row's id: a
	// header every relay and mailbox sees is no key to a row of ours.
	id := ids.Ordered()
	if err := tx.QueueMail(ctx, store.Mail{
		ID: id, MessageID: ids.Random(16) + "@" + s.cfg.MailDomain, Kind: kind, RequestID: req.ID, To: req.Email, Lang: req.Lang,
		Data: string(data), CreatedAt: now, Urgent: mail.IsUrgent(kind),
	}); err != nil {
		return err
	}
	tx.AfterCommit(s.wake)
	return nil
}

func (s *Service) countSent(sent sentMail) {
	if s.m == nil {
		return
	}
	switch sent {
	case sentCode:
		s.m.CodesSent.Inc()
	case sentNotice:
		s.m.NoticesSent.Inc()
	}
}

// save writes a code request within the service's bound (--save-timeout).
// When the store cannot take it in time, the request is refused with
// CodeSaturated and is certainly not saved, so the person is told to try
// again rather than left waiting on a queue without end.
func (s *Service) save(ctx context.Context, flow Flow, fn func(context.Context, *store.Tx) error) error {
	err := s.db.WriteWithin(ctx, s.cfg.SaveTimeout, fn)
	if !errors.Is(err, store.ErrSaturated) {
		return err
	}
	if s.m != nil {
		s.m.Saturated.WithLabelValues(string(flow)).Inc()
	}
	return s.Saturated()
}

// SaveTimeout is the bound on the wait for the store to take a write of
// a code request (negative: none); whoever writes on such a request's
// behalf (an idempotency key) bounds its write alike.
func (s *Service) SaveTimeout() time.Duration { return s.cfg.SaveTimeout }

// Saturated is the refusal of a request the store could not save in time.
func (s *Service) Saturated() *Error {
	return &Error{Code: CodeSaturated, RetryAfter: SaturatedRetryAfter, Until: s.now().Add(SaturatedRetryAfter)}
}

func (s *Service) countRefusal(err error) error {
	var e *Error
	if s.m != nil && errors.As(err, &e) {
		switch e.Code {
		case CodeRateLimited:
			s.m.RateLimited.WithLabelValues("address").Inc()
		case CodeClientLimited:
			s.m.RateLimited.WithLabelValues("client_address").Inc()
		}
	}
	return err
}

// Resend replaces the code of a pending request with a new one. The old code
// stops working. It is subject to the cool-down and the per-address limits.
func (s *Service) Resend(ctx context.Context, flow Flow, requestID, client string) (Started, error) {
	if !ids.IsRequest(requestID) {
		return Started{}, notFound()
	}
	now := s.now()
	var req store.CodeRequest
	var sent sentMail
	err := s.save(ctx, flow, func(ctx context.Context, tx *store.Tx) error {
		var err error
		req, err = tx.Request(ctx, requestID)
		if errors.Is(err, store.ErrNotFound) || err == nil && Flow(req.Kind) != flow {
			return notFound()
		}
		if err != nil {
			return err
		}
		if !req.UsedAt.IsZero() {
			return &Error{Code: CodeCodeUsed}
		}
		if req.Email == "" { // expired long ago and forgotten
			return notFound()
		}
		if next := req.CodeSentAt.Add(otp.ResendCooldown); now.Before(next) {
			return &Error{Code: CodeResendTooSoon, RetryAfter: retryAfter(next, now), Until: next}
		}
		box := s.mailboxHash(req)
		if err := s.checkLimits(ctx, tx, client, box, now); err != nil {
			return err
		}
		code, err := s.newCode(&req)
		if err != nil {
			return err
		}
		req.CodeSentAt, req.ExpiresAt, req.Attempts = now, now.Add(s.cfg.CodeTTL), 0
		if err := tx.RenewCode(ctx, req.ID, req.CodeHash, req.CodeSentAt, req.ExpiresAt); err != nil {
			return err
		}
		sent, err = s.queueCodeMail(ctx, tx, req, box, code, now)
		return err
	})
	if err != nil {
		return Started{}, s.countRefusal(err)
	}
	s.countSent(sent)
	return s.started(req), nil
}

// checkLimits applies the per-client and then the per-address limits, in
// the order both a first request and a resend count them.
func (s *Service) checkLimits(ctx context.Context, tx *store.Tx, client, box string, now time.Time) error {
	if err := s.checkClientLimit(ctx, tx, client, now); err != nil {
		return err
	}
	return s.checkAddressLimit(ctx, tx, box, now)
}

// newCode draws a fresh code for req and sets its keyed hash.
func (s *Service) newCode(req *store.CodeRequest) (string, error) {
	code, err := otp.Generate()
	if err != nil {
		return "", err
	}
	req.CodeHash = s.keys.CodeHash(req.ID, code)
	return code, nil
}

// mailboxHash is the key a request's per-address limits count under: the
// hash of its address without a "+tag".
func (s *Service) mailboxHash(req store.CodeRequest) string {
	addr, err := email.Parse(req.Email)
	if err != nil { // stored before today's rules; its own address then
		return req.EmailHash
	}
	return s.keys.EmailHash(addr.Mailbox)
}

func notFound() *Error {
	return &Error{Code: CodeRequestNotFound}
}

// Verify checks a code and, when it is right, records the objection or the
// withdrawal, its ledger entry and its confirmation mail in one transaction.
// Every checked code counts as an attempt, in the transaction that checks
// it and with the request row locked, so concurrent guesses all count; a
// wrong code's count is committed like any outcome.
func (s *Service) Verify(ctx context.Context, flow Flow, requestID, rawCode string) (Outcome, error) {
	if !ids.IsRequest(requestID) || !s.Runs(flow) {
		return Outcome{}, notFound()
	}
	code, ok := otp.Normalize(rawCode)
	if !ok {
		return Outcome{}, fieldErr(CodeCodeFormat, "code")
	}
	now := s.now()
	var out Outcome
	var refusal *Error
	var checked, matched bool
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		req, err := tx.Request(ctx, requestID)
		if errors.Is(err, store.ErrNotFound) || err == nil && Flow(req.Kind) != flow {
			refusal = notFound()
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case !req.UsedAt.IsZero():
			refusal = &Error{Code: CodeCodeUsed, Field: "code"}
			return nil
		case !now.Before(req.ExpiresAt):
			refusal = &Error{Code: CodeCodeExpired, Field: "code"}
			return nil
		}
		// The request row is locked: the attempt is counted with the
		// outcome of its check, in this transaction, so concurrent guesses
		// all count.
		if !req.AttemptAllowed(otp.MaxAttempts) {
			refusal = &Error{Code: CodeTooManyAttempts, Field: "code"}
			return nil
		}
		checked = true
		// Requests for unknown addresses carry the hash of a code nobody was
		// sent; they take the same comparison and can never succeed.
		matched = otp.Equal(s.keys.CodeHash(requestID, code), req.CodeHash) && (req.Known || s.anyAddress(flow))
		if !matched {
			refusal = &Error{Code: CodeCodeInvalid, Field: "code", Remaining: otp.MaxAttempts - req.Attempts - 1}
			return tx.CountAttempt(ctx, req, otp.MaxAttempts)
		}
		switch flow {
		case FlowObjection:
			out, err = s.accept(ctx, tx, req, now)
		case FlowAccess:
			out, err = s.grantAccess(ctx, tx, req, now)
		case FlowWithdrawal:
			out, err = s.withdraw(ctx, tx, req, now)
		default:
			out, err = s.flows[flow].Finish(ctx, tx, req, now)
		}
		if err != nil {
			return err
		}
		return tx.UseCode(ctx, req, otp.MaxAttempts, now, out.Reference)
	})
	if err != nil {
		return Outcome{}, err
	}
	s.countVerify(flow, checked, matched, refusal)
	if refusal != nil {
		return Outcome{}, refusal
	}
	return out, nil
}

func (s *Service) countVerify(flow Flow, checked, matched bool, refusal *Error) {
	if s.m == nil {
		return
	}
	if checked {
		if matched {
			s.m.CodeChecks.WithLabelValues("match").Inc()
		} else {
			s.m.CodeChecks.WithLabelValues("mismatch").Inc()
		}
	}
	if refusal != nil {
		s.m.CodesFailed.WithLabelValues(refusal.Code).Inc()
	} else {
		s.m.CodesVerified.WithLabelValues(string(flow)).Inc()
	}
}
