package objection

import (
	"context"
	"time"

	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/store"
)

// Address event kinds behind the per-address limits.
const (
	eventCodeRequest = "code_request"
	eventNotice      = "no_account_notice"
	eventMail        = "mail_queued" // any other mail of a code request, so every path writes one event
)

// noticeEvery limits "no account uses this address" mails to one a day.
const noticeEvery = 24 * time.Hour

// addressWindow is how far back a code request looks at its address's
// events: the longest of the limits above.
const addressWindow = 24 * time.Hour

// retryAfter is the one rule for every refusal that says when to try
// again: the time until the limit lets the request through, rounded up to
// whole seconds (a client that waits exactly that long is not refused
// again), and at least a second.
func retryAfter(until, now time.Time) time.Duration {
	d := until.Sub(now)
	return max((d+time.Second-1)/time.Second*time.Second, time.Second)
}

// checkClientLimit enforces the per-client limit in the store, so several
// instances count the same requests. A refused request records nothing.
func (s *Service) checkClientLimit(ctx context.Context, tx *store.Tx, client string, now time.Time) error {
	if s.cfg.ClientLimit <= 0 || client == "" {
		return nil
	}
	allowed, oldest, err := tx.ClientEvent(ctx, client, now.Add(-time.Minute), now, s.cfg.ClientLimit)
	if err != nil || allowed {
		return err
	}
	until := oldest.Add(time.Minute)
	return &Error{Code: CodeClientLimited, RetryAfter: retryAfter(until, now), Until: until}
}

// checkAddressLimit enforces the per-address limits and records this request.
// It counts requests for unknown addresses the same way, so a 429 says
// nothing about whether an account exists.
func (s *Service) checkAddressLimit(ctx context.Context, tx *store.Tx, h string, now time.Time) error {
	day, err := tx.AddressEvents(ctx, h, eventCodeRequest, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	var until time.Time
	if len(day) >= otp.PerDay {
		until = day[len(day)-otp.PerDay].Add(24 * time.Hour)
	}
	var hour []time.Time
	for _, t := range day {
		if t.After(now.Add(-time.Hour)) {
			hour = append(hour, t)
		}
	}
	if len(hour) >= otp.PerHour {
		if u := hour[len(hour)-otp.PerHour].Add(time.Hour); u.After(until) {
			until = u
		}
	}
	if !until.IsZero() {
		return &Error{Code: CodeRateLimited, Field: "email", RetryAfter: retryAfter(until, now), Until: until}
	}
	return tx.AddressEvent(ctx, h, eventCodeRequest, now)
}
