package mail

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/store"
)

// Outbox is what the dispatcher needs of the store: lease the mails that
// are due, and record the outcomes of a batch in one write. *store.DB is
// one.
type Outbox interface {
	LeaseMails(ctx context.Context, now, leaseUntil time.Time, limit int) ([]store.Mail, error)
	RecordAttempts(ctx context.Context, attempts []store.Attempt) error
}

// Dispatcher delivers the outbox: it leases due mails, sends them, and
// records each attempt. With several instances on one database, the lease
// (and SKIP LOCKED on PostgreSQL) keeps a mail from being sent twice at once.
type Dispatcher struct {
	Outbox   Outbox
	Composer *Composer // renders mails stored as template data
	Sender   Sender    // nil: dev mailbox, mails count as delivered at once
	// Signer signs every message the Sender is given (DKIM); nil sends
	// them unsigned.
	Signer  MessageSigner
	From    string
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *metrics.Metrics

	BackoffBase time.Duration // first retry delay (default DefaultBackoffBase), doubling per attempt
	BackoffMax  time.Duration // cap on one delay (default DefaultBackoffMax)
	MaxAttempts int           // then abandoned (default 15, about 10 hours)
	Workers     int           // parallel SMTP sessions per loop (default 8)
	Batch       int           // mails leased at once (default 256)
	Loops       int           // delivery loops working side by side (default 2)
	Lease       time.Duration // how long a lease lasts (default DefaultLease)
	Poll        time.Duration // how often to look without a wake-up (default 1 s)

	wakeOnce sync.Once
	wake     chan struct{}
}

func (d *Dispatcher) defaults() {
	d.wakeOnce.Do(func() { d.wake = make(chan struct{}, 16) })
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.BackoffBase <= 0 {
		d.BackoffBase = DefaultBackoffBase
	}
	if d.BackoffMax <= 0 {
		d.BackoffMax = DefaultBackoffMax
	}
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 15
	}
	if d.Workers <= 0 {
		d.Workers = 8
	}
	// Under a surge the outbox, not the CPU, held people waiting for their
	// code: each batch waits for two commits (claim, record), so big
	// batches and a second loop that sends while the first one commits
	// cut the code mail's delay at 1,500 objections/s from 13 s to 1 s
	// (bench/surge.sh). At low load a claim simply returns fewer mails.
	if d.Batch <= 0 {
		d.Batch = 256
	}
	if d.Loops <= 0 {
		d.Loops = 2
	}
	if d.Lease <= 0 {
		d.Lease = DefaultLease
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
}

// Wake asks the dispatcher to look at the outbox now (after a commit).
func (d *Dispatcher) Wake() {
	d.wakeOnce.Do(func() { d.wake = make(chan struct{}, 16) })
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, with several loops: while one waits for its
// batch's outcomes to commit, another is sending. Leases keep them (and
// other instances) from taking the same mail.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.defaults()
	var wg sync.WaitGroup
	for range d.Loops {
		wg.Go(func() { d.loop(ctx) })
	}
	wg.Wait()
	return nil
}

func (d *Dispatcher) loop(ctx context.Context) {
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
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// RunOnce leases one batch of due mails and attempts each; it returns how
// many it attempted.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	// The send deadline is on the real clock (contexts are); the lease is
	// on d.Now's, which is the real one outside tests.
	claimed := time.Now()
	now := d.Now()
	mails, err := d.Outbox.LeaseMails(ctx, now, now.Add(d.Lease), d.Batch)
	if err != nil || len(mails) == 0 {
		return 0, err
	}
	// The store leases urgent mails first; within the batch they are also
	// sent first, whatever order the lease returned them in, so a code
	// never waits behind a confirmation's receipt.
	slices.SortStableFunc(mails, func(a, b store.Mail) int { return cmp.Compare(urgency(a.Kind), urgency(b.Kind)) })
	// Send the whole batch in parallel, then record every outcome in one
	// write: a worker never waits for a commit between two mails.
	//
	// Everything must be sent and recorded while the lease holds; after it
	// another loop or instance may take the same mails. So sending stops
	// early enough to record, a mail not yet started by then is released
	// untouched (no attempt counted), and one in flight is cut off and
	// counted as a temporary failure.
	sendCtx, cancel := context.WithDeadline(ctx, claimed.Add(d.Lease-recordMargin(d.Lease)))
	defer cancel()
	// Workers take the mails in order, each a goroutine for the whole
	// batch: one per mail grew a fresh stack for every render, a few per
	// cent of the dispatcher's CPU at thousands of mails a second.
	errs := make([]error, len(mails))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(d.Workers, len(mails)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(mails) {
					return
				}
				if sendCtx.Err() != nil {
					errs[i] = errNotAttempted
					continue
				}
				errs[i] = d.send(sendCtx, mails[i])
			}
		})
	}
	wg.Wait()
	d.record(ctx, mails, errs)
	return len(mails), nil
}

// IsUrgent reports whether mails of kind go before others when mail backs
// up: a person waits for a code (or the notice that stands in for one) on
// the page, not for a confirmation.
func IsUrgent(kind string) bool {
	return kind == KindCode || kind == KindNoAccount || kind == KindSuppressed
}

func urgency(kind string) int {
	if IsUrgent(kind) {
		return 0
	}
	return 1
}

// errNotAttempted marks a leased mail the batch ran out of lease for.
var errNotAttempted = errors.New("mail: not attempted within the lease")

// recordMargin is the part of a lease kept for recording the outcomes.
func recordMargin(lease time.Duration) time.Duration { return min(recordTimeout, lease/2) }

// recordTimeout bounds the write that records a batch's outcomes.
const recordTimeout = 30 * time.Second

// record stores the outcome of each attempt and counts it.
func (d *Dispatcher) record(ctx context.Context, mails []store.Mail, errs []error) {
	now := d.Now()
	attempts := make([]store.Attempt, len(mails))
	for i, m := range mails {
		switch {
		case errors.Is(errs[i], errNotAttempted):
			attempts[i] = store.Attempt{ID: m.ID, Released: true}
		case errs[i] == nil:
			attempts[i] = store.Attempt{ID: m.ID, Sent: true, At: now, Wipe: d.Sender != nil}
		default:
			attempt := m.Attempts + 1
			attempts[i] = store.Attempt{ID: m.ID, Next: now.Add(d.backoff(attempt)), Reason: errs[i].Error(),
				Abandon: IsPermanent(errs[i]) || attempt >= d.MaxAttempts}
			d.Log.Warn("mail delivery failed", "mail", m.ID, "kind", m.Kind, "attempt", attempt, "abandoned", attempts[i].Abandon, "err", errs[i])
		}
	}
	// Recording must not be lost to a cancelled context: a mail that was
	// delivered but not marked would be sent again after the lease ends.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err := d.Outbox.RecordAttempts(rctx, attempts)
	if err != nil {
		d.Log.Error("outbox: recording delivery attempts failed; these mails may be sent again after their lease", "mails", len(mails), "err", err)
		return
	}
	if d.Metrics == nil {
		return
	}
	for i, m := range mails {
		switch {
		case errors.Is(errs[i], errNotAttempted):
		case errs[i] == nil && m.Kind != KindSuppressed:
			d.Metrics.MailDelivered.WithLabelValues(m.Kind).Inc()
			d.Metrics.MailDelay.WithLabelValues(m.Kind).Observe(now.Sub(m.CreatedAt).Seconds())
		case errs[i] != nil:
			typ := "temporary"
			if IsPermanent(errs[i]) {
				typ = "permanent"
			}
			d.Metrics.MailFailures.WithLabelValues(typ).Inc()
			if attempts[i].Abandon {
				d.Metrics.MailAbandoned.Inc()
			}
		}
	}
}

func (d *Dispatcher) send(ctx context.Context, m store.Mail) error {
	if d.Sender == nil {
		return nil
	}
	// A placeholder must succeed, fail and wait for its retry exactly when
	// a code to the same address would, and cost the same work: its state
	// is what the check page shows, and neither the page nor the time the
	// service takes may tell who has an account. So it is rendered and
	// built as the notice it stands in for, and its delivery is attempted
	// up to the recipient, without handing over the message.
	placeholder := m.Kind == KindSuppressed
	if placeholder {
		m.Kind = KindNoAccount
	}
	var files []Attachment
	if d.Composer != nil {
		var err error
		if m, err = d.Composer.Render(m); err != nil {
			return &PermanentError{Err: err}
		}
		// A receipt that cannot be made now (the store busy) is a
		// temporary failure: the mail is retried rather than sent without it.
		if files, err = d.Composer.Attachments(ctx, m); err != nil {
			return err
		}
	}
	raw, err := Build(Message{From: d.From, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		Lang: m.Lang, MessageID: m.MessageID, Date: m.CreatedAt, Attachments: files})
	if err != nil {
		return &PermanentError{Err: err}
	}
	// Signed here, the one place every message passes on its way to the
	// Sender, so none leaves unsigned; a placeholder is signed too, as it
	// is built: the same work as for the notice it stands in for. A
	// signature that cannot be made is a temporary failure: the mail waits
	// for its retry rather than go out unsigned.
	if d.Signer != nil {
		if raw, err = d.Signer.Sign(raw); err != nil {
			return err
		}
	}
	if placeholder {
		if p, ok := d.Sender.(Prober); ok {
			return p.Probe(ctx, envelopeAddress(d.From), m.To)
		}
		return nil
	}
	return d.Sender.Send(ctx, envelopeAddress(d.From), m.To, raw)
}

// MessageSigner adds signatures to a built message (internal/dkim's
// Signer is one).
type MessageSigner interface {
	Sign(msg []byte) ([]byte, error)
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
