package objection_test

import (
	"testing"
	"time"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// A withdrawal ends what the person meant to end when they asked for it:
// an objection accepted after the withdrawal's code was requested (and
// before the code was entered) stays in force.
func TestWithdrawalEndsOnlyObjectionsAcceptedBeforeItWasRequested(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := fixture.New(t, fixture.Options{DSN: freshDSN(t, dsn)})
		f.Import(t, fixture.Accounts)
		verify := func(flow objection.Flow, st objection.Started) objection.Outcome {
			t.Helper()
			out, err := f.Svc.Verify(ctx, flow, st.RequestID, f.CodeFor(t, st.RequestID))
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		before := verify(objection.FlowObjection, start(t, f, objection.FlowObjection, "anna@example.de"))
		f.Clock.Advance(time.Minute)
		wd := start(t, f, objection.FlowWithdrawal, "anna@example.de")
		f.Clock.Advance(time.Minute)
		after := verify(objection.FlowObjection, start(t, f, objection.FlowObjection, "anna@example.de"))
		f.Clock.Advance(time.Minute)
		w := verify(objection.FlowWithdrawal, wd)
		if w.Ended != 1 {
			t.Fatalf("the withdrawal ended %d objections, want 1", w.Ended)
		}
		if o, _ := f.DB.Objection(ctx, before.Reference); o.WithdrawnAt.IsZero() {
			t.Fatal("the objection accepted before the withdrawal was requested is still in force")
		}
		if o, _ := f.DB.Objection(ctx, after.Reference); !o.WithdrawnAt.IsZero() {
			t.Fatal("the objection accepted after the withdrawal was requested was ended by it")
		}
	})
}
