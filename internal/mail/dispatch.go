package mail

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/store"
)

// Dispatcher delivers the outbox: it leases due mails, sends them, and
// records each attempt. With several instances on one database, the lease
// (and SKIP LOCKED on PostgreSQL) keeps a mail from being sent twice at once.
type Dispatcher struct {
	DB      *store.DB
	Sender  Sender // nil: dev mailbox, mails count as delivered at once
	From    string
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.Metrics

	BackoffBase time.Duration // first retry delay (default 30 s), doubling per attempt
	BackoffMax  time.Duration // cap on one delay (default 1 h)
	MaxAttempts int           // then abandoned (default 15, about 10 hours)
	Workers     int           // parallel SMTP sessions (default 4)
	Batch       int           // mails leased at once (default 32)
	Lease       time.Duration // how long a lease lasts (default 5 min)
	Poll        time.Duration // how often to look without a wake-up (default 1 s)

	wakeOnce sync.Once
	wake     chan struct{}
}

func (d *Dispatcher) defaults() {
	d.wakeOnce.Do(func() { d.wake = make(chan struct{}, 1) })
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.BackoffBase <= 0 {
		d.BackoffBase = 30 * time.Second
	}
	if d.BackoffMax <= 0 {
		d.BackoffMax = time.Hour
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 15
	}
	if d.Workers <= 0 {
		d.Workers = 4
	}
	if d.Batch <= 0 {
		d.Batch = 32
	}
	if d.Lease <= 0 {
		d.Lease = 5 * time.Minute
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
}

// Wake asks the dispatcher to look at the outbox now (after a commit).
func (d *Dispatcher) Wake() {
	d.wakeOnce.Do(func() { d.wake = make(chan struct{}, 1) })
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		for {
			n, err := d.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				d.Log.Error("outbox", "err", err)
			}
			if n < d.Batch || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-t.C:
		}
	}
}

// RunOnce leases one batch of due mails and attempts each; it returns how
// many it attempted.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	var mails []store.Mail
	now := d.Now()
	err := d.DB.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		mails, err = tx.ClaimMails(ctx, now, now.Add(d.Lease), d.Batch)
		return err
	})
	if err != nil || len(mails) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, d.Workers)
	var wg sync.WaitGroup
	for _, m := range mails {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliver(ctx, m)
		}()
	}
	wg.Wait()
	return len(mails), nil
}

func (d *Dispatcher) deliver(ctx context.Context, m store.Mail) {
	sendErr := d.send(ctx, m)
	now := d.Now()
	var record func(context.Context, *store.Tx) error
	switch {
	case sendErr == nil:
		record = func(ctx context.Context, tx *store.Tx) error {
			return tx.MarkMailSent(ctx, m.ID, now, d.Sender != nil)
		}
	default:
		attempt := m.Attempts + 1
		abandon := IsPermanent(sendErr) || attempt >= d.MaxAttempts
		next := now.Add(d.backoff(attempt))
		reason := sendErr.Error()
		record = func(ctx context.Context, tx *store.Tx) error {
			return tx.MarkMailFailed(ctx, m.ID, next, reason, abandon)
		}
		d.Log.Warn("mail delivery failed", "mail", m.ID, "kind", m.Kind, "attempt", attempt, "abandoned", abandon, "err", sendErr)
		if d.Metrics != nil {
			typ := "temporary"
			if IsPermanent(sendErr) {
				typ = "permanent"
			}
			d.Metrics.MailFailures.WithLabelValues(typ).Inc()
			if abandon {
				d.Metrics.MailAbandoned.Inc()
			}
		}
	}
	// Recording must not be lost to a cancelled context: a mail that was
	// delivered but not marked would be sent again after the lease ends.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := d.DB.Write(rctx, record); err != nil {
		d.Log.Error("outbox: recording a delivery attempt failed; the mail may be sent again after its lease", "mail", m.ID, "err", err)
		return
	}
	if sendErr == nil && d.Metrics != nil && m.Kind != KindSuppressed {
		d.Metrics.MailDelivered.WithLabelValues(m.Kind).Inc()
	}
}

func (d *Dispatcher) send(ctx context.Context, m store.Mail) error {
	if d.Sender == nil || m.Kind == KindSuppressed {
		return nil
	}
	raw, err := Build(Message{From: d.From, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		Lang: m.Lang, MessageID: m.MessageID, Date: m.CreatedAt})
	if err != nil {
		return &PermanentError{Err: err}
	}
	return d.Sender.Send(ctx, envelopeAddress(d.From), m.To, raw)
}

// backoff doubles from BackoffBase up to BackoffMax, with ±20 % jitter so a
// mail server coming back is not hit by every retry at once.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	delay := d.BackoffBase
	for i := 1; i < attempt && delay < d.BackoffMax; i++ {
		delay *= 2
	}
	delay = min(delay, d.BackoffMax)
	jitter := time.Duration(float64(delay) * (rand.Float64()*0.4 - 0.2))
	return delay + jitter
}

// envelopeAddress extracts the bare address from "Name <addr>".
func envelopeAddress(from string) string {
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		return strings.TrimSuffix(from[i+1:], ">")
	}
	return from
}
