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
	"github.com/notrain/notrain/internal/testutil/fixture"
)

const testPatterns = `# the platform's item pages
fb https://www.facebook.example/photo/{id}
fb https://www.facebook.example/posts/{id}
ig https://www.instagram.example/p/{id}/
`

type env struct {
	*fixture.Fixture
	rep   *report.Service
	queue *report.Queue
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	pats, err := report.ParsePatterns(strings.NewReader(testPatterns))
	if err != nil {
		t.Fatal(err)
	}
	return &env{Fixture: f, rep: report.New(f.Svc, f.DB, f.Keys, pats), queue: report.NewQueue(f.DB, f.Svc, f.Keys, pats, f.Clock.Now)}
}

// file reports items for addr and confirms the code from the mail.
func (e *env) file(t *testing.T, addr string, items ...string) objection.Outcome {
	t.Helper()
	ctx := context.Background()
	st, err := e.rep.Start(ctx, report.Input{Email: addr, Items: items, Relation: report.RelationMe, Description: "I am on the left",
		Account: "left.person", Lang: "en", Channel: "api"})
	if err != nil {
		t.Fatal(err)
	}
	code := e.CodeFor(t, st.RequestID)
	if code == "" {
		t.Fatalf("no code mailed to %s", addr)
	}
	out, err := e.rep.Verify(ctx, st.RequestID, code)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReportWithAndWithoutAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := context.Background()
		for _, addr := range []string{"anna@example.de", "nobody@example.org"} {
			out := e.file(t, addr, "https://www.facebook.example/photo/1001", "fb:1002", "fb:1001")
			if out.Status != store.ReportInReview || !strings.HasPrefix(out.Reference, report.Prefix+"-") {
				t.Fatalf("%s: outcome %+v", addr, out)
			}
			if strings.Join(out.Items, " ") != "fb:1001 fb:1002" {
				t.Fatalf("%s: items %v (URL mapped, duplicate collapsed)", addr, out.Items)
			}
			r, err := e.DB.Report(ctx, out.Reference)
			if err != nil {
				t.Fatal(err)
			}
			if r.Email != addr || r.Status != store.ReportInReview || r.Description != "I am on the left" || r.LedgerSeq != out.LedgerSeq {
				t.Fatalf("%s: stored %+v", addr, r)
			}
			// The confirmation names the reference.
			ms := e.MailsTo(t, addr)
			if ms[0].Kind != mail.KindReportReceived || !strings.Contains(ms[0].Text, out.Reference) || !strings.Contains(ms[0].Text, "fb:1002") {
				t.Fatalf("%s: newest mail %s: %s", addr, ms[0].Kind, ms[0].Text)
			}
			// The ledger names neither the address nor the description.
			var body string
			raw := dbtest.Raw(t, e.Path)
			if err := raw.QueryRow(`SELECT body FROM ledger WHERE seq = $1`, out.LedgerSeq).Scan(&body); err != nil {
				t.Fatal(err)
			}
			var got ledger.ReportReceived
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			// Nor the items: the log is public, and which photo a person
			// asked about is about them. Their keyed pseudonyms stand in.
			if got.Reference != out.Reference || got.Subject == "" || strings.Contains(body, addr) || strings.Contains(body, "left") ||
				strings.Contains(body, "fb:") || strings.Contains(body, "1001") || strings.Contains(body, `"me"`) ||
				strings.Join(got.Items, ",") != strings.Join(report.ItemPseudonyms(e.Keys, []string{"fb:1001", "fb:1002"}), ",") {
				t.Fatalf("%s: ledger body %s", addr, body)
			}
		}
	})
}

func TestReportRefusals(t *testing.T) {
	e := newEnv(t, "")
	many := make([]string, report.MaxItems+1)
	for i := range many {
		many[i] = "fb:" + strings.Repeat("1", i+1)
	}
	for _, tc := range []struct {
		name string
		in   report.Input
		code string
	}{
		{"no email", report.Input{Items: []string{"fb:1"}, Relation: "me"}, objection.CodeEmailRequired},
		{"no items", report.Input{Email: "a@example.org", Items: []string{" ", ""}, Relation: "me"}, report.CodeItemsRequired},
		{"too many", report.Input{Email: "a@example.org", Items: many, Relation: "me"}, report.CodeItemsTooMany},
		{"unknown url", report.Input{Email: "a@example.org", Items: []string{"https://elsewhere.example/photo/1"}, Relation: "me"}, report.CodeItemURLUnknown},
		{"url of no item", report.Input{Email: "a@example.org", Items: []string{"https://www.facebook.example/photo/"}, Relation: "me"}, report.CodeItemURLUnknown},
		{"id with space", report.Input{Email: "a@example.org", Items: []string{"fb 1"}, Relation: "me"}, report.CodeItemInvalid},
		{"relation", report.Input{Email: "a@example.org", Items: []string{"fb:1"}, Relation: "friend"}, report.CodeRelationInvalid},
		{"description", report.Input{Email: "a@example.org", Items: []string{"fb:1"}, Relation: "me", Description: strings.Repeat("x", 2001)}, report.CodeDescriptionTooLong},
		{"description nul", report.Input{Email: "a@example.org", Items: []string{"fb:1"}, Relation: "me", Description: "a\x00b"}, report.CodeDescriptionInvalid},
		{"account", report.Input{Email: "a@example.org", Items: []string{"fb:1"}, Relation: "me", Account: "a\nb"}, report.CodeAccountInvalid},
		{"lang", report.Input{Email: "a@example.org", Items: []string{"fb:1"}, Relation: "me", Lang: "xx"}, objection.CodeLangInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.Lang == "" {
				tc.in.Lang = "en"
			}
			_, err := e.rep.Start(context.Background(), tc.in)
			var oe *objection.Error
			if !errors.As(err, &oe) || oe.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	// Nothing was saved, nothing mailed.
	if ms := e.Mails(t); len(ms) != 0 {
		t.Fatalf("refusals queued %d mails", len(ms))
	}
	// Exactly 50 distinct items are fine.
	if _, err := e.rep.Start(context.Background(), report.Input{Email: "a@example.org", Items: many[:report.MaxItems], Relation: "other", Lang: "de"}); err != nil {
		t.Fatal(err)
	}
}

func TestDecisions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := context.Background()
		first := e.file(t, "nobody@example.org", "fb:1001", "https://www.instagram.example/p/Cx9_a/")
		e.Clock.Advance(time.Hour)
		second := e.file(t, "anna@example.de", "fb:2001")
		e.Clock.Advance(time.Hour)
		third := e.file(t, "carl@example.net", "fb:3001")

		open, err := e.queue.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 3 || open[0].Reference != first.Reference || open[2].Reference != third.Reference {
			t.Fatalf("open cases not oldest first: %+v", open)
		}
		c := open[0]
		if c.Kind != review.KindReport || c.Status != review.StatusInReview || !c.DueAt.Equal(review.Due(c.ReceivedAt)) ||
			len(c.Items) != 2 || c.Items[0].URL != "https://www.facebook.example/photo/1001" || c.Items[1].ID != "ig:Cx9_a" ||
			c.Items[1].URL != "https://www.instagram.example/p/Cx9_a/" || c.Relation != "me" || c.Lang != "en" {
			t.Fatalf("case: %+v", c)
		}

		// Refusals of a decision.
		for _, tc := range []struct {
			ref  string
			d    review.Decision
			want error
		}{
			{first.Reference, review.Decision{Decision: "maybe", Operator: "olga"}, review.ErrBadDecision},
			{first.Reference, review.Decision{Decision: review.Reject, Operator: "olga"}, review.ErrNoteRequired},
			{first.Reference, review.Decision{Decision: review.MoreInfo, Note: "  ", Operator: "olga"}, review.ErrNoteRequired},
			{first.Reference, review.Decision{Decision: review.Approve}, review.ErrNoOperator},
			{first.Reference, review.Decision{Decision: review.Reject, Note: strings.Repeat("n", review.MaxNote+1), Operator: "olga"}, review.ErrNoteInvalid},
			{"NTR-0000-0000-0000", review.Decision{Decision: review.Approve, Operator: "olga"}, review.ErrNotFound},
		} {
			if _, err := e.queue.Decide(ctx, tc.ref, tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("%+v: got %v, want %v", tc.d, err, tc.want)
			}
		}

		e.Clock.Advance(time.Hour)
		approved, err := e.queue.Decide(ctx, first.Reference, review.Decision{Decision: review.Approve, Operator: "olga"})
		if err != nil {
			t.Fatal(err)
		}
		if approved.Status != store.ReportApproved || !approved.At.Equal(e.Clock.Now()) || approved.LedgerSeq == 0 {
			t.Fatalf("approved: %+v", approved)
		}
		for _, id := range []string{"fb:1001", "ig:Cx9_a"} {
			x, err := e.DB.ItemExclusion(ctx, id)
			if err != nil {
				t.Fatalf("%s not excluded: %v", id, err)
			}
			if !x.AddedAt.Equal(approved.At) || x.LedgerSeq != approved.LedgerSeq || !strings.Contains(x.Reason, first.Reference) {
				t.Fatalf("exclusion %+v", x)
			}
		}
		// One ledger entry for the decision, naming the operator (by
		// pseudonym: the log is public) and the items.
		raw := dbtest.Raw(t, e.Path)
		var n int
		var body string
		if err := raw.QueryRow(`SELECT COUNT(*) FROM ledger WHERE kind = $1`, ledger.KindReportDecided).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d decision entries (%v)", n, err)
		}
		if err := raw.QueryRow(`SELECT body FROM ledger WHERE seq = $1`, approved.LedgerSeq).Scan(&body); err != nil {
			t.Fatal(err)
		}
		var decided ledger.ReportDecided
		if err := json.Unmarshal([]byte(body), &decided); err != nil {
			t.Fatal(err)
		}
		if decided.Operator != e.Keys.OperatorPseudonym("olga") || strings.Contains(body, "olga") || decided.Decision != review.Approve || decided.Reference != first.Reference ||
			strings.Join(decided.Items, ",") != strings.Join(report.ItemPseudonyms(e.Keys, []string{"fb:1001", "ig:Cx9_a"}), ",") ||
			strings.Contains(body, "fb:1001") {
			t.Fatalf("decision entry: %s", body)
		}
		// The decision mail is queued and what the person told about
		// themselves (address, description, account) forgotten.
		ms := e.MailsTo(t, "nobody@example.org")
		if ms[0].Kind != mail.KindReportApproved || !strings.Contains(ms[0].Text, first.Reference) {
			t.Fatalf("approval mail: %s %s", ms[0].Kind, ms[0].Text)
		}
		if r, _ := e.DB.Report(ctx, first.Reference); r.Email != "" || r.Description != "" || r.Account != "" || r.DecidedBy != "olga" {
			t.Fatalf("after approval: %+v", r)
		}
		// A decided case is not decided again.
		if _, err := e.queue.Decide(ctx, first.Reference, review.Decision{Decision: review.Reject, Note: "no", Operator: "olga"}); !errors.Is(err, review.ErrDecided) {
			t.Fatalf("second decision: %v", err)
		}

		// Reject with a reason: the mail carries it.
		const reason = "The photo does not show a person who can be recognised."
		if _, err := e.queue.Decide(ctx, second.Reference, review.Decision{Decision: review.Reject, Note: reason, Operator: "piet"}); err != nil {
			t.Fatal(err)
		}
		ms = e.MailsTo(t, "anna@example.de")
		if ms[0].Kind != mail.KindReportRejected || !strings.Contains(ms[0].Text, reason) || !strings.Contains(ms[0].HTML, reason) {
			t.Fatalf("rejection mail: %s %s", ms[0].Kind, ms[0].Text)
		}
		if _, err := e.DB.ItemExclusion(ctx, "fb:2001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rejected item excluded: %v", err)
		}
		if _, err := e.queue.Decide(ctx, second.Reference, review.Decision{Decision: review.Approve, Operator: "piet"}); !errors.Is(err, review.ErrDecided) {
			t.Fatalf("approve after reject: %v", err)
		}
		if r, _ := e.DB.Report(ctx, second.Reference); r.Email != "" || r.Description != "" || r.Account != "" || r.Note != reason {
			t.Fatalf("after rejection: %+v", r)
		}

		// More information: the case stays open, the address is kept.
		const ask = "Which of the people in the photo are you?"
		info, err := e.queue.Decide(ctx, third.Reference, review.Decision{Decision: review.MoreInfo, Note: ask, Operator: "olga"})
		if err != nil || info.Status != store.ReportInfoRequested {
			t.Fatalf("more info: %+v %v", info, err)
		}
		ms = e.MailsTo(t, "carl@example.net")
		if ms[0].Kind != mail.KindReportMoreInfo || !strings.Contains(ms[0].Text, ask) || !strings.Contains(ms[0].Text, "/report") {
			t.Fatalf("more-info mail: %s %s", ms[0].Kind, ms[0].Text)
		}
		open, err = e.queue.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 1 || open[0].Reference != third.Reference || open[0].Status != review.StatusInfoRequested ||
			open[0].Description != "I am on the left" || open[0].Account != "left.person" {
			t.Fatalf("open after decisions: %+v", open)
		}
		if r, _ := e.DB.Report(ctx, third.Reference); r.Email != "carl@example.net" {
			t.Fatalf("waiting for more information: %+v", r)
		}
		// ... and can then be decided.
		if _, err := e.queue.Decide(ctx, third.Reference, review.Decision{Decision: review.Approve, Operator: "olga"}); err != nil {
			t.Fatal(err)
		}
		if r, _ := e.DB.Report(ctx, third.Reference); r.Email != "" || r.Description != "" || r.Account != "" || r.Status != store.ReportApproved {
			t.Fatalf("after the final decision: %+v", r)
		}
		if _, err := e.DB.VerifyLedger(ctx); err != nil {
			t.Fatalf("ledger after decisions: %v", err)
		}
	})
}

// An item already excluded keeps its first exclusion when a later report
// names it again.
func TestApprovingAnExcludedItemAgain(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	a := e.file(t, "nobody@example.org", "fb:1")
	b := e.file(t, "someone@example.org", "fb:1", "fb:2")
	da, err := e.queue.Decide(ctx, a.Reference, review.Decision{Decision: review.Approve, Operator: "olga"})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.queue.Decide(ctx, b.Reference, review.Decision{Decision: review.Approve, Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	x, err := e.DB.ItemExclusion(ctx, "fb:1")
	if err != nil || !x.AddedAt.Equal(da.At) || !strings.Contains(x.Reason, a.Reference) {
		t.Fatalf("fb:1: %+v %v", x, err)
	}
	if _, err := e.DB.ItemExclusion(ctx, "fb:2"); err != nil {
		t.Fatal(err)
	}
}

// Decisions racing on one report: exactly one is recorded, the others
// are refused as decided, and the ledger holds one decision entry.
func TestConcurrentDecisionsOnOneReport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		out := e.file(t, "nobody@example.org", "fb:1", "fb:2")
		const n = 6
		errs := make(chan error, n)
		for i := range n {
			d := review.Decision{Decision: review.Approve, Operator: "olga"}
			if i%2 == 1 {
				d = review.Decision{Decision: review.Reject, Note: "no", Operator: "piet"}
			}
			go func() {
				_, err := e.queue.Decide(context.Background(), out.Reference, d)
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case !errors.Is(err, review.ErrDecided):
				t.Errorf("unexpected refusal: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d decisions recorded, want 1", ok)
		}
		var entries int
		if err := dbtest.Raw(t, e.Path).QueryRow(`SELECT COUNT(*) FROM ledger WHERE kind = $1`, ledger.KindReportDecided).Scan(&entries); err != nil || entries != 1 {
			t.Fatalf("%d decision entries (%v)", entries, err)
		}
		if len(e.MailsTo(t, "nobody@example.org")) != 3 { // code, received, one decision
			t.Fatalf("mails: %d", len(e.MailsTo(t, "nobody@example.org")))
		}
		if _, err := e.DB.VerifyLedger(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
