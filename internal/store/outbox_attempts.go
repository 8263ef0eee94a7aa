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
	err := db.writeFirst(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		mails, err = tx.ClaimMails(ctx, now, leaseUntil, limit)
		return err
	})
	if err != nil {
		// A write that ended with its context may still be running in
		// the writer: what it assigns is not ours to read.
		return nil, err
	}
	return mails, nil
}

// RecordAttempts stores the outcomes of a batch in one transaction.
func (db *DB) RecordAttempts(ctx context.Context, attempts []Attempt) error {
	// Deliveries, nearly all of a batch, share their moment: one statement
	// each for those kept and those wiped, instead of one per mail.
	type sentKey struct {
		at   int64
		wipe bool
	}
	sent := map[sentKey][]string{}
	var keys []sentKey
	for _, a := range attempts {
		if a.Sent && !a.Released {
			k := sentKey{micros(a.At), a.Wipe}
			if _, ok := sent[k]; !ok {
				keys = append(keys, k)
			}
			sent[k] = append(sent[k], a.ID)
		}
	}
	return db.writeFirst(ctx, func(ctx context.Context, tx *Tx) error {
		for _, k := range keys {
			if err := tx.MarkMailsSent(ctx, sent[k], fromMicros(k.at), k.wipe); err != nil {
				return err
			}
		}
		for _, a := range attempts {
			var err error
			switch {
			case a.Released:
				err = tx.ReleaseMail(ctx, a.ID)
			case a.Sent:
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
