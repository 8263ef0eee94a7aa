package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// fileFollowing files a report for addr that follows up ref, through the
// code flow, and returns its outcome.
func (e *env) fileFollowing(t *testing.T, addr, ref, description string, items ...string) objection.Outcome {
	t.Helper()
	ctx := context.Background()
	st, err := e.rep.Start(ctx, report.Input{Email: addr, Items: items, Relation: report.RelationMe, Description: description,
		Account: "left.person", Follows: ref, Lang: "en", Channel: "web"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.rep.Verify(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The answer to a request for more information: the mail links to the
// form with the case's reference; a report filed through it from the same
// address closes that case as superseded, in the transaction that records
// the new one, and carries the reference so the console shows both; a
// follows from another address, of an unknown case or of a case no longer
// waiting is dropped without a trace.
func TestReportFollowsUpMoreInformation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := context.Background()
		raw := dbtest.Raw(t, e.Path)
		first := e.file(t, "carl@example.net", "fb:3001")
		e.Clock.Advance(time.Hour)
		const ask = "Which of the people in the photo are you?"
		if _, err := e.queue.Decide(ctx, first.Reference, review.Decision{Decision: review.MoreInfo, Note: ask, Operator: "olga"}); err != nil {
			t.Fatal(err)
		}
		ms := e.MailsTo(t, "carl@example.net")
		link := "/report?follows=" + first.Reference
		if ms[0].Kind != mail.KindReportMoreInfo || !strings.Contains(ms[0].Text, link) || !strings.Contains(ms[0].HTML, `href="http`) ||
			!strings.Contains(ms[0].HTML, link) {
			t.Fatalf("more-info mail does not link to the follow-up form: %s\n%s", ms[0].Text, ms[0].HTML)
		}
		superseded := func() int {
			t.Helper()
			var n int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM ledger WHERE kind = $1 AND body LIKE '%"superseded"%'`, ledger.KindReportDecided).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		stillWaiting := func(what string) {
			t.Helper()
			r, err := e.DB.Report(ctx, first.Reference)
			if err != nil || r.Status != store.ReportInfoRequested || r.Email != "carl@example.net" || superseded() != 0 {
				t.Fatalf("%s touched the case: %+v %v", what, r, err)
			}
		}

		// Someone else naming the case, and a reference no case has: the
		// new reports are taken as any other, the case is untouched.
		e.Clock.Advance(time.Hour)
		other := e.fileFollowing(t, "mallory@example.org", first.Reference, "mine now", "fb:3001")
		e.Clock.Advance(time.Minute)
		unknown := e.fileFollowing(t, "carl@example.net", "NTR-0000-0000-0000", "typo", "fb:3001")
		for _, out := range []objection.Outcome{other, unknown} {
			r, err := e.DB.Report(ctx, out.Reference)
			if err != nil || out.Status != store.ReportInReview || r.Follows != "" || r.Status != store.ReportInReview {
				t.Fatalf("report with an unmatched follows: %+v %+v %v", out, r, err)
			}
		}
		stillWaiting("a follows from another address or of an unknown case")
		if mm := e.MailsTo(t, "mallory@example.org"); mm[0].Kind != mail.KindReportReceived || strings.Contains(mm[0].Text, first.Reference) {
			t.Fatalf("the other address learns of the case: %s %s", mm[0].Kind, mm[0].Text)
		}

		// A malformed follows is a refusal, before any code is sent.
		if _, err := e.rep.Start(ctx, report.Input{Email: "carl@example.net", Items: []string{"fb:1"}, Relation: "me",
			Follows: "NTR-1' OR 1=1", Lang: "en"}); !isCode(err, report.CodeFollowsInvalid) {
			t.Fatalf("malformed follows: %v", err)
		}

		// The person answers through the link.
		e.Clock.Advance(time.Hour)
		answer := e.fileFollowing(t, "Carl@Example.net", first.Reference, "The one in the red coat.", "fb:3001")
		old, err := e.DB.Report(ctx, first.Reference)
		if err != nil {
			t.Fatal(err)
		}
		if old.Status != store.ReportSuperseded || old.Email != "" || !old.DecidedAt.Equal(e.Clock.Now()) || old.DecisionSeq == 0 ||
			old.Description != "I am on the left" || old.Note != ask {
			t.Fatalf("the followed case: %+v", old)
		}
		var body string
		if err := raw.QueryRow(`SELECT body FROM ledger WHERE seq = $1`, old.DecisionSeq).Scan(&body); err != nil {
			t.Fatal(err)
		}
		var decided map[string]any
		if err := json.Unmarshal([]byte(body), &decided); err != nil {
			t.Fatal(err)
		}
		if _, named := decided["operator"]; named || decided["decision"] != report.DecisionSuperseded || decided["reference"] != first.Reference ||
			old.DecisionSeq != answer.LedgerSeq-1 {
			t.Fatalf("superseded entry %d (new report at %d): %s", old.DecisionSeq, answer.LedgerSeq, body)
		}
		if r, _ := e.DB.Report(ctx, answer.Reference); r.Follows != first.Reference || r.Status != store.ReportInReview {
			t.Fatalf("the follow-up: %+v", r)
		}
		// The queue shows the follow-up with the case it answers; the
		// superseded case itself is no longer open.
		open, err := e.queue.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		var c review.Case
		for _, o := range open {
			refs = append(refs, o.Reference)
			if o.Reference == answer.Reference {
				c = o
			}
		}
		if strings.Join(refs, ",") != other.Reference+","+unknown.Reference+","+answer.Reference {
			t.Fatalf("open cases %v", refs)
		}
		if c.Follows != first.Reference || c.Earlier == nil || c.Earlier.Asked != ask || c.Earlier.Description != "I am on the left" ||
			len(c.Earlier.Items) != 1 || c.Earlier.Items[0].URL != "https://www.facebook.example/photo/3001" {
			t.Fatalf("follow-up case: %+v %+v", c, c.Earlier)
		}
		if _, err := e.queue.Decide(ctx, first.Reference, review.Decision{Decision: review.Approve, Operator: "olga"}); !errors.Is(err, review.ErrDecided) {
			t.Fatalf("deciding the superseded case: %v", err)
		}

		// The case is closed: naming it again changes nothing.
		again := e.fileFollowing(t, "carl@example.net", first.Reference, "again", "fb:3001")
		if r, _ := e.DB.Report(ctx, again.Reference); r.Follows != "" || superseded() != 1 {
			t.Fatalf("a follow-up of a closed case: %+v, %d superseded entries", r, superseded())
		}

		// The final decision on the follow-up forgets what the person said
		// in both cases.
		if _, err := e.queue.Decide(ctx, answer.Reference, review.Decision{Decision: review.Approve, Operator: "olga"}); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{first.Reference, answer.Reference} {
			if r, _ := e.DB.Report(ctx, ref); r.Email != "" || r.Description != "" || r.Account != "" {
				t.Fatalf("%s after the final decision: %+v", ref, r)
			}
		}
		if _, err := e.DB.ItemExclusion(ctx, "fb:3001"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.VerifyLedger(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func isCode(err error, code string) bool {
	var e *objection.Error
	return errors.As(err, &e) && e.Code == code
}
