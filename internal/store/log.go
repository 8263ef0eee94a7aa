package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/translog"
)

// The verifiable log's tree lives next to the ledger: an entry's stored
// tree hashes (tlog's layout; leaf n = ledger entry n+1, leaf data = its
// canonical bytes) are written in the transaction that appends it, and the
// batch that appended re-signs the checkpoint before it commits. A tree is
// therefore never behind the ledger it covers.

// logCache keeps committed tree hashes. A stored hash never changes once
// committed (the tree only grows), so the cache needs no invalidation, even
// with other instances appending to the same database.
type logCache struct {
	mu sync.Mutex
	m  map[int64]tlog.Hash
}

const logCacheMax = 1 << 16

func (c *logCache) get(idx int64) (tlog.Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[idx]
	return h, ok
}

func (c *logCache) put(idx int64, h tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= logCacheMax {
		// Dropping everything is cheap and rare; what the next appends
		// need is a handful of hashes, read back at once.
		c.m = make(map[int64]tlog.Hash, 1024)
	}
	c.m[idx] = h
}

// ErrNoLogKey is returned by a write that appends to the ledger before
// SetLogKey: every batch that appends signs the log's checkpoint.
var ErrNoLogKey = errors.New("store: the log key is not loaded: every write that adds to the ledger signs the log's checkpoint")

// ErrLogKey is returned when the log key is not the one that has signed
// this store's checkpoints.
var ErrLogKey = errors.New("store: the log key is not the one this store's log is signed with")

// SetLogKey makes k sign the checkpoints of every write batch from now
// on. The first key given is recorded; another key is refused, since the
// receipts people hold verify only with the log's own key. Unless the
// stored checkpoint is k's and covers the head, it signs the current tree
// at once, so the published checkpoint is never behind.
func (db *DB) SetLogKey(ctx context.Context, k *translog.Key) error {
	var recorded, cp string
	var size, head int64
	if err := db.r.QueryRowContext(ctx, "SELECT l.verifier, l.checkpoint, l.size, h.seq FROM log_head l JOIN ledger_head h ON h.id = l.id WHERE l.id = 1").Scan(&recorded, &cp, &size, &head); err != nil {
		return fmt.Errorf("store: log head: %w", err)
	}
	if recorded != "" && recorded != k.VerifierKey() {
		return fmt.Errorf("%w (the store's: %s; given: %s)", ErrLogKey, recorded, k.VerifierKey())
	}
	prev := db.logKey.Swap(k)
	if recorded != "" && cp != "" && size == head {
		return nil // already signed by k up to the head: nothing to write
	}
	err := db.Write(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.signLog(ctx, true)
	})
	if err != nil {
		db.logKey.CompareAndSwap(k, prev) // a refused key signs nothing
	}
	return err
}

// LogVerifier is the verifier key recorded with the store's log ("" before
// any key signed it).
func (db *DB) LogVerifier(ctx context.Context) (string, error) {
	var v string
	if err := db.r.QueryRowContext(ctx, "SELECT verifier FROM log_head WHERE id = 1").Scan(&v); err != nil {
		return "", fmt.Errorf("store: log head: %w", err)
	}
	return v, nil
}

// LogCheckpoint returns the latest signed checkpoint and the tree size it
// names (size 0 and no note before the first is signed).
func (db *DB) LogCheckpoint(ctx context.Context) (int64, []byte, error) {
	var cp string
	if err := db.r.QueryRowContext(ctx, "SELECT checkpoint FROM log_head WHERE id = 1").Scan(&cp); err != nil {
		return 0, nil, fmt.Errorf("store: log checkpoint: %w", err)
	}
	if cp == "" {
		return 0, nil, nil
	}
	c, err := translog.ParseCheckpoint(noteText(cp))
	if err != nil {
		return 0, nil, fmt.Errorf("store: stored checkpoint: %w", err)
	}
	return c.Size, []byte(cp), nil
}

// noteText is the signed text of a note: everything before the blank line.
func noteText(msg string) string {
	if i := strings.Index(msg, "\n\n"); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// LogHashes reads stored tree hashes through the cache.
func (db *DB) LogHashes(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		return db.readLogHashes(ctx, sqlQueryer{db.r}, nil, idx)
	})
}

// readLogHashes returns the hashes at idx: from pending (this
// transaction's), the cache, or q.
func (db *DB) readLogHashes(ctx context.Context, q queryer, pending map[int64]tlog.Hash, idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	var missing []int64
	at := map[int64][]int{}
	for i, x := range idx {
		if h, ok := pending[x]; ok {
			out[i] = h
			continue
		}
		if h, ok := db.logCache.get(x); ok {
			out[i] = h
			continue
		}
		if at[x] == nil {
			missing = append(missing, x)
		}
		at[x] = append(at[x], i)
	}
	for len(missing) > 0 {
		chunk := missing[:min(len(missing), 500)]
		missing = missing[len(chunk):]
		args := make([]any, len(chunk))
		ph := make([]string, len(chunk))
		for i, x := range chunk {
			args[i], ph[i] = x, fmt.Sprintf("$%d", i+1)
		}
		rows, err := q.query(ctx, "SELECT idx, hash FROM log_hashes WHERE idx IN ("+strings.Join(ph, ",")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("store: log hashes: %w", err)
		}
		found := 0
		for rows.Next() {
			var x int64
			var b []byte
			if err := rows.Scan(&x, &b); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: log hashes: %w", err)
			}
			if len(b) != tlog.HashSize {
				rows.Close()
				return nil, fmt.Errorf("store: log hash %d is damaged (%d bytes)", x, len(b))
			}
			var h tlog.Hash
			copy(h[:], b)
			for _, i := range at[x] {
				out[i] = h
			}
			db.logCache.put(x, h)
			found++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: log hashes: %w", err)
		}
		if found != len(chunk) {
			return nil, errors.New("store: the log's tree is missing hashes")
		}
	}
	return out, nil
}

// appendLeaf stores the tree hashes of entry e (leaf e.Seq-1) in tx.
func (tx *Tx) appendLeaf(ctx context.Context, e ledger.Entry) error {
	data, err := e.Canonical()
	if err != nil {
		return err
	}
	if len(data) > ledger.MaxCanonical {
		return fmt.Errorf("store: a ledger entry of %d bytes is too large for the log (at most %d)", len(data), ledger.MaxCanonical)
	}
	n := e.Seq - 1
	hashes, err := tlog.StoredHashes(n, data, tx.logReader(ctx))
	if err != nil {
		return fmt.Errorf("store: log tree: %w", err)
	}
	first := tlog.StoredHashIndex(0, n)
	args := make([]any, 0, 2*len(hashes))
	ph := make([]string, 0, len(hashes))
	for i, h := range hashes {
		idx := first + int64(i)
		args = append(args, idx, h[:])
		ph = append(ph, fmt.Sprintf("($%d, $%d)", 2*i+1, 2*i+2))
		if tx.logPending == nil {
			tx.logPending = map[int64]tlog.Hash{}
		}
		tx.logPending[idx] = h
		tx.logOrder = append(tx.logOrder, idx)
	}
	if tx.leafData == nil {
		tx.leafData = map[int64][]byte{}
	}
	tx.leafData[n] = data
	if err := tx.write(ctx, "log tree", "INSERT INTO log_hashes (idx, hash) VALUES "+strings.Join(ph, ", "), args...); err != nil {
		return err
	}
	tx.logSize = e.Seq
	return nil
}

// logReader reads tree hashes as this transaction sees them.
func (tx *Tx) logReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		return tx.db.readLogHashes(ctx, tx, tx.logPending, idx)
	})
}

// syncTree builds the tree hashes of entries the tree does not cover yet:
// those of a store written before the log existed. It runs in the first
// transaction that appends after an upgrade, under the ledger head's lock.
func (tx *Tx) syncTree(ctx context.Context) error {
	size := tx.logSize
	tx.treeSynced = true
	if size >= tx.head.Seq {
		return nil
	}
	entries, err := readEntries(ctx, tx, size, int(tx.head.Seq-size))
	if err != nil {
		return err
	}
	if int64(len(entries)) != tx.head.Seq-size {
		return fmt.Errorf("store: log tree: the ledger holds %d of entries %d to %d", len(entries), size+1, tx.head.Seq)
	}
	for i, e := range entries {
		if e.Seq != size+1+int64(i) {
			return fmt.Errorf("store: log tree: ledger entry %d is missing", size+1+int64(i))
		}
		if err := tx.appendLeaf(ctx, e); err != nil {
			return err
		}
	}
	tx.headDirty = true
	return nil
}

// signLog records the tree's size and root for the chain head and signs a
// checkpoint of it with the log key. force signs even when the
// batch appended nothing (a new key, or a checkpoint left behind by a
// command that ran without the key).
func (tx *Tx) signLog(ctx context.Context, force bool) error {
	if !tx.headDirty && !force {
		return nil
	}
	if tx.head == nil {
		if err := tx.loadHead(ctx); err != nil {
			return err
		}
	}
	if !tx.treeSynced {
		if err := tx.syncTree(ctx); err != nil {
			return err
		}
	}
	size := tx.head.Seq
	root := translog.EmptyRoot
	if size > 0 {
		var err error
		if root, err = tlog.TreeHash(size, tx.logReader(ctx)); err != nil {
			return fmt.Errorf("store: log root: %w", err)
		}
	}
	rootText := translog.Checkpoint{Root: root}.RootText()
	k := tx.db.logKey.Load()
	if k == nil {
		// An entry nobody signs would sit outside every checkpoint, and
		// every receipt of it would fail: a writer without the key is a bug.
		return ErrNoLogKey
	}
	note, err := k.SignCheckpoint(size, root)
	if err != nil {
		return err
	}
	// Only the key already recorded (or the first) may sign: the check in
	// SetLogKey ran before this transaction, and another instance may
	// have recorded its key since.
	tx.signedSize, tx.signedNote = size, note
	return tx.writeChecked(ctx, "log head", func(n int64) error {
		if n != 1 {
			return fmt.Errorf("%w (another key was recorded while this one was being loaded)", ErrLogKey)
		}
		return nil
	}, "UPDATE log_head SET size = $1, root = $2, checkpoint = $3, signed_at = $4, verifier = $5 WHERE id = 1 AND verifier IN ('', $5)",
		size, rootText, string(note), time.Now().UnixMicro(), k.VerifierKey())
}

// LogState is what VerifyLog found: the tree it recomputed from the ledger
// and the signed checkpoint it checked against it.
type LogState struct {
	Size       int64     // entries in the ledger = leaves of the tree
	Root       tlog.Hash // recomputed root at Size
	Checkpoint translog.Checkpoint
	Note       []byte // the signed checkpoint, as stored
}

// VerifyLog recomputes the Merkle tree from the ledger's entries, in one
// read transaction, and checks that every stored tree hash is the
// recomputed one, that the stored checkpoint is signed by v and names the
// recomputed root at its size, and, for each earlier checkpoint given, that
// the tree at its size had its root (the log only grew). Memory stays
// constant however long the log.
func (db *DB) VerifyLog(ctx context.Context, v note.Verifier, earlier ...translog.Checkpoint) (LogState, error) {
	var st LogState
	tx, err := db.readTx(ctx)
	if err != nil {
		return st, fmt.Errorf("store: log: %w", err)
	}
	defer tx.Rollback()
	var stored int64
	var cp string
	if err := tx.QueryRowContext(ctx, "SELECT size, checkpoint FROM log_head WHERE id = 1").Scan(&stored, &cp); err != nil {
		return st, fmt.Errorf("store: log head: %w", err)
	}
	if cp == "" {
		return st, errors.New("the log has no signed checkpoint yet: start 'notrain serve' once with the log key")
	}
	st.Note = []byte(cp)
	if st.Checkpoint, err = translog.OpenCheckpoint(st.Note, v); err != nil {
		return st, fmt.Errorf("the stored checkpoint: %w", err)
	}
	want := map[int64]tlog.Hash{st.Checkpoint.Size: st.Checkpoint.Root}
	for _, c := range earlier {
		if r, ok := want[c.Size]; ok && r != c.Root {
			return st, fmt.Errorf("two checkpoints of size %d name different roots: the log was forked", c.Size)
		}
		want[c.Size] = c.Root
	}
	var b translog.Builder
	check := func() error {
		r, ok := want[b.Size()]
		if !ok {
			return nil
		}
		got, err := b.Root()
		if err != nil {
			return err
		}
		if got != r {
			return fmt.Errorf("the tree of the first %d entries has another root than a checkpoint of that size names: entries were changed or the log was rewritten", b.Size())
		}
		delete(want, b.Size())
		return nil
	}
	if err := check(); err != nil {
		return st, err
	}
	// In chunks, one result set at a time: a PostgreSQL connection reads
	// one query's rows before the next query can start.
	const chunk = 4096
	for {
		from := b.Size()
		entries, err := readEntries(ctx, sqlQueryer{tx}, from, chunk)
		if err != nil {
			return st, err
		}
		if len(entries) == 0 {
			break
		}
		last := from + int64(len(entries))
		hashes, err := readHashRange(ctx, sqlQueryer{tx}, tlog.StoredHashIndex(0, from), tlog.StoredHashIndex(0, last))
		if err != nil {
			return st, err
		}
		next := tlog.StoredHashIndex(0, from)
		for _, e := range entries {
			if e.Seq != b.Size()+1 {
				return st, &ledger.BadEntryError{Seq: b.Size() + 1, Reason: "missing from the log"}
			}
			data, err := e.Canonical()
			if err != nil {
				return st, &ledger.BadEntryError{Seq: e.Seq, Reason: err.Error()}
			}
			computed, err := b.Add(data)
			if err != nil {
				return st, fmt.Errorf("store: log: %w", err)
			}
			for _, h := range computed {
				got, ok := hashes[next]
				if !ok {
					return st, fmt.Errorf("stored tree hash %d of entry %d is missing", next, e.Seq)
				}
				if got != h {
					return st, fmt.Errorf("stored tree hash %d does not match entry %d: the tree or the entry was changed", next, e.Seq)
				}
				delete(hashes, next)
				next++
			}
			if err := check(); err != nil {
				return st, err
			}
		}
		if len(hashes) > 0 {
			return st, errors.New("the stored tree has hashes that no entry made")
		}
		if len(entries) < chunk {
			break
		}
	}
	for size := range want {
		return st, fmt.Errorf("a checkpoint names a tree of %d entries, the ledger has only %d: entries were cut off", size, b.Size())
	}
	var extra int64
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_hashes WHERE idx >= $1", tlog.StoredHashIndex(0, b.Size())).Scan(&extra); err != nil {
		return st, fmt.Errorf("store: log: %w", err)
	}
	if extra > 0 {
		return st, fmt.Errorf("the stored tree has hashes past the ledger's %d entries", b.Size())
	}
	if stored != b.Size() {
		return st, fmt.Errorf("the log head says the tree has %d leaves, the ledger has %d entries", stored, b.Size())
	}
	st.Size = b.Size()
	if st.Root, err = b.Root(); err != nil {
		return st, err
	}
	return st, nil
}

// ProveConsistency returns the RFC 6962 consistency proof that the tree of
// size n contains the tree of size m, from the stored hashes.
func (db *DB) ProveConsistency(ctx context.Context, n, m int64) (tlog.TreeProof, error) {
	p, err := tlog.ProveTree(n, m, db.LogHashes(ctx))
	if err != nil {
		return nil, fmt.Errorf("store: consistency proof %d→%d: %w", m, n, err)
	}
	return p, nil
}

// ProveInclusion returns the RFC 6962 inclusion proof of leaf i in the
// tree of size n, from the stored hashes.
func (db *DB) ProveInclusion(ctx context.Context, n, i int64) (tlog.RecordProof, error) {
	p, err := tlog.ProveRecord(n, i, db.LogHashes(ctx))
	if err != nil {
		return nil, fmt.Errorf("store: inclusion proof of %d in %d: %w", i, n, err)
	}
	return p, nil
}

// LogEntries returns the canonical bytes of ledger entries from+1 …
// from+n (leaves from … from+n-1).
func (db *DB) LogEntries(ctx context.Context, from int64, n int) ([][]byte, error) {
	entries, err := readEntries(ctx, sqlQueryer{db.r}, from, n)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		if e.Seq != from+1+int64(i) {
			return nil, fmt.Errorf("store: ledger entry %d is missing", from+1+int64(i))
		}
		if out[i], err = e.Canonical(); err != nil {
			return nil, err
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("store: the ledger has no entries %d to %d", from+1, from+int64(n))
	}
	return out, nil
}

func readEntries(ctx context.Context, q queryer, after int64, n int) ([]ledger.Entry, error) {
	rows, err := q.query(ctx, "SELECT seq, at, kind, body, prev_hash, hash FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2", after, n)
	if err != nil {
		return nil, fmt.Errorf("store: log: %w", err)
	}
	defer rows.Close()
	var out []ledger.Entry
	for rows.Next() {
		var e ledger.Entry
		var body string
		if err := rows.Scan(&e.Seq, &e.At, &e.Kind, &body, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("store: log: %w", err)
		}
		e.Body = []byte(body)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: log: %w", err)
	}
	return out, nil
}

func readHashRange(ctx context.Context, q queryer, lo, hi int64) (map[int64]tlog.Hash, error) {
	rows, err := q.query(ctx, "SELECT idx, hash FROM log_hashes WHERE idx >= $1 AND idx < $2", lo, hi)
	if err != nil {
		return nil, fmt.Errorf("store: log: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]tlog.Hash, hi-lo)
	for rows.Next() {
		var idx int64
		var raw []byte
		if err := rows.Scan(&idx, &raw); err != nil {
			return nil, fmt.Errorf("store: log: %w", err)
		}
		if len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("stored tree hash %d is damaged (%d bytes)", idx, len(raw))
		}
		var h tlog.Hash
		copy(h[:], raw)
		out[idx] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: log: %w", err)
	}
	return out, nil
}

// LogRoot is the root hash of the log's tree of the first size entries,
// from the stored hashes.
func (db *DB) LogRoot(ctx context.Context, size int64) (tlog.Hash, error) {
	if size == 0 {
		return translog.EmptyRoot, nil
	}
	h, err := tlog.TreeHash(size, db.LogHashes(ctx))
	if err != nil {
		return h, fmt.Errorf("store: log root at %d: %w", size, err)
	}
	return h, nil
}

// CheckedRoot is the log's root at size, from the stored tree, checked
// against the signed checkpoint (equal to its root, or proven a prefix of
// it): a damaged tree is not signed into a manifest.
func (db *DB) CheckedRoot(ctx context.Context, v note.Verifier, size int64) (tlog.Hash, error) {
	root, err := db.LogRoot(ctx, size)
	if err != nil {
		return root, err
	}
	_, msg, err := db.LogCheckpoint(ctx)
	if err != nil {
		return root, err
	}
	cp, err := translog.OpenCheckpoint(msg, v)
	if err != nil {
		return root, fmt.Errorf("the log's checkpoint: %w", err)
	}
	var proof tlog.TreeProof
	if size > 0 && size < cp.Size {
		if proof, err = db.ProveConsistency(ctx, cp.Size, size); err != nil {
			return root, err
		}
	} else if size == cp.Size && root != cp.Root {
		return root, errors.New("the stored tree does not give the signed checkpoint's root: the log is damaged")
	}
	if err := translog.CheckGrowth(translog.Checkpoint{Origin: cp.Origin, Size: size, Root: root}, cp, proof); err != nil {
		return root, fmt.Errorf("the stored tree does not match the signed checkpoint (the log is damaged): %w", err)
	}
	return root, nil
}
