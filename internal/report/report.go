// Package report runs "content that shows me": anyone, with or without an
// account, asks that specific items be kept out of training. The request
// goes through the objection service's code machinery (the same limits,
// code and attempts), so every address gets a code and the answer is the
// same for all of them by construction; the confirmed report waits in the
// review queue (Queue) for the privacy team's decision.
package report

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Flow is the code flow of reports on the objection service.
const Flow objection.Flow = "report"

// Prefix starts every report's reference number.
const Prefix = "NTR"

// Limits of a report.
const (
	MaxItems       = 50
	MaxDescription = 2000 // characters
	MaxAccount     = 200  // characters
)

// Relations: what the items show.
const (
	RelationMe      = "me"
	RelationMyChild = "my_child"
	RelationOther   = "other"
)

// Stable error codes of reports (translated as "err_"+code like the
// objection service's).
const (
	CodeItemsRequired      = "items_required"
	CodeItemsTooMany       = "items_too_many"
	CodeItemInvalid        = "item_invalid"
	CodeItemURLUnknown     = "item_url_unknown"
	CodeRelationInvalid    = "relation_invalid"
	CodeDescriptionTooLong = "description_too_long"
	CodeDescriptionInvalid = "description_invalid"
	CodeAccountInvalid     = "account_invalid"
	CodeFollowsInvalid     = "follows_invalid"
)

// Codes lists the refusals of this package, for the start-up check of
// their translations.
func Codes() []string {
	return []string{CodeItemsRequired, CodeItemsTooMany, CodeItemInvalid, CodeItemURLUnknown, CodeRelationInvalid,
		CodeDescriptionTooLong, CodeDescriptionInvalid, CodeAccountInvalid, CodeFollowsInvalid}
}

// Input is a report as the form or the API took it.
type Input struct {
	Email       string
	Items       []string // item ids or URLs, as entered
	Relation    string
	Description string
	Account     string
	// Follows is the reference of an earlier report this one answers a
	// request for more information on (the link in that mail); "" for
	// none. Only its shape is checked here: whether it names such a case
	// of the same person is decided silently when the code is confirmed.
	Follows string
	Lang    string
	Channel string // web | api
	Client  string // client address, for --ip-rate-limit
}

// payload is what the request carries to its confirmation
// (StartInput.Data); the address goes with the request itself.
type payload struct {
	Items       []string `json:"items"`
	Relation    string   `json:"relation"`
	Description string   `json:"description,omitempty"`
	Account     string   `json:"account,omitempty"`
	Follows     string   `json:"follows,omitempty"`
}

// Service takes reports.
type Service struct {
	svc  *objection.Service
	db   *store.DB
	keys *secret.Keys
	pats *Patterns
}

// New makes the report service and registers its flow on svc; call it
// before svc takes requests. pats may be empty (item ids only).
func New(svc *objection.Service, db *store.DB, keys *secret.Keys, pats *Patterns) *Service {
	if pats == nil {
		pats = &Patterns{}
	}
	s := &Service{svc: svc, db: db, keys: keys, pats: pats}
	svc.Handle(Flow, objection.FlowHandler{AnyAddress: true, Finish: s.finish})
	return s
}

// Check validates a report's own fields (the address and the language
// are the code service's) and returns every refusal at once, for a form
// that shows each beside its field.
func (s *Service) Check(in Input) (string, []*objection.Error) { return Validate(s.pats, in) }

// Validate is Check with the given item URL patterns: the report's fields
// as the flow carries them (JSON), or every refusal.
func Validate(pats *Patterns, in Input) (string, []*objection.Error) {
	var errs []*objection.Error
	var p payload
	items, err := pats.ParseItems(in.Items)
	if err != nil {
		errs = append(errs, asRefusal(err))
	}
	p.Items = items
	switch in.Relation {
	case RelationMe, RelationMyChild, RelationOther:
		p.Relation = in.Relation
	default:
		errs = append(errs, &objection.Error{Code: CodeRelationInvalid, Field: "relation"})
	}
	p.Description = strings.TrimSpace(in.Description)
	switch {
	case utf8.RuneCountInString(p.Description) > MaxDescription:
		errs = append(errs, &objection.Error{Code: CodeDescriptionTooLong, Field: "description"})
	case !plainText(p.Description):
		errs = append(errs, &objection.Error{Code: CodeDescriptionInvalid, Field: "description"})
	}
	p.Account = strings.TrimSpace(in.Account)
	if utf8.RuneCountInString(p.Account) > MaxAccount || !plainText(p.Account) || strings.ContainsAny(p.Account, "\r\n\t") {
		errs = append(errs, &objection.Error{Code: CodeAccountInvalid, Field: "account"})
	}
	p.Follows = strings.TrimSpace(in.Follows)
	if p.Follows != "" && !ValidFollows(p.Follows) {
		errs = append(errs, &objection.Error{Code: CodeFollowsInvalid, Field: "follows"})
	}
	if len(errs) > 0 {
		return "", errs
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", []*objection.Error{{Code: CodeItemInvalid, Field: "items"}}
	}
	return string(b), nil
}

// ValidFollows reports whether s has the shape of a report's reference,
// as the more-information mail's link carries it.
func ValidFollows(s string) bool { return ids.IsReference(Prefix, s) }

func asRefusal(err error) *objection.Error {
	var e *objection.Error
	if errors.As(err, &e) {
		return e
	}
	return &objection.Error{Code: CodeItemInvalid, Field: "items"}
}

// plainText reports whether s is valid UTF-8 free of control characters
// other than line breaks and tabs, as the objection service's reasons are.
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

// Start validates a report and sends its code. The address is checked
// first, as for every flow; then the report's own fields.
func (s *Service) Start(ctx context.Context, in Input) (objection.Started, error) {
	if _, err := objection.ParseEmail(in.Email); err != nil {
		return objection.Started{}, err
	}
	data, errs := s.Check(in)
	if len(errs) > 0 {
		return objection.Started{}, errs[0]
	}
	return s.svc.Start(ctx, objection.StartInput{Flow: Flow, Email: in.Email, Lang: in.Lang, Channel: in.Channel,
		Client: in.Client, Scope: objection.AllAccounts, Data: data})
}

// Verify checks a report's code; a right one records the report.
func (s *Service) Verify(ctx context.Context, requestID, code string) (objection.Outcome, error) {
	return s.svc.Verify(ctx, Flow, requestID, code)
}

// finish records a confirmed report: the report and its items, its ledger
// entry and the confirmation mail, in the transaction that uses the code.
// A report that follows up a case waiting for more information of the
// same address closes that case as superseded in the same transaction;
// a follows that names no such case is dropped without a trace, so the
// answer never tells whether a reference exists or whose it is.
func (s *Service) finish(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (objection.Outcome, error) {
	var p payload
	if err := json.Unmarshal([]byte(req.Data), &p); err != nil {
		return objection.Outcome{}, fmt.Errorf("report: data of request %s: %w", req.ID, err)
	}
	if len(p.Items) == 0 {
		return objection.Outcome{}, fmt.Errorf("report: request %s carries no items", req.ID)
	}
	ref := ids.Reference(Prefix)
	follows, err := s.supersede(ctx, tx, p.Follows, req.EmailHash, now)
	if err != nil {
		return objection.Outcome{}, err
	}
	entry, err := tx.Append(ctx, now, ledger.KindReportReceived, ledger.ReportReceived{
		Reference: ref,
		// Keyed by the reference as well: the log is public, and the
		// objection, consent and other reports of the same address must
		// not be found from a report's entry (or it from theirs). Whoever
		// holds the key and the address can still recompute it.
		Subject:    s.keys.Pseudonym("report-subject", ref+"\x00"+req.EmailHash),
		Items:      ItemPseudonyms(s.keys, p.Items),
		Channel:    req.Channel,
		ReceivedAt: now.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return objection.Outcome{}, err
	}
	if err := tx.InsertReport(ctx, store.Report{
		ID: ref, RequestID: req.ID, EmailHash: req.EmailHash, Email: req.Email, Lang: req.Lang, Relation: p.Relation,
		Description: p.Description, Account: p.Account, Channel: req.Channel, Status: store.ReportInReview,
		ReceivedAt: now, LedgerSeq: entry.Seq, Items: p.Items, Follows: follows,
	}); err != nil {
		return objection.Outcome{}, err
	}
	if err := s.svc.QueueMail(ctx, tx, mail.KindReportReceived, req, now, mail.Data{
		Flow: string(Flow), Reference: ref, At: now, Items: p.Items, LedgerSeq: entry.Seq,
	}); err != nil {
		return objection.Outcome{}, err
	}
	return objection.Outcome{Flow: Flow, Reference: ref, Status: store.ReportInReview, At: now, Scope: objection.AllAccounts,
		Lang: req.Lang, LedgerSeq: entry.Seq, Items: p.Items}, nil
}

// supersede closes the case a new report follows up, when it is waiting
// for more information and was filed from the same address (the keyed
// hashes compared in constant time), with a report.decided entry
// "superseded" that names no operator: the person, not the team, ended
// it. It returns the reference the new report then carries, or "" when
// follows names no such case.
func (s *Service) supersede(ctx context.Context, tx *store.Tx, follows, emailHash string, now time.Time) (string, error) {
	if follows == "" {
		return "", nil
	}
	old, err := tx.Report(ctx, follows)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	same := subtle.ConstantTimeCompare([]byte(old.EmailHash), []byte(emailHash)) == 1
	if !same || old.Status != store.ReportInfoRequested {
		return "", nil
	}
	entry, err := tx.Append(ctx, now, ledger.KindReportDecided, ledger.ReportDecided{
		Reference: old.ID, Decision: DecisionSuperseded, Items: ItemPseudonyms(s.keys, old.Items),
		DecidedAt: now.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return "", err
	}
	if err := tx.SupersedeReport(ctx, old.ID, now, entry.Seq); err != nil {
		return "", err
	}
	return old.ID, nil
}

// DecisionSuperseded is the decision a report.decided entry records when
// the person answered a request for more information by filing again.
const DecisionSuperseded = store.ReportSuperseded

// ItemPseudonyms are the keyed pseudonyms of item ids that the ledger's
// report entries carry in place of the ids.
func ItemPseudonyms(keys *secret.Keys, items []string) []string {
	out := make([]string, len(items))
	for i, id := range items {
		out[i] = keys.Pseudonym("item", id)
	}
	return out
}

// Result is a confirmed report as its confirmation page shows it.
type Result struct {
	Reference  string
	Status     string // in_review | info_requested | approved | rejected | superseded
	ReceivedAt time.Time
	DueAt      time.Time
	Items      []string
	Lang       string
	LedgerSeq  int64
}

// Result reads the report a confirmed request recorded.
func (s *Service) Result(ctx context.Context, requestID string) (Result, error) {
	if !ids.IsRequest(requestID) {
		return Result{}, &objection.Error{Code: objection.CodeRequestNotFound}
	}
	req, err := s.db.Request(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (objection.Flow(req.Kind) != Flow || req.ResultRef == "") {
		return Result{}, &objection.Error{Code: objection.CodeRequestNotFound}
	}
	if err != nil {
		return Result{}, err
	}
	r, err := s.db.Report(ctx, req.ResultRef)
	if err != nil {
		return Result{}, err
	}
	return Result{Reference: r.ID, Status: r.Status, ReceivedAt: r.ReceivedAt, DueAt: review.Due(r.ReceivedAt),
		Items: r.Items, Lang: r.Lang, LedgerSeq: r.LedgerSeq}, nil
}
