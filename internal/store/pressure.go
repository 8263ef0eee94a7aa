package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrSaturated is returned by WriteWithin when the write could not start
// within its bound. Nothing of it was written: the caller may tell the
// person so and ask them to try again.
var ErrSaturated = errors.New("store: write queue saturated")

// errTooLate is what an op returns when it reaches the writer after its
// caller has given up on it; it writes nothing.
var errTooLate = errors.New("store: write reached the writer after its bound")

// WriteQueue reports how many writes wait for the writer and how many may
// wait before Write blocks on the queue itself.
func (db *DB) WriteQueue() (depth, capacity int) {
	return len(db.ops), cap(db.ops)
}

// Writers reports how many group commits run side by side.
func (db *DB) Writers() int { return db.writers }

// WriteWithin is Write with a bound on the wait before fn starts. If fn
// has not started when bound elapses, it never will, and WriteWithin
// returns ErrSaturated: the write is certainly not saved, which a plain
// deadline on ctx cannot promise (a write whose context ends during its
// commit may still commit). Once fn has started, WriteWithin waits for the
// commit as Write does. A bound of 0 or less is Write itself.
func (db *DB) WriteWithin(ctx context.Context, bound time.Duration, fn func(context.Context, *Tx) error) error {
	if bound <= 0 {
		return db.Write(ctx, fn)
	}
	// Whoever moves the state first decides: the op (to running) or the
	// timer (to abandoned).
	const (
		waiting int32 = iota
		running
		abandoned
	)
	if depth, capacity := db.WriteQueue(); depth >= capacity {
		// The queue is full: waiting for a place only lengthens it. At
		// 3,000 requests/s on SQLite (bench/surge.sh, 15 s) refusing here
		// kept the request's p99 at 1.3 s; waiting out the bound instead
		// refused as many, took the p99 to 14 s and dropped connections.
		return ErrSaturated
	}
	var state atomic.Int32
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(bound, func() {
		if state.CompareAndSwap(waiting, abandoned) {
			cancel()
		}
	})
	defer timer.Stop()
	err := db.Write(wctx, func(ctx context.Context, tx *Tx) error {
		// A group that runs again runs fn again: it has started already.
		if !state.CompareAndSwap(waiting, running) && state.Load() != running {
			return errTooLate
		}
		return fn(ctx, tx)
	})
	if state.Load() == abandoned || errors.Is(err, errTooLate) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrSaturated
	}
	return err
}

// OutboxBacklog is the queued part of the outbox, split as the dispatcher
// sends it: urgent mails (codes and their "no account" counterparts) first.
type OutboxBacklog struct {
	Urgent, Other int // queued mails, leased ones included
	// OldestUrgentDue is when the longest-waiting urgent mail that is due
	// became due: queued, or its retry fell due. Zero when none is due. A
	// mail waiting out a retry delay is not counted: one failing mailbox
	// is not a backlog.
	OldestUrgentDue time.Time
}

// OutboxBacklog reads the backlog as of now. Both queries are answered
// from the partial index on queued mails (priority, next_attempt_at).
func (db *DB) OutboxBacklog(ctx context.Context, now time.Time) (OutboxBacklog, error) {
	var b OutboxBacklog
	rows, err := db.r.QueryContext(ctx, `SELECT priority, COUNT(*) FROM outbox WHERE status = 'queued' GROUP BY priority`)
	if err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var prio int64
		var n int
		if err := rows.Scan(&prio, &n); err != nil {
			return b, fmt.Errorf("store: outbox backlog: %w", err)
		}
		if prio == 0 {
			b.Urgent += n
		} else {
			b.Other += n
		}
	}
	if err := rows.Err(); err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	var oldest int64
	err = db.r.QueryRowContext(ctx, `SELECT COALESCE(MIN(next_attempt_at), 0) FROM outbox
		WHERE status = 'queued' AND priority = 0 AND next_attempt_at <= $1`, micros(now)).Scan(&oldest)
	if err != nil {
		return b, fmt.Errorf("store: outbox backlog: %w", err)
	}
	b.OldestUrgentDue = fromMicros(oldest)
	return b, nil
}
