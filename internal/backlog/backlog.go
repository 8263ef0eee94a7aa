// Package backlog watches how far behind the service is under a surge: the
// mail waiting in the outbox and the writes waiting for the store. Pages
// read it to tell people the truth ("your request is saved, the code will
// come"); /metrics reads it for the operator. The state is global, never a
// person's own, so it cannot tell who has an account.
package backlog

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notrain/notrain/internal/store"
)

// DefaultThreshold is how long the oldest due code mail may wait before
// pages say that codes are delayed: the delivery target.
const DefaultThreshold = 5 * time.Second

// Source is what the monitor reads; *store.DB is one.
type Source interface {
	OutboxBacklog(ctx context.Context, now time.Time) (store.OutboxBacklog, error)
	WriteQueue() (depth, capacity int)
}

// Config tunes a Monitor.
type Config struct {
	Threshold time.Duration // default DefaultThreshold; negative: never behind
	Interval  time.Duration // how often Run reads the outbox (default 1 s)
	Now       func() time.Time
	Log       *slog.Logger
}

// Monitor keeps the last reading of the backlog. Pages ask it on every
// view, so it answers from memory: a surge must not add a query per page.
type Monitor struct {
	src  Source
	cfg  Config
	last atomic.Pointer[reading]
}

type reading struct {
	store.OutboxBacklog
	at time.Time
}

// New makes a monitor; it knows nothing until Refresh or Run has read once.
func New(src Source, cfg Config) *Monitor {
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Monitor{src: src, cfg: cfg}
}

// Refresh reads the backlog now.
func (m *Monitor) Refresh(ctx context.Context) error {
	now := m.cfg.Now()
	b, err := m.src.OutboxBacklog(ctx, now)
	if err != nil {
		return err
	}
	m.last.Store(&reading{OutboxBacklog: b, at: now})
	return nil
}

// Run refreshes every Interval until ctx ends. A failed read keeps the
// last one: the store being slow is no reason to stop telling people.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := m.Refresh(rctx); err != nil && ctx.Err() == nil {
			m.cfg.Log.Warn("backlog: reading the outbox", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// OldestUrgentAge is how long the longest-waiting due urgent mail had
// waited at the last reading (0 when none).
func (m *Monitor) OldestUrgentAge() time.Duration {
	r := m.last.Load()
	if r == nil || r.OldestUrgentDue.IsZero() {
		return 0
	}
	return max(r.at.Sub(r.OldestUrgentDue), 0)
}

// Behind reports whether code mails are waiting longer than the
// threshold: a request saved now will get its code, but late.
func (m *Monitor) Behind() bool {
	if m == nil || m.cfg.Threshold < 0 {
		return false
	}
	return m.OldestUrgentAge() > m.cfg.Threshold
}

// Collectors are the backlog's gauges for /metrics. They read the store
// at scrape time, not the monitor's last reading, so a scrape is never
// staler than itself.
func (m *Monitor) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&collector{m: m}}
}

var (
	descQueued = prometheus.NewDesc("notrain_outbox_backlog",
		"Mails queued and not yet delivered, by priority: urgent (codes and their no-account counterparts) or other (confirmations).",
		[]string{"priority"}, nil)
	descOldest = prometheus.NewDesc("notrain_outbox_oldest_urgent_age_seconds",
		"How long the longest-waiting due urgent mail has waited since it was queued or its retry fell due.", nil, nil)
	descBehind = prometheus.NewDesc("notrain_mail_behind",
		"1 while pages tell people that codes are delayed (the oldest due urgent mail is older than --mail-delay-notice), else 0.", nil, nil)
	descDepth = prometheus.NewDesc("notrain_store_write_queue_depth",
		"Writes waiting for the store's writer.", nil, nil)
	descCap = prometheus.NewDesc("notrain_store_write_queue_capacity",
		"Writes that may wait before new code requests are refused unsaved.", nil, nil)
)

type collector struct{ m *Monitor }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueued, descOldest, descBehind, descDepth, descCap} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	depth, capacity := c.m.src.WriteQueue()
	ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(descCap, prometheus.GaugeValue, float64(capacity))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.m.Refresh(ctx); err != nil {
		// No gauge rather than a wrong one (a missing series alerts), and
		// the rest of the scrape still answers.
		c.m.cfg.Log.Warn("backlog: reading the outbox for /metrics", "err", err)
		return
	}
	r := c.m.last.Load()
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(r.Urgent), "urgent")
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(r.Other), "other")
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, c.m.OldestUrgentAge().Seconds())
	behind := 0.0
	if c.m.Behind() {
		behind = 1
	}
	ch <- prometheus.MustNewConstMetric(descBehind, prometheus.GaugeValue, behind)
}
