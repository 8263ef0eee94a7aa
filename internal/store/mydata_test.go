package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

func TestConsentsAndReportsOf(t *testing.T) { dbtest.Each(t, testConsentsAndReportsOf) }

// ConsentsOf and ReportsOf find an address's own consents and reports by
// its keyed e-mail hash, a report still after its final decision blanked
// the address, and nothing of another hash, even for the same account.
func testConsentsAndReportsOf(t *testing.T, dsn string) {
	db := openAt(t, dsn)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	u1 := store.AccountKey{Product: "facebook", AccountID: "u1"}
	ig1 := store.AccountKey{Product: "instagram", AccountID: "ig1"}
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		for _, c := range []store.Consent{
			{ID: "NTC-2", EmailHash: "ea", Scope: "instagram", Channel: "api", GivenAt: t0.Add(time.Hour), Accounts: []store.AccountKey{ig1}},
			{ID: "NTC-1", EmailHash: "ea", Scope: "all", Channel: "api", GivenAt: t0, Accounts: []store.AccountKey{u1, ig1}},
			{ID: "NTC-3", EmailHash: "eb", Scope: "all", Channel: "api", GivenAt: t0, Accounts: []store.AccountKey{u1}},
		} {
			if err := tx.InsertConsent(ctx, c); err != nil {
				return err
			}
		}
		if err := tx.WithdrawConsent(ctx, "NTC-1", "NTCW-1", t0.Add(time.Minute)); err != nil {
			return err
		}
		for _, r := range []store.Report{
			{ID: "NTR-1", RequestID: "r1", EmailHash: "ea", Email: "a@example.de", Lang: "en", Relation: "me", Channel: "api",
				Status: store.ReportInReview, ReceivedAt: t0, Items: []string{"fb:2", "fb:1"}},
			{ID: "NTR-2", RequestID: "r2", EmailHash: "ea", Email: "a@example.de", Lang: "en", Relation: "me", Channel: "api",
				Status: store.ReportInReview, ReceivedAt: t0.Add(time.Hour), Items: []string{"fb:3"}},
			{ID: "NTR-3", RequestID: "r3", EmailHash: "eb", Email: "b@example.de", Lang: "en", Relation: "me", Channel: "api",
				Status: store.ReportInReview, ReceivedAt: t0, Items: []string{"fb:1"}},
		} {
			if err := tx.InsertReport(ctx, r); err != nil {
				return err
			}
		}
		return tx.DecideReport(ctx, "NTR-1", store.ReportDecision{Status: store.ReportApproved, DecidedAt: t0.Add(time.Minute),
			DecidedBy: "olga", DecisionSeq: 9, Final: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := db.ConsentsOf(ctx, "ea")
	if err != nil || len(cs) != 2 || cs[0].ID != "NTC-1" || cs[1].ID != "NTC-2" {
		t.Fatalf("consents: %+v %v", cs, err)
	}
	if !cs[0].WithdrawnAt.Equal(t0.Add(time.Minute)) || !slices.Equal(cs[0].Accounts, []store.AccountKey{u1, ig1}) ||
		!cs[1].WithdrawnAt.IsZero() || !slices.Equal(cs[1].Accounts, []store.AccountKey{ig1}) {
		t.Fatalf("consents: %+v", cs)
	}
	rs, err := db.ReportsOf(ctx, "ea")
	if err != nil || len(rs) != 2 || rs[0].ID != "NTR-1" || rs[1].ID != "NTR-2" {
		t.Fatalf("reports: %+v %v", rs, err)
	}
	if rs[0].Status != store.ReportApproved || rs[0].Email != "" || !rs[0].DecidedAt.Equal(t0.Add(time.Minute)) ||
		!slices.Equal(rs[0].Items, []string{"fb:2", "fb:1"}) || !slices.Equal(rs[1].Items, []string{"fb:3"}) || !rs[1].DecidedAt.IsZero() {
		t.Fatalf("reports: %+v", rs)
	}
	if cs, err := db.ConsentsOf(ctx, "ez"); err != nil || len(cs) != 0 {
		t.Fatalf("consents of nobody: %+v %v", cs, err)
	}
	if rs, err := db.ReportsOf(ctx, "ez"); err != nil || len(rs) != 0 {
		t.Fatalf("reports of nobody: %+v %v", rs, err)
	}
}
