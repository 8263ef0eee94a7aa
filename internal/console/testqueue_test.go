package console

// testQueue is the ONE stand-in for the real review queue in this
// package's tests: an in-memory review.Queue whose decisions are written to
// the real store's ledger (kind report.decided, naming the operator), as
// the real queue does. Replace it with the real implementation once that
// exists; the console's security tests do not depend on its content.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
)

type testQueue struct {
	db    *store.DB
	now   func() time.Time
	mu    sync.Mutex
	cases []review.Case
	done  []review.Decided
}

func (q *testQueue) add(c review.Case) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c.DueAt = review.Due(c.ReceivedAt)
	if c.Status == "" {
		c.Status = review.StatusInReview
	}
	q.cases = append(q.cases, c)
}

func (q *testQueue) Open(ctx context.Context) ([]review.Case, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	// Deliberately not sorted: the console sorts oldest first itself.
	return slices.Clone(q.cases), nil
}

func (q *testQueue) Decide(ctx context.Context, ref string, d review.Decision) (review.Decided, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.IndexFunc(q.cases, func(c review.Case) bool { return c.Reference == ref })
	if i < 0 {
		return review.Decided{}, review.ErrNotFound
	}
	status := map[string]string{review.Approve: "approved", review.Reject: "rejected", review.MoreInfo: review.StatusInfoRequested}[d.Decision]
	if status == "" {
		return review.Decided{}, review.ErrBadDecision
	}
	if d.Decision != review.Approve && strings.TrimSpace(d.Note) == "" {
		return review.Decided{}, review.ErrNoteRequired
	}
	at := q.now().UTC()
	var e ledger.Entry
	err := q.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		e, err = tx.Append(ctx, at, ledger.KindReportDecided, map[string]any{"reference": ref, "decision": d.Decision, "operator": d.Operator})
		return err
	})
	if err != nil {
		return review.Decided{}, err
	}
	if d.Decision == review.MoreInfo {
		q.cases[i].Status = review.StatusInfoRequested
	} else {
		q.cases = slices.Delete(q.cases, i, i+1)
	}
	out := review.Decided{Reference: ref, Decision: d.Decision, Status: status, At: at, LedgerSeq: e.Seq}
	q.done = append(q.done, out)
	return out, nil
}

func caseAt(ref string, at time.Time) review.Case {
	return review.Case{Reference: ref, Kind: review.KindReport, ReceivedAt: at, Items: []review.Item{{ID: "fb:" + ref}}, Relation: "other", Lang: "en"}
}
