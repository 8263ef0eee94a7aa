// Package review is the privacy team's queue: the cases a person decides —
// reports of content about someone, and objections a policy sends to
// review — oldest first, each with the month GDPR gives for an answer
// (Art. 12(3)). The console and the admin API show and decide cases only
// through this package.
package review

import (
	"context"
	"errors"
	"time"
)

// Case kinds.
const (
	KindReport    = "report"
	KindObjection = "objection"
)

// Case states while open.
const (
	StatusInReview      = "in_review"
	StatusInfoRequested = "info_requested"
)

// Decisions.
const (
	Approve  = "approve"
	Reject   = "reject"
	MoreInfo = "more_info" // ask the person for more information; the case stays open
)

// Case is one open case.
type Case struct {
	Reference   string    `json:"reference"`
	Kind        string    `json:"kind"`
	Status      string    `json:"status"`
	ReceivedAt  time.Time `json:"received_at"`
	DueAt       time.Time `json:"due_at"` // ReceivedAt + one month
	Items       []Item    `json:"items"`
	Relation    string    `json:"relation,omitempty"` // me | my_child | other (reports)
	Description string    `json:"description,omitempty"`
	Account     string    `json:"account,omitempty"` // the account the person says they have, if any
	Lang        string    `json:"lang"`
	// Follows is the reference of the case this report follows up: the
	// person answered a request for more information by filing again,
	// and that case was closed as superseded. Earlier shows it.
	Follows string   `json:"follows,omitempty"`
	Earlier *Earlier `json:"earlier,omitempty"`
}

// Earlier is a superseded case as the case that follows it up shows it:
// what the person reported then and what they were asked.
type Earlier struct {
	Reference   string    `json:"reference"`
	ReceivedAt  time.Time `json:"received_at"`
	Items       []Item    `json:"items"`
	Relation    string    `json:"relation,omitempty"`
	Description string    `json:"description,omitempty"`
	Account     string    `json:"account,omitempty"`
	Asked       string    `json:"asked"` // the request for more information the person answered
}

// Item is an item a case names, with the platform's URL for it when the
// operator configured one.
type Item struct {
	ID  string `json:"id"`
	URL string `json:"url,omitempty"`
}

// Decision is an operator's decision on a case.
type Decision struct {
	Decision string // Approve | Reject | MoreInfo
	Note     string // the reason; required to reject or to ask for more
	Operator string // who decided (an operator's name, or a token's)
}

// Decided is what a decision recorded.
type Decided struct {
	Reference string    `json:"reference"`
	Decision  string    `json:"decision"`
	Status    string    `json:"status"` // approved | rejected | info_requested
	At        time.Time `json:"decided_at"`
	LedgerSeq int64     `json:"ledger_seq"`
}

// Errors of Decide.
var (
	ErrNotFound     = errors.New("review: no open case with this reference")
	ErrBadDecision  = errors.New("review: decision must be approve, reject or more_info")
	ErrNoteRequired = errors.New("review: a rejection or a request for more information needs a note the person will read")
	// ErrDecided: the case was approved or rejected already; a decision
	// is final (a new report starts a new case).
	ErrDecided = errors.New("review: this case is already decided")
	// ErrNoteInvalid: the note is longer than MaxNote characters or holds
	// control characters.
	ErrNoteInvalid = errors.New("review: the note is too long or holds control characters")
	// ErrNoOperator: a decision must name who made it.
	ErrNoOperator = errors.New("review: a decision must name the operator")
	// ErrNotDecidable: the case is listed so that none is forgotten, but
	// this queue cannot record a decision on its kind.
	ErrNotDecidable = errors.New("review: this kind of case cannot be decided from the queue")
)

// MaxNote is the longest note accepted, in characters.
const MaxNote = 2000

// Queue is the review queue.
type Queue interface {
	// Open lists the open cases, oldest first.
	Open(ctx context.Context) ([]Case, error)
	// Decide records a decision, its ledger entry and the mail to the
	// person in one transaction.
	Decide(ctx context.Context, reference string, d Decision) (Decided, error)
}

// Due is when a case received at t must be answered: one calendar month
// later (Art. 12(3) GDPR), in UTC — the same date of the next month or, when
// it has none (31 January), its last day (Regulation 1182/71, Art. 3(2)(c));
// time.AddDate would spill into the month after.
func Due(t time.Time) time.Time {
	t = t.UTC()
	first := time.Date(t.Year(), t.Month()+1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}
