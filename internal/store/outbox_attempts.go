package store

import (
	"context"
	"time"
)

// Attempt is the outcome of one delivery attempt (or of none) of a leased
// mail, as the dispatcher records it.
type Attempt struct {
	ID       string
	Released bool      // not attempted within the lease: give the lease up
	Sent     bool      // delivered at At
	At       time.Time // when it was delivered
	Wipe     bool      // with Sent: drop the bodies (a delivered code has no business staying)
	Next     time.Time // failed: when to try again
	Reason   string    // failed: why
	Abandon  bool      // failed: give up for good
}

// LeaseMails leases up to limit due mails until leaseUntil, in a
// transaction of its own (see Tx.ClaimMails).
func (db *DB) LeaseMails(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Mail, error) {
	var mails []Mail
	err := db.Write(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		mails, err = tx.ClaimMails(ctx, now, leaseUntil, limit)
		return err
	})
	return mails, err
}

// RecordAttempts stores the outcomes of a batch in one transaction.
func (db *DB) RecordAttempts(ctx context.Context, attempts []Attempt) error {
	return db.Write(ctx, func(ctx context.Context, tx *Tx) error {
		for _, a := range attempts {
			var err error
			switch {
			case a.Released:
				err = tx.ReleaseMail(ctx, a.ID)
			case a.Sent:
				err = tx.MarkMailSent(ctx, a.ID, a.At, a.Wipe)
			default:
				err = tx.MarkMailFailed(ctx, a.ID, a.Next, a.Reason, a.Abandon)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
