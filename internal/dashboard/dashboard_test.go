package dashboard_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/dashboard"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

type cases []review.Case

func (c cases) Open(context.Context) ([]review.Case, error) { return c, nil }
func (c cases) Decide(context.Context, string, review.Decision) (review.Decided, error) {
	return review.Decided{}, review.ErrNotFound
}

// sqlCount counts rows of a table on one UTC day, with SQL written here
// independently of the dashboard's own queries (a range, not a division).
func sqlCount(t *testing.T, raw *sql.DB, table, col, where string, day time.Time) int {
	t.Helper()
	var n int
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s >= $1 AND %s < $2 %s", table, col, col, where)
	if err := raw.QueryRow(q, day.UnixMicro(), day.AddDate(0, 0, 1).UnixMicro()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The dashboard's numbers equal counts computed by SQL from the tables the
// real flows wrote: objections and withdrawals through the service over
// three days, code mails delivered and given up, ledger entries of reports
// and consents, a snapshot's manifest.
func TestDashboardNumbersEqualSQL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := fixture.New(t, fixture.Options{DSN: dsn})
		ctx := context.Background()
		f.Import(t, fixture.Accounts)
		addrs := []string{"anna@example.de", "ben@example.com", "carl@example.net", "nobody@example.org"}
		for day := range 3 {
			for i, a := range addrs[:day+2] {
				st, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: a, Scope: objection.AllAccounts, Lang: "en", Channel: "web"})
				if err != nil {
					t.Fatal(err)
				}
				if code := f.CodeFor(t, st.RequestID); code != "" && i%2 == 0 {
					if _, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code); err != nil {
						t.Fatal(err)
					}
				}
			}
			if day == 1 {
				st, _ := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowWithdrawal, Email: "anna@example.de", Lang: "en", Channel: "web"})
				if _, err := f.Svc.Verify(ctx, objection.FlowWithdrawal, st.RequestID, f.CodeFor(t, st.RequestID)); err != nil {
					t.Fatal(err)
				}
			}
			// Some code mails go out, one is given up on.
			mails, err := f.DB.Mails(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var sent []string
			abandoned := false
			for _, m := range mails {
				if m.Kind != "code" || m.Status != store.MailQueued {
					continue
				}
				if !abandoned {
					abandoned = true
					if err := f.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
						return tx.MarkMailFailed(ctx, m.ID, f.Clock.Now(), "550 no such user", true)
					}); err != nil {
						t.Fatal(err)
					}
					continue
				}
				sent = append(sent, m.ID)
			}
			f.Clock.Advance(time.Duration(day+1) * 1500 * time.Millisecond)
			if err := f.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				return tx.MarkMailsSent(ctx, sent[:len(sent)-1], f.Clock.Now(), true)
			}); err != nil {
				t.Fatal(err)
			}
			if err := f.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
				for range day + 1 {
					if _, err := tx.Append(ctx, f.Clock.Now(), ledger.KindReportReceived, map[string]any{"reference": "R"}); err != nil {
						return err
					}
				}
				if _, err := tx.Append(ctx, f.Clock.Now(), ledger.KindConsentGiven, map[string]any{"reference": "C"}); err != nil {
					return err
				}
				if day == 2 {
					_, err := tx.Append(ctx, f.Clock.Now(), ledger.KindConsentWithdrawn, map[string]any{"reference": "CW"})
					return err
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			f.Clock.Advance(24 * time.Hour)
		}
		raw := dbtest.Raw(t, dsn)
		manifest := `{"counts":{"read":1000,"eligible":700,"excluded":{"objection":200,"not_public":80,"item_excluded":20,"minor":0}}}`
		if _, err := raw.Exec(`INSERT INTO snapshots (id, created_at, as_of, policy_sha256, eligibility_seq, eligibility_hash, records_read, records_kept, manifest, manifest_sha256)
			VALUES ('snap-1', $1, $1, 'p', 1, 'h', 1000, 700, $2, 'm')`, f.Clock.Now().UnixMicro(), manifest); err != nil {
			t.Fatal(err)
		}
		now := f.Clock.Now()
		open := cases{{Reference: "a", ReceivedAt: now.Add(-time.Hour)}, {Reference: "b", ReceivedAt: now.Add(-10 * 24 * time.Hour)},
			{Reference: "c", ReceivedAt: now.Add(-29 * 24 * time.Hour)}, {Reference: "d", ReceivedAt: now.Add(-40 * 24 * time.Hour)}}

		rep, err := dashboard.Build(ctx, f.DB, open, now)
		if err != nil {
			t.Fatal(err)
		}
		want := map[store.DailySeries]func(day time.Time) int{
			store.SeriesObjections:  func(d time.Time) int { return sqlCount(t, raw, "objections", "received_at", "", d) },
			store.SeriesWithdrawals: func(d time.Time) int { return sqlCount(t, raw, "withdrawals", "withdrawn_at", "", d) },
			store.SeriesReports:     func(d time.Time) int { return sqlCount(t, raw, "ledger", "at", "AND kind = 'report.received'", d) },
			store.SeriesConsents:    func(d time.Time) int { return sqlCount(t, raw, "ledger", "at", "AND kind = 'consent.given'", d) },
			store.SeriesConsentsRevoke: func(d time.Time) int {
				return sqlCount(t, raw, "ledger", "at", "AND kind = 'consent.withdrawn'", d)
			},
			store.SeriesCodeMails: func(d time.Time) int { return sqlCount(t, raw, "outbox", "created_at", "AND kind = 'code'", d) },
			store.SeriesCodeDelivered: func(d time.Time) int {
				return sqlCount(t, raw, "outbox", "sent_at", "AND kind = 'code' AND status = 'sent'", d)
			},
			store.SeriesCodeFailed: func(d time.Time) int {
				return sqlCount(t, raw, "outbox", "created_at", "AND kind = 'code' AND status = 'abandoned'", d)
			},
		}
		nonzero := 0
		for _, s := range rep.Series {
			if len(s.Days) != dashboard.Days {
				t.Fatalf("%s has %d days", s.Name, len(s.Days))
			}
			for i, d := range s.Days {
				if w := want[s.Name](d); s.Counts[i] != w {
					t.Errorf("%s on %s: dashboard %d, SQL %d", s.Name, d.Format("2006-01-02"), s.Counts[i], w)
				}
				if s.Counts[i] > 0 {
					nonzero++
				}
			}
		}
		if nonzero < 15 {
			t.Fatalf("only %d non-zero day counts: the test data does not exercise the dashboard", nonzero)
		}
		var depth int
		raw.QueryRow(`SELECT COUNT(*) FROM outbox WHERE status = 'queued'`).Scan(&depth)
		if rep.OutboxDepth != depth || depth == 0 {
			t.Errorf("outbox depth %d, SQL %d", rep.OutboxDepth, depth)
		}
		// Delays: every delivered code mail waited 1.5 s, 3 s or 4.5 s.
		rows, err := raw.Query(`SELECT sent_at - created_at FROM outbox WHERE kind = 'code' AND status = 'sent'`)
		if err != nil {
			t.Fatal(err)
		}
		var delays []time.Duration
		for rows.Next() {
			var d int64
			rows.Scan(&d)
			delays = append(delays, time.Duration(d)*time.Microsecond)
		}
		rows.Close()
		if rep.Delivered != len(delays) || rep.DelayP50 != dashboard.Percentile(delays, 50) || rep.DelayP99 != 4500*time.Millisecond {
			t.Errorf("delays: n=%d p50=%s p99=%s; SQL n=%d p50=%s", rep.Delivered, rep.DelayP50, rep.DelayP99, len(delays), dashboard.Percentile(delays, 50))
		}
		if got := []int{rep.Reviews[0].Count, rep.Reviews[1].Count, rep.Reviews[4].Count, rep.Reviews[4].Late}; fmt.Sprint(got) != "[1 1 2 1]" {
			t.Errorf("review buckets %+v", rep.Reviews)
		}
		if len(rep.Snapshots) != 1 || len(rep.Snapshots[0].Excluded) != 3 || rep.Snapshots[0].Excluded[0].Reason != "objection" || rep.Snapshots[0].Excluded[0].Share != 0.2 {
			t.Errorf("snapshots %+v", rep.Snapshots)
		}
	})
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	if p := dashboard.Percentile(ds, 50); p != 50*time.Second {
		t.Errorf("p50 %s", p)
	}
	if p := dashboard.Percentile(ds, 99); p != 99*time.Second {
		t.Errorf("p99 %s", p)
	}
	if p := dashboard.Percentile(ds[:1], 99); p != time.Second {
		t.Errorf("p99 of one %s", p)
	}
	if dashboard.Percentile(nil, 50) != 0 {
		t.Error("empty")
	}
}
