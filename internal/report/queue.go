package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Queue is the review queue over the store: reports, and objections a
// policy sends to review. It implements review.Queue.
type Queue struct {
	db   *store.DB
	svc  *objection.Service // queues the decision mails
	keys *secret.Keys       // the items' pseudonyms in the ledger
	pats *Patterns
	now  func() time.Time
}

// ErrObjectionDecision refuses a decision on an objection in review: the
// queue lists them so none is forgotten, but the objection service, which
// would record their acceptance, sends none to review yet.
// It wraps review.ErrNotDecidable, which callers of any queue can test for.
var ErrObjectionDecision = fmt.Errorf("report: objections in review cannot be decided from the queue yet: %w", review.ErrNotDecidable)

// NewQueue makes the review queue. svc queues the mails decisions send;
// keys make the items' pseudonyms; pats links items to the platform's
// pages; now is the clock (nil: time.Now).
func NewQueue(db *store.DB, svc *objection.Service, keys *secret.Keys, pats *Patterns, now func() time.Time) *Queue {
	if now == nil {
		now = time.Now
	}
	if pats == nil {
		pats = &Patterns{}
	}
	return &Queue{db: db, svc: svc, keys: keys, pats: pats, now: now}
}

var _ review.Queue = (*Queue)(nil)

// Open lists the open cases, oldest first.
func (q *Queue) Open(ctx context.Context) ([]review.Case, error) {
	reports, err := q.db.OpenReports(ctx)
	if err != nil {
		return nil, err
	}
	objs, err := q.db.ObjectionsInReview(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]review.Case, 0, len(reports)+len(objs))
	for _, r := range reports {
		items := make([]review.Item, len(r.Items))
		for i, id := range r.Items {
			items[i] = review.Item{ID: id, URL: q.pats.URL(id)}
		}
		c := review.Case{Reference: r.ID, Kind: review.KindReport, Status: r.Status, ReceivedAt: r.ReceivedAt,
			DueAt: review.Due(r.ReceivedAt), Items: items, Relation: r.Relation, Description: r.Description,
			Account: r.Account, Lang: r.Lang, Follows: r.Follows}
		if r.Follows != "" {
			if c.Earlier, err = q.earlier(ctx, r.Follows); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	for _, o := range objs {
		out = append(out, review.Case{Reference: o.ID, Kind: review.KindObjection, Status: review.StatusInReview,
			ReceivedAt: o.ReceivedAt, DueAt: review.Due(o.ReceivedAt), Items: []review.Item{}, Lang: o.Lang})
	}
	slices.SortStableFunc(out, func(a, b review.Case) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), cmp.Compare(a.Reference, b.Reference))
	})
	return out, nil
}

// earlier is the superseded case a report follows up, as the operator
// deciding the report sees it next to it.
func (q *Queue) earlier(ctx context.Context, ref string) (*review.Earlier, error) {
	r, err := q.db.Report(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	items := make([]review.Item, len(r.Items))
	for i, id := range r.Items {
		items[i] = review.Item{ID: id, URL: q.pats.URL(id)}
	}
	return &review.Earlier{Reference: r.ID, ReceivedAt: r.ReceivedAt, Items: items, Relation: r.Relation,
		Description: r.Description, Account: r.Account, Asked: r.Note}, nil
}

// Decide records a decision on a report: its ledger entry (naming the
// operator by pseudonym and listing the items), the report's new state, for an
// approval every item on the exclusion list, and the mail to the person,
// in one transaction. An approval or a rejection is final, and with its
// mail queued what the person told about themselves (address,
// description, account) is forgotten, in this case and in the cases it
// followed up.
func (q *Queue) Decide(ctx context.Context, reference string, d review.Decision) (review.Decided, error) {
	d.Note = strings.TrimSpace(d.Note)
	d.Operator = strings.TrimSpace(d.Operator)
	var status, kind string
	switch d.Decision {
	case review.Approve:
		status, kind = store.ReportApproved, mail.KindReportApproved
	case review.Reject:
		status, kind = store.ReportRejected, mail.KindReportRejected
	case review.MoreInfo:
		status, kind = store.ReportInfoRequested, mail.KindReportMoreInfo
	default:
		return review.Decided{}, review.ErrBadDecision
	}
	if d.Note == "" && d.Decision != review.Approve {
		return review.Decided{}, review.ErrNoteRequired
	}
	if utf8.RuneCountInString(d.Note) > review.MaxNote || !plainText(d.Note) {
		return review.Decided{}, review.ErrNoteInvalid
	}
	if d.Operator == "" {
		return review.Decided{}, review.ErrNoOperator
	}
	now := q.now().UTC()
	var out review.Decided
	err := q.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		r, err := tx.Report(ctx, reference)
		if errors.Is(err, store.ErrNotFound) {
			if _, oerr := q.db.Objection(ctx, reference); oerr == nil {
				return ErrObjectionDecision
			}
			return review.ErrNotFound
		}
		if err != nil {
			return err
		}
		if r.Status != store.ReportInReview && r.Status != store.ReportInfoRequested {
			return review.ErrDecided
		}
		op := q.keys.OperatorPseudonym(d.Operator)
		if err := tx.NameOperator(ctx, op, d.Operator, now); err != nil {
			return err
		}
		entry, err := tx.Append(ctx, now, ledger.KindReportDecided, ledger.ReportDecided{
			Reference: r.ID, Decision: d.Decision, Operator: op, Items: ItemPseudonyms(q.keys, r.Items),
			DecidedAt: now.Format(time.RFC3339Nano),
		})
		if err != nil {
			return err
		}
		if d.Decision == review.Approve {
			if err := tx.ExcludeItems(ctx, r.Items, "report "+r.ID, now, entry.Seq); err != nil {
				return err
			}
		}
		final := d.Decision != review.MoreInfo
		if err := tx.DecideReport(ctx, r.ID, store.ReportDecision{Status: status, DecidedAt: now, DecidedBy: d.Operator,
			Note: d.Note, DecisionSeq: entry.Seq, Final: final}); err != nil {
			return err
		}
		if final {
			if err := tx.ForgetSuperseded(ctx, r.Follows); err != nil {
				return err
			}
		}
		if r.Email != "" {
			md := mail.Data{Flow: string(Flow), Reference: r.ID, At: now, Items: r.Items, Note: d.Note}
			if final {
				md.LedgerSeq = entry.Seq
			}
			if err := q.svc.QueueMail(ctx, tx, kind, store.CodeRequest{ID: r.RequestID, Email: r.Email, Lang: r.Lang}, now, md); err != nil {
				return err
			}
		}
		out = review.Decided{Reference: r.ID, Decision: d.Decision, Status: status, At: now, LedgerSeq: entry.Seq}
		return nil
	})
	if err != nil {
		return review.Decided{}, err
	}
	return out, nil
}
