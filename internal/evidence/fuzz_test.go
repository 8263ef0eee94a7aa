package evidence_test

import (
	"context"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// FuzzExportReference: whatever is given as a reference (it is matched
// inside ledger bodies), Export either refuses it or exports exactly the
// one decision recorded, and never panics or matches by pattern.
func FuzzExportReference(f *testing.F) {
	fx := fixture.New(f, fixture.Options{})
	fx.Import(f, fixture.Accounts)
	ctx := context.Background()
	st, err := fx.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: "anna@example.de", Scope: objection.AllAccounts, Lang: "en", Channel: "api"})
	if err != nil {
		f.Fatal(err)
	}
	out, err := fx.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, fx.CodeFor(f, st.RequestID))
	if err != nil {
		f.Fatal(err)
	}
	svc := evidence.New(fx.DB, fx.Keys, fx.LogKey, fx.Clock.Now)
	for _, s := range []string{out.Reference, "NT-%", "%", "NT-____-____-____", out.Reference[:5] + "%", " " + out.Reference + " ", `"` + out.Reference, "NT-AAAA-BBBB-CCCC", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		doc, err := svc.Export(ctx, ref, "fuzz")
		if err != nil {
			return
		}
		if strings.TrimSpace(ref) != out.Reference || len(doc) == 0 {
			t.Fatalf("%q exported (the only decision is %s)", ref, out.Reference)
		}
	})
}
