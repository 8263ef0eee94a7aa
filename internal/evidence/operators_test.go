package evidence_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// The public ledger names no operator: not who decided a report (a person
// or a machine token), not who added whom, not who exported. The evidence
// export, which goes to an authority, names each of them.
func TestLedgerNamesNoOperator(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := fixture.New(t, fixture.Options{DSN: dsn})
		ops := operator.New(f.DB, f.Keys, f.Clock.Now)
		if _, err := ops.Add(ctx, "otto", operator.RoleAdmin, "cli"); err != nil {
			t.Fatal(err)
		}
		if _, err := ops.Add(ctx, "olga", operator.RoleReviewer, "otto"); err != nil {
			t.Fatal(err)
		}
		if err := ops.Disable(ctx, "olga", "otto"); err != nil {
			t.Fatal(err)
		}
		if _, err := ops.Reset(ctx, "olga", false, "cli"); err != nil {
			t.Fatal(err)
		}
		rep := report.New(f.Svc, f.DB, f.Keys, nil)
		st, err := rep.Start(ctx, report.Input{Email: "nobody@example.org", Items: []string{"fb:1"}, Relation: report.RelationMe, Lang: "en", Channel: "api"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := rep.Verify(ctx, st.RequestID, f.CodeFor(t, st.RequestID))
		if err != nil {
			t.Fatal(err)
		}
		q := report.NewQueue(f.DB, f.Svc, f.Keys, nil, f.Clock.Now)
		if _, err := q.Decide(ctx, out.Reference, review.Decision{Decision: review.MoreInfo, Note: "Which one are you?", Operator: "olga"}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Decide(ctx, out.Reference, review.Decision{Decision: review.Approve, Operator: "token:robot"}); err != nil {
			t.Fatal(err)
		}
		doc, err := evidence.New(f.DB, f.Keys, f.LogKey, f.Clock.Now).Export(ctx, out.Reference, "Eva Export")
		if err != nil {
			t.Fatal(err)
		}

		rows, err := dbtest.Raw(t, dsn).Query(`SELECT kind, body FROM ledger ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		kinds := map[string]int{}
		for rows.Next() {
			var kind, body string
			if err := rows.Scan(&kind, &body); err != nil {
				t.Fatal(err)
			}
			kinds[kind]++
			for _, name := range []string{"otto", "olga", "robot", "Eva", "Export", "cli"} {
				if strings.Contains(body, name) {
					t.Errorf("%s entry names %q: %s", kind, name, body)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if kinds[ledger.KindOperatorAdded] != 2 || kinds[ledger.KindOperatorDisabled] != 1 || kinds[ledger.KindOperatorReset] != 1 ||
			kinds[ledger.KindReportDecided] != 2 || kinds[ledger.KindEvidenceExported] != 1 {
			t.Fatalf("entries by kind: %v", kinds)
		}

		_, payload := verifyJWS(t, doc, f.LogKey.VerifierKey())
		var d evidence.Document
		if err := json.Unmarshal(payload, &d); err != nil {
			t.Fatal(err)
		}
		if d.Operator != "Eva Export" {
			t.Fatalf("exporter %q", d.Operator)
		}
		// Each decision entry's pseudonym resolves to who made it.
		var deciders []string
		for _, e := range d.Entries {
			if e.Kind != ledger.KindReportDecided {
				continue
			}
			var b ledger.ReportDecided
			if err := json.Unmarshal(e.Body, &b); err != nil {
				t.Fatal(err)
			}
			deciders = append(deciders, b.Decision+":"+d.Operators[b.Operator])
		}
		if strings.Join(deciders, ",") != "more_info:olga,approve:token:robot" {
			t.Fatalf("decisions resolve to %v (operators %v)", deciders, d.Operators)
		}
		if d.Operators[f.Keys.OperatorPseudonym("Eva Export")] != "Eva Export" || len(d.Operators) != 3 {
			t.Fatalf("operators %v", d.Operators)
		}
	})
}

// The evidence of a report that followed up a request for more
// information shows the earlier case's entries too, and the other way
// round: the case, its question, its closing and its follow-up.
func TestEvidenceOfAFollowUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := fixture.New(t, fixture.Options{DSN: dsn})
		rep := report.New(f.Svc, f.DB, f.Keys, nil)
		file := func(follows string) string {
			t.Helper()
			st, err := rep.Start(ctx, report.Input{Email: "nobody@example.org", Items: []string{"fb:1"}, Relation: report.RelationMe,
				Follows: follows, Lang: "en", Channel: "api"})
			if err != nil {
				t.Fatal(err)
			}
			out, err := rep.Verify(ctx, st.RequestID, f.CodeFor(t, st.RequestID))
			if err != nil {
				t.Fatal(err)
			}
			return out.Reference
		}
		first := file("")
		q := report.NewQueue(f.DB, f.Svc, f.Keys, nil, f.Clock.Now)
		if _, err := q.Decide(ctx, first, review.Decision{Decision: review.MoreInfo, Note: "Which one?", Operator: "olga"}); err != nil {
			t.Fatal(err)
		}
		second := file(first)
		svc := evidence.New(f.DB, f.Keys, f.LogKey, f.Clock.Now)
		for _, ref := range []string{first, second} {
			doc, err := svc.Export(ctx, ref, "Eva")
			if err != nil {
				t.Fatal(err)
			}
			_, payload := verifyJWS(t, doc, f.LogKey.VerifierKey())
			var d evidence.Document
			if err := json.Unmarshal(payload, &d); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range d.Entries {
				if e.Kind == ledger.KindEvidenceExported {
					continue
				}
				var b struct{ Reference, Decision string }
				json.Unmarshal(e.Body, &b)
				got = append(got, e.Kind+":"+b.Decision+":"+map[bool]string{true: "first", false: "second"}[b.Reference == first])
			}
			want := "report.received::first,report.decided:more_info:first,report.decided:superseded:first,report.received::second"
			if strings.Join(got, ",") != want {
				t.Fatalf("evidence of %s: %v", ref, got)
			}
		}
	})
}
