// Package dashboard gathers what the privacy team watches: requests per
// day, the health of code mail, the review queue's ages and what each
// snapshot left out. It reads the store and the review queue and knows
// nothing of HTTP; the console draws its numbers (see chart.go).
package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
)

// Days is how many days the daily series cover, today included.
const Days = 14

// maxDelays bounds how many delivered mails the delay percentiles read.
const maxDelays = 100_000

// DailySeries names the series, in the order the dashboard shows them.
func DailySeries() []store.DailySeries {
	return []store.DailySeries{
		store.SeriesObjections, store.SeriesWithdrawals, store.SeriesReports, store.SeriesConsents, store.SeriesConsentsRevoke,
		store.SeriesCodeMails, store.SeriesCodeDelivered, store.SeriesCodeFailed,
	}
}

// Series is one daily count over Days days, oldest first, zeros included.
type Series struct {
	Name   store.DailySeries
	Days   []time.Time
	Counts []int
}

// Total sums the series.
func (s Series) Total() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Bucket is a number of open cases whose age falls in [From, To).
type Bucket struct {
	Name  string // 0-7d, 7-14d, 14-21d, 21-28d, 28d+
	From  time.Duration
	To    time.Duration // 0: no upper bound
	Count int
	Late  int // of them, past the one-month answer (review.Due)
}

// Exclusion is one reason's share of a snapshot's records.
type Exclusion struct {
	Reason string
	Count  int64
	Share  float64 // of the records read, 0..1
}

// Snapshot is a snapshot with its exclusions, largest first.
type Snapshot struct {
	ID         string
	CreatedAt  time.Time
	Read, Kept int64
	Excluded   []Exclusion
}

// Report is the dashboard's content.
type Report struct {
	Now          time.Time
	Series       []Series
	DelayP50     time.Duration
	DelayP99     time.Duration
	Delivered    int // mails behind the percentiles
	OutboxDepth  int
	Reviews      []Bucket
	ReviewsOpen  int
	ReviewsKnown bool // false: no review queue configured
	Snapshots    []Snapshot
}

// Build reads the report as of now. q may be nil (no review queue yet).
func Build(ctx context.Context, db *store.DB, q review.Queue, now time.Time) (Report, error) {
	now = now.UTC()
	first := now.Truncate(24*time.Hour).AddDate(0, 0, -(Days - 1))
	rep := Report{Now: now}
	for _, name := range DailySeries() {
		rows, err := db.Daily(ctx, name, first)
		if err != nil {
			return rep, err
		}
		s := Series{Name: name, Days: make([]time.Time, Days), Counts: make([]int, Days)}
		for i := range Days {
			s.Days[i] = first.AddDate(0, 0, i)
		}
		for _, r := range rows {
			if i := int(r.Day.Sub(first) / (24 * time.Hour)); i >= 0 && i < Days {
				s.Counts[i] += r.Count
			}
		}
		rep.Series = append(rep.Series, s)
	}
	delays, err := db.CodeDelays(ctx, first, maxDelays)
	if err != nil {
		return rep, err
	}
	rep.Delivered = len(delays)
	rep.DelayP50, rep.DelayP99 = Percentile(delays, 50), Percentile(delays, 99)
	if rep.OutboxDepth, err = db.OutboxDepth(ctx); err != nil {
		return rep, err
	}
	if q != nil {
		cases, err := q.Open(ctx)
		if err != nil {
			return rep, err
		}
		rep.ReviewsKnown, rep.ReviewsOpen = true, len(cases)
		rep.Reviews = AgeBuckets(cases, now)
	}
	snaps, err := db.RecentSnapshots(ctx, 10)
	if err != nil {
		return rep, err
	}
	for _, s := range snaps {
		rep.Snapshots = append(rep.Snapshots, summarize(s))
	}
	return rep, nil
}

// Percentile is the nearest-rank p-th percentile of ds (0 when empty).
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank: the smallest value with at least p% at or below it.
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}

// AgeBuckets sorts open cases into weekly age buckets; the last holds
// everything from four weeks on, which is near or past the answer's month.
func AgeBuckets(cases []review.Case, now time.Time) []Bucket {
	week := 7 * 24 * time.Hour
	bs := []Bucket{
		{Name: "0-7d", From: 0, To: week},
		{Name: "7-14d", From: week, To: 2 * week},
		{Name: "14-21d", From: 2 * week, To: 3 * week},
		{Name: "21-28d", From: 3 * week, To: 4 * week},
		{Name: "28d+", From: 4 * week},
	}
	for _, c := range cases {
		age := now.Sub(c.ReceivedAt)
		for i := range bs {
			if age >= bs[i].From && (bs[i].To == 0 || age < bs[i].To) || i == 0 && age < 0 {
				bs[i].Count++
				if !now.Before(review.Due(c.ReceivedAt)) {
					bs[i].Late++
				}
				break
			}
		}
	}
	return bs
}

// summarize reads a snapshot's exclusion counts from its manifest.
func summarize(s store.SnapshotSummary) Snapshot {
	out := Snapshot{ID: s.ID, CreatedAt: s.CreatedAt, Read: s.Read, Kept: s.Kept}
	var m struct {
		Counts struct {
			Excluded map[string]int64 `json:"excluded"`
		} `json:"counts"`
	}
	// A manifest that does not parse shows no exclusions rather than failing
	// the dashboard: the snapshot's own verification is elsewhere.
	if json.Unmarshal([]byte(s.Manifest), &m) != nil {
		return out
	}
	for reason, n := range m.Counts.Excluded {
		if n <= 0 {
			continue
		}
		e := Exclusion{Reason: reason, Count: n}
		if s.Read > 0 {
			e.Share = float64(n) / float64(s.Read)
		}
		out.Excluded = append(out.Excluded, e)
	}
	slices.SortFunc(out.Excluded, func(a, b Exclusion) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}
