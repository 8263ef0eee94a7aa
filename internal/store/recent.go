package store

import (
	"context"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// recentLog keeps what this instance last committed to the log: the
// checkpoint its latest group signed and the canonical bytes of the
// entries it appended lately. A receipt needs both right after the commit
// (in the verify answer and in the confirmation mail), and reading them
// back cost two queries per receipt, four per objection.
type recentLog struct {
	mu      sync.Mutex
	size    int64
	note    []byte
	entries map[int64][]byte // leaf index → canonical bytes
}

const recentEntriesMax = 1 << 16

func (r *recentLog) put(size int64, note []byte, entries map[int64][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if size > r.size && note != nil {
		r.size, r.note = size, note
	}
	if r.entries == nil || len(r.entries)+len(entries) > recentEntriesMax {
		r.entries = make(map[int64][]byte, len(entries))
	}
	for i, b := range entries {
		r.entries[i] = b
	}
}

// RecentLog is the log as this instance last committed it, for receipts:
// it answers from memory what it can and reads the store for the rest.
// Every receipt it makes verifies like one made from the store: its
// checkpoint is signed and covers the entry (if this instance's latest does
// not, the store's is read).
type RecentLog struct{ db *DB }

// RecentLog returns the log view receipts are made from.
func (db *DB) RecentLog() RecentLog { return RecentLog{db} }

// LogCheckpoint returns the store's latest signed checkpoint.
func (l RecentLog) LogCheckpoint(ctx context.Context) (int64, []byte, error) {
	return l.db.LogCheckpoint(ctx)
}

// CheckpointCovering returns this instance's latest signed checkpoint if
// it covers entry seq, else the store's latest (another instance may have
// appended the entry).
func (l RecentLog) CheckpointCovering(ctx context.Context, seq int64) (int64, []byte, error) {
	r := &l.db.recent
	r.mu.Lock()
	size, note := r.size, r.note
	r.mu.Unlock()
	if note != nil && size >= seq {
		return size, note, nil
	}
	return l.db.LogCheckpoint(ctx)
}

// LogEntries returns entries from+1 … from+n, from memory when this
// instance appended them lately.
func (l RecentLog) LogEntries(ctx context.Context, from int64, n int) ([][]byte, error) {
	r := &l.db.recent
	r.mu.Lock()
	out := make([][]byte, 0, n)
	for i := range int64(n) {
		b, ok := r.entries[from+i]
		if !ok {
			break
		}
		out = append(out, b)
	}
	r.mu.Unlock()
	if len(out) == n {
		return out, nil
	}
	return l.db.LogEntries(ctx, from, n)
}

// ProveInclusion is the store's (its tree hashes are cached already).
func (l RecentLog) ProveInclusion(ctx context.Context, n, i int64) (tlog.RecordProof, error) {
	return l.db.ProveInclusion(ctx, n, i)
}
