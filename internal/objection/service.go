// Package objection runs the objection and withdrawal flows: e-mail, one-time
// code, verification, and the state change with its ledger entry and
// confirmation mail, all in one transaction. The web pages and the JSON API
// both call this package, so both follow exactly the same rules.
package objection

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/email"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Flow is what a code confirms.
type Flow string

// Flows.
const (
	FlowObjection  Flow = "objection"
	FlowWithdrawal Flow = "withdrawal"
)

// Reference prefixes.
const (
	ObjectionPrefix  = "NT"
	WithdrawalPrefix = "NTW"
)

// MaxReason is the longest reason accepted, in characters.
const MaxReason = 2000

// Address event kinds behind the per-address limits.
const (
	eventCodeRequest = "code_request"
	eventNotice      = "no_account_notice"
)

// noticeEvery limits "no account uses this address" mails to one a day.
const noticeEvery = 24 * time.Hour

// Config is the service's configuration.
type Config struct {
	CodeTTL            time.Duration // default otp.DefaultTTL
	BaseURL            string        // for links in mails
	MailDomain         string        // right-hand side of Message-IDs
	ThirdPartyExcluded bool          // what confirmations say about tags and mentions
	ClientLimit        int           // code requests per minute per client address; 0 = off
	Now                func() time.Time
}

// Service runs the flows.
type Service struct {
	db   *store.DB
	keys *secret.Keys
	cat  *locale.Catalog
	m    *metrics.Metrics
	wake func()
	cfg  Config
}

// New makes a Service. wake is called after a commit that queued mail.
func New(db *store.DB, keys *secret.Keys, cat *locale.Catalog, m *metrics.Metrics, wake func(), cfg Config) (*Service, error) {
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = otp.DefaultTTL
	}
	if !otp.ValidTTL(cfg.CodeTTL) {
		return nil, fmt.Errorf("objection: code lifetime %s is outside 1 minute to %s", cfg.CodeTTL, otp.MaxTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MailDomain == "" {
		cfg.MailDomain = "notrain.invalid"
	}
	if wake == nil {
		wake = func() {}
	}
	return &Service{db: db, keys: keys, cat: cat, m: m, wake: wake, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// StartInput is a request for a code.
type StartInput struct {
	Flow    Flow
	Email   string
	Scope   Scope // objections only
	Reason  string
	Lang    string
	Channel string // web | api
	Client  string // client address (for --ip-rate-limit); "" = not limited
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
	if in.Flow == FlowWithdrawal {
		in.Scope, in.Reason = AllAccounts, ""
	}
	h := s.keys.EmailHash(addr.Canonical)
	box := s.keys.EmailHash(addr.Mailbox)
	now := s.now()
	req := store.CodeRequest{
		ID: ids.Request(), Kind: string(in.Flow), EmailHash: h, Email: addr.Canonical, Lang: in.Lang,
		Scope: in.Scope.String(), Reason: in.Reason, Channel: in.Channel,
		CodeSentAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL), CreatedAt: now,
	}
	var sent sentMail
	err = s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := s.checkClientLimit(ctx, tx, in.Client, now); err != nil {
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
		code, err := otp.Generate()
		if err != nil {
			return err
		}
		req.CodeHash = s.keys.CodeHash(req.ID, code)
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

// CodeClientLimited is the refusal of --ip-rate-limit.
const CodeClientLimited = "ip_rate_limited"

// checkClientLimit enforces the per-client limit in the store, so several
// instances count the same requests. A refused request records nothing.
func (s *Service) checkClientLimit(ctx context.Context, tx *store.Tx, client string, now time.Time) error {
	if s.cfg.ClientLimit <= 0 || client == "" {
		return nil
	}
	allowed, oldest, err := tx.ClientEvent(ctx, client, now.Add(-time.Minute), now, s.cfg.ClientLimit)
	if err != nil || allowed {
		return err
	}
	until := oldest.Add(time.Minute)
	retry := max(until.Sub(now).Round(time.Second), time.Second)
	return &Error{Code: CodeClientLimited, RetryAfter: retry, Until: until}
}

// checkAddressLimit enforces the per-address limits and records this request.
// It counts requests for unknown addresses the same way, so a 429 says
// nothing about whether an account exists.
func (s *Service) checkAddressLimit(ctx context.Context, tx *store.Tx, h string, now time.Time) error {
	day, err := tx.AddressEvents(ctx, h, eventCodeRequest, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	var until time.Time
	if len(day) >= otp.PerDay {
		until = day[len(day)-otp.PerDay].Add(24 * time.Hour)
	}
	var hour []time.Time
	for _, t := range day {
		if t.After(now.Add(-time.Hour)) {
			hour = append(hour, t)
		}
	}
	if len(hour) >= otp.PerHour {
		if u := hour[len(hour)-otp.PerHour].Add(time.Hour); u.After(until) {
			until = u
		}
	}
	if !until.IsZero() {
		retry := until.Sub(now).Round(time.Second)
		if retry < time.Second {
			retry = time.Second
		}
		return &Error{Code: CodeRateLimited, Field: "email", RetryAfter: retry, Until: until}
	}
	return tx.AddressEvent(ctx, h, eventCodeRequest, now)
}

// queueCodeMail queues the code for a known address, or at most one notice
// a day for an unknown one. When the notice is not due, a suppressed
// placeholder goes through the outbox instead, queued, woken and attempted
// exactly like a real mail (the dispatcher opens a mail transaction for it
// and stops short of the message), so the delivery state the check page
// shows, and when it changes, is the same as for a code. The notice events
// are read for every address so both paths do the same work.
func (s *Service) queueCodeMail(ctx context.Context, tx *store.Tx, req store.CodeRequest, box, code string, now time.Time) (sentMail, error) {
	recent, err := tx.AddressEvents(ctx, box, eventNotice, now.Add(-noticeEvery))
	if err != nil {
		return sentNothing, err
	}
	kind, what := mail.KindCode, sentCode
	switch {
	case req.Known:
	case len(recent) > 0:
		kind, what, code = mail.KindSuppressed, sentNothing, ""
	default:
		if err := tx.AddressEvent(ctx, box, eventNotice, now); err != nil {
			return sentNothing, err
		}
		kind, what, code = mail.KindNoAccount, sentNotice, ""
	}
	err = s.queue(ctx, tx, kind, req, now, mail.Data{Flow: req.Kind, Code: code, ExpiresAt: req.ExpiresAt})
	return what, err
}

// queue puts a mail in the outbox of this transaction, as template data:
// rendering happens when it is sent, outside the transaction.
func (s *Service) queue(ctx context.Context, tx *store.Tx, kind string, req store.CodeRequest, now time.Time, d mail.Data) error {
	d.BaseURL = s.cfg.BaseURL
	d.ThirdPartyExcluded = s.cfg.ThirdPartyExcluded
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("objection: mail data: %w", err)
	}
	id := ids.Ordered()
	if err := tx.QueueMail(ctx, store.Mail{
		ID: id, MessageID: id + "@" + s.cfg.MailDomain, Kind: kind, RequestID: req.ID, To: req.Email, Lang: req.Lang,
		Data: string(data), CreatedAt: now, Urgent: kind == mail.KindCode || kind == mail.KindNoAccount || kind == mail.KindSuppressed,
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
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
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
			return &Error{Code: CodeResendTooSoon, RetryAfter: next.Sub(now).Round(time.Second) + time.Second, Until: next}
		}
		if err := s.checkClientLimit(ctx, tx, client, now); err != nil {
			return err
		}
		box := s.mailboxHash(req)
		if err := s.checkAddressLimit(ctx, tx, box, now); err != nil {
			return err
		}
		code, err := otp.Generate()
		if err != nil {
			return err
		}
		req.CodeHash = s.keys.CodeHash(req.ID, code)
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
}

// Status values of an Outcome.
const (
	StatusAccepted  = store.StatusAccepted
	StatusInReview  = store.StatusInReview
	StatusWithdrawn = "withdrawn"
)

// Verify checks a code and, when it is right, records the objection or the
// withdrawal, its ledger entry and its confirmation mail in one transaction.
// The attempt counter is raised before the code is compared and that raise
// is committed even when the code is wrong.
func (s *Service) Verify(ctx context.Context, flow Flow, requestID, rawCode string) (Outcome, error) {
	if !ids.IsRequest(requestID) {
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
		allowed, err := tx.CountAttempt(ctx, requestID, otp.MaxAttempts)
		if err != nil {
			return err
		}
		if !allowed {
			refusal = &Error{Code: CodeTooManyAttempts, Field: "code"}
			return nil
		}
		checked = true
		// Requests for unknown addresses carry the hash of a code nobody was
		// sent; they take the same comparison and can never succeed.
		matched = otp.Equal(s.keys.CodeHash(requestID, code), req.CodeHash) && req.Known
		if !matched {
			refusal = &Error{Code: CodeCodeInvalid, Field: "code", Remaining: otp.MaxAttempts - req.Attempts - 1}
			return nil
		}
		consumed, err := tx.ConsumeCode(ctx, requestID, now)
		if err != nil {
			return err
		}
		if !consumed {
			refusal = &Error{Code: CodeCodeUsed, Field: "code"}
			return nil
		}
		if flow == FlowObjection {
			out, err = s.accept(ctx, tx, req, now)
		} else {
			out, err = s.withdraw(ctx, tx, req, now)
		}
		if err != nil {
			return err
		}
		return tx.FinishRequest(ctx, requestID, out.Reference)
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

// covered returns the accounts an objection covers now: the accounts using
// the e-mail hash or named by it, every account in their link groups,
// narrowed to the scope's products. Named accounts the directory lacks are
// returned as bare keys: an objection for them must still hold.
func covered(ctx context.Context, tx *store.Tx, emailHash string, named []store.AccountKey, scope Scope) ([]store.Account, error) {
	var direct []store.Account
	if emailHash != "" {
		var err error
		if direct, err = tx.AccountsByEmail(ctx, emailHash); err != nil {
			return nil, err
		}
	}
	var bare []store.Account
	for _, k := range named {
		a, err := tx.Account(ctx, k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			bare = append(bare, store.Account{Product: k.Product, AccountID: k.AccountID})
		case err != nil:
			return nil, err
		default:
			direct = append(direct, a)
		}
	}
	var groups []string
	for _, a := range direct {
		if a.Group != "" && !slices.Contains(groups, a.Group) {
			groups = append(groups, a.Group)
		}
	}
	linked, err := tx.AccountsInGroups(ctx, groups)
	if err != nil {
		return nil, err
	}
	seen := map[store.AccountKey]bool{}
	var out []store.Account
	for _, a := range slices.Concat(direct, linked, bare) {
		k := store.AccountKey{Product: a.Product, AccountID: a.AccountID}
		if seen[k] || !scope.Covers(a.Product) {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b store.Account) int {
		if a.Product != b.Product {
			return cmp.Compare(a.Product, b.Product)
		}
		return cmp.Compare(a.AccountID, b.AccountID)
	})
	return out, nil
}

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
	accts, err := covered(ctx, tx, n.EmailHash, n.Named, n.Scope)
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
	entry, err := tx.Append(ctx, now, ledger.KindObjectionAccepted, map[string]any{
		"reference":    ref,
		"subject":      subject,
		"accounts":     pseud,
		"scope":        n.Scope.String(),
		"channel":      n.Channel,
		"received_at":  n.ReceivedAt.UTC().Format(time.RFC3339Nano),
		"effective_at": n.EffectiveAt.UTC().Format(time.RFC3339Nano),
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
		Flow: req.Kind, Reference: ref, At: now, Accounts: accountLines(accts),
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
	entry, err := tx.Append(ctx, now, ledger.KindObjectionWithdrawn, map[string]any{
		"reference":    ref,
		"subject":      s.keys.Pseudonym("email", req.EmailHash),
		"objections":   append([]string{}, ended...),
		"channel":      req.Channel,
		"withdrawn_at": now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return Outcome{}, err
	}
	if err := tx.InsertWithdrawal(ctx, store.Withdrawal{ID: ref, EmailHash: req.EmailHash, RequestID: req.ID,
		Channel: req.Channel, WithdrawnAt: now, Ended: len(ended), LedgerSeq: entry.Seq}); err != nil {
		return Outcome{}, err
	}
	if err := s.queue(ctx, tx, mail.KindWithdrawalConfirmed, req, now, mail.Data{
		Flow: req.Kind, Reference: ref, At: now, Ended: len(ended),
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
