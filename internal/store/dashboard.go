package store

import (
	"context"
	"fmt"
	"time"
)

// dayMicros is one UTC day in the store's time unit: integer division of a
// time by it is its day number (days since 1970-01-01), in both dialects.
const dayMicros = int64(24 * time.Hour / time.Microsecond)

// DayCount is how many rows fell on one UTC day.
type DayCount struct {
	Day   time.Time
	Count int
}

// DailySeries names the per-day counts the dashboard shows.
type DailySeries string

// Series, each counted from the table or ledger kind that records it.
const (
	SeriesObjections     DailySeries = "objections"       // objections received (any channel)
	SeriesWithdrawals    DailySeries = "withdrawals"      // withdrawals recorded
	SeriesReports        DailySeries = "reports"          // ledger report.received
	SeriesConsents       DailySeries = "consents"         // ledger consent.given, not remainders
	SeriesCodeMails      DailySeries = "code_mails"       // code mails queued
	SeriesCodeDelivered  DailySeries = "code_delivered"   // code mails delivered, by day of delivery
	SeriesCodeFailed     DailySeries = "code_failed"      // code mails given up on, by day queued
	SeriesConsentsRevoke DailySeries = "consents_ended"   // ledger consent.withdrawn
	SeriesDecisions      DailySeries = "report_decisions" // ledger report.decided
)

// dailyQuery is the statement behind a series: a time column and the rows
// it counts. $1 is the first day's start.
func dailyQuery(s DailySeries) (string, bool) {
	switch s {
	case SeriesObjections:
		return `SELECT received_at / %[1]d, COUNT(*) FROM objections WHERE received_at >= $1 GROUP BY received_at / %[1]d`, true
	case SeriesWithdrawals:
		return `SELECT withdrawn_at / %[1]d, COUNT(*) FROM withdrawals WHERE withdrawn_at >= $1 GROUP BY withdrawn_at / %[1]d`, true
	case SeriesReports:
		return `SELECT at / %[1]d, COUNT(*) FROM ledger WHERE kind = 'report.received' AND at >= $1 GROUP BY at / %[1]d`, true
	case SeriesConsents:
		// A remainder (what a withdrawal for some products left covered)
		// continues a consent; nobody gave it.
		return `SELECT at / %[1]d, COUNT(*) FROM ledger WHERE kind = 'consent.given' AND body NOT LIKE '%%"remainder_of":%%'
			AND at >= $1 GROUP BY at / %[1]d`, true
	case SeriesConsentsRevoke:
		return `SELECT at / %[1]d, COUNT(*) FROM ledger WHERE kind = 'consent.withdrawn' AND at >= $1 GROUP BY at / %[1]d`, true
	case SeriesDecisions:
		return `SELECT at / %[1]d, COUNT(*) FROM ledger WHERE kind = 'report.decided' AND at >= $1 GROUP BY at / %[1]d`, true
	case SeriesCodeMails:
		return `SELECT created_at / %[1]d, COUNT(*) FROM outbox WHERE kind = 'code' AND created_at >= $1 GROUP BY created_at / %[1]d`, true
	case SeriesCodeDelivered:
		return `SELECT sent_at / %[1]d, COUNT(*) FROM outbox WHERE kind = 'code' AND status = 'sent' AND sent_at >= $1 GROUP BY sent_at / %[1]d`, true
	case SeriesCodeFailed:
		return `SELECT created_at / %[1]d, COUNT(*) FROM outbox WHERE kind = 'code' AND status = 'abandoned' AND created_at >= $1 GROUP BY created_at / %[1]d`, true
	}
	return "", false
}

// Daily counts a series per UTC day from the day of since on. Days without
// rows are absent.
func (db *DB) Daily(ctx context.Context, s DailySeries, since time.Time) ([]DayCount, error) {
	q, ok := dailyQuery(s)
	if !ok {
		return nil, fmt.Errorf("store: no daily series %q", s)
	}
	start := since.UTC().Truncate(24 * time.Hour)
	rs, err := db.r.QueryContext(ctx, fmt.Sprintf(q, dayMicros), micros(start))
	if err != nil {
		return nil, fmt.Errorf("store: daily %s: %w", s, err)
	}
	defer rs.Close()
	var out []DayCount
	for rs.Next() {
		var day int64
		var n int
		if err := rs.Scan(&day, &n); err != nil {
			return nil, fmt.Errorf("store: daily %s: %w", s, err)
		}
		out = append(out, DayCount{Day: time.Unix(day*86400, 0).UTC(), Count: n})
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: daily %s: %w", s, err)
	}
	return out, nil
}

// CodeDelays returns how long delivered code mails queued since a time
// waited (queued → delivered), at most limit of the newest.
func (db *DB) CodeDelays(ctx context.Context, since time.Time, limit int) ([]time.Duration, error) {
	rs, err := db.r.QueryContext(ctx, `SELECT sent_at - created_at FROM outbox WHERE kind = 'code' AND status = 'sent' AND created_at >= $1 ORDER BY created_at DESC LIMIT $2`,
		micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: code delays: %w", err)
	}
	defer rs.Close()
	var out []time.Duration
	for rs.Next() {
		var d int64
		if err := rs.Scan(&d); err != nil {
			return nil, fmt.Errorf("store: code delays: %w", err)
		}
		out = append(out, time.Duration(d)*time.Microsecond)
	}
	return out, rs.Err()
}

// OutboxDepth counts the mails waiting to be sent.
func (db *DB) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE status = 'queued'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", err)
	}
	return n, nil
}

// SnapshotSummary is a registered snapshot with its manifest.
type SnapshotSummary struct {
	ID        string
	CreatedAt time.Time
	Read      int64
	Kept      int64
	Manifest  string
}

// RecentSnapshots lists the newest snapshots, newest first.
func (db *DB) RecentSnapshots(ctx context.Context, limit int) ([]SnapshotSummary, error) {
	rs, err := db.r.QueryContext(ctx, `SELECT id, created_at, records_read, records_kept, manifest FROM snapshots ORDER BY created_at DESC, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: snapshots: %w", err)
	}
	defer rs.Close()
	var out []SnapshotSummary
	for rs.Next() {
		var s SnapshotSummary
		var at int64
		if err := rs.Scan(&s.ID, &at, &s.Read, &s.Kept, &s.Manifest); err != nil {
			return nil, fmt.Errorf("store: snapshots: %w", err)
		}
		s.CreatedAt = fromMicros(at)
		out = append(out, s)
	}
	return out, rs.Err()
}
