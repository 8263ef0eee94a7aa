package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/ledger"
)

// op is one caller's unit of work inside a group commit.
type op struct {
	ctx       context.Context
	fn        func(context.Context, *Tx) error
	done      chan error
	bulk      bool // may run for minutes: no batch timeout
	first     bool // taken from the outbox's queue
	conflicts int  // times PostgreSQL failed it alone to break a deadlock
}

// retryConflict reports whether an op that ran alone should run again:
// PostgreSQL broke a deadlock (or a serialization conflict) by failing it,
// which says nothing about the op itself. Groups of several instances can
// lock the same rows in opposite orders; a few tries settle it.
func retryConflict(o *op, err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40P01" && pe.Code != "40001" || o.conflicts >= 3 {
		return false
	}
	o.conflicts++
	return true
}

// opTimeout bounds one batch so a stuck statement cannot hold every writer.
const opTimeout = 30 * time.Second

// Write runs fn in a transaction and returns after that transaction has
// committed durably (or failed). Concurrent calls share one transaction and
// one fsync; an error from one fn undoes only that fn's writes (see
// commitGroup: fn may run more than once, only its last run commits). fn
// must not keep tx after it returns.
//
// If ctx ends while the write is queued, it is dropped; if it ends while the
// batch is committing, Write returns ctx.Err() though the write may commit:
// callers acknowledge only a nil error, never the absence of one. After
// such an error fn may still be running in the writer, so the caller must
// not read what fn assigns unless Write returned nil.
func (db *DB) Write(ctx context.Context, fn func(context.Context, *Tx) error) error {
	return db.write(ctx, db.ops, &op{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// writeFirst is Write for the outbox's own writes (leases, delivery
// outcomes): they join the next group ahead of the queue. Under a surge a
// lease waited behind every queued code request, twice per batch of mails,
// and the mails fell behind the requests they answer.
func (db *DB) writeFirst(ctx context.Context, fn func(context.Context, *Tx) error) error {
	return db.write(ctx, db.first, &op{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// Bulk is Write for large imports: it is not bound by the batch timeout
// that protects the online path from a stuck statement, so a million-row
// import can take the minutes it needs. It still commits atomically.
func (db *DB) Bulk(ctx context.Context, fn func(context.Context, *Tx) error) error {
	return db.write(ctx, db.ops, &op{ctx: ctx, fn: fn, done: make(chan error, 1), bulk: true})
}

func (db *DB) write(ctx context.Context, queue chan *op, o *op) error {
	// The read lock keeps Close from finishing between the closed check and
	// the send, so every queued op is seen by the writer's final drain.
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case queue <- o:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (db *DB) writer() {
	for {
		var head *op
		select {
		case head = <-db.first:
			head.first = true
		case head = <-db.ops:
		case <-db.stop:
			// Finish what was queued before Close.
			for {
				select {
				case o := <-db.first:
					db.commit([]*op{o})
				case o := <-db.ops:
					db.commit([]*op{o})
				default:
					return
				}
			}
		}
		// The outbox's writes form groups of their own: a group commits
		// when its last op is done, and a group of code requests takes a
		// round trip or two for each of them.
		batch := []*op{head}
		queue := db.ops
		if head.first {
			queue = db.first
		}
	drain:
		for len(batch) < db.maxOps {
			select {
			case o := <-queue:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		db.commit(batch)
	}
}

// commit runs a batch and reports each op's outcome. It runs the batch as
// one group; when that group cannot commit as a whole (an op failed after
// its writes reached the database), it runs what is left again.
func (db *DB) commit(batch []*op) {
	for len(batch) > 0 {
		again, alone := db.commitGroup(batch)
		if alone {
			// Which op a failure belongs to is not known: each runs by
			// itself, so that only the op at fault fails.
			for _, o := range again {
				// A single op comes back only to try again after a deadlock.
				for one := []*op{o}; len(one) > 0; {
					one, _ = db.commitGroup(one)
				}
			}
			return
		}
		batch = again
	}
}

// group is one run of a batch: its ops and what has been settled of them.
type group struct {
	ops     []*op
	results []error
	settled []bool
}

func (g *group) settle(i int, err error) { g.results[i], g.settled[i] = err, true }

// settleRest settles every op not settled yet with err.
func (g *group) settleRest(err error) {
	for i := range g.ops {
		if !g.settled[i] {
			g.settle(i, err)
		}
	}
}

// rest lists the ops not settled, but for skip.
func (g *group) rest(skip int) []*op {
	var out []*op
	for i, o := range g.ops {
		if i != skip && !g.settled[i] {
			out = append(out, o)
		}
	}
	return out
}

// report tells each settled op its outcome.
func (g *group) report() {
	for i, o := range g.ops {
		if g.settled[i] {
			o.done <- g.results[i]
		}
	}
}

// commitGroup runs ops in one transaction and one durable commit. Ops run
// one after another; each sees the writes of those before it. There are
// no savepoints (on SQLite three statements per op, on PostgreSQL a
// subtransaction each): an op that fails before it wrote anything just
// leaves the transaction as it was; one that fails after its writes went
// to the database has the group rolled back, gets its error, and the
// others are returned to run again without it. fn may therefore run more
// than once; only its last run commits.
//
// It reports every op it settles on its done channel and returns the ops
// to run again; alone says that each must run by itself.
func (db *DB) commitGroup(batch []*op) (again []*op, alone bool) {
	g := &group{ops: batch, results: make([]error, len(batch)), settled: make([]bool, len(batch))}
	defer g.report()
	timeout := opTimeout
	for _, o := range batch {
		if o.bulk {
			timeout = 24 * time.Hour
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fail := func(err error) {
		g.settleRest(err)
		db.health.set(err)
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		fail(fmt.Errorf("store: connection: %w", err))
		return nil, false
	}
	defer conn.Close()
	tx := &Tx{db: db, timeout: timeout}
	if db.dialect == Postgres {
		err = conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("store: connection is a %T, not pgx's", dc)
			}
			tx.pipe = &pipe{conn: c.Conn()}
			again, alone = db.runGroup(ctx, tx, g)
			return nil
		})
		if err != nil {
			fail(err)
		}
		return again, alone
	}
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("store: begin: %w", err))
		return nil, false
	}
	tx.tx = sqlTx
	again, alone = db.runGroup(ctx, tx, g)
	// Statements the group saw first are prepared once its transaction has
	// ended and before the ops hear of it: SQLite has only the one write
	// connection.
	conn.Close()
	db.prepareLater(tx.unprepared)
	return again, alone
}

// runGroup is commitGroup's work inside the transaction tx. Every way out
// of a group that reached the database records whether the database took
// it, for /healthz.
func (db *DB) runGroup(ctx context.Context, tx *Tx, g *group) (again []*op, alone bool) {
	var fault error
	ran := 0
	for i, o := range g.ops {
		if err := o.ctx.Err(); err != nil {
			g.settle(i, err)
			continue
		}
		mark := tx.mark()
		// The op's own deadline still applies, but a client that goes away
		// mid-op must not cancel statements half-way through a group.
		opCtx, opCancel := context.WithTimeout(context.WithoutCancel(o.ctx), tx.timeout)
		err := o.fn(opCtx, tx)
		opCancel()
		if err == nil {
			ran++
			continue
		}
		if isFault(err) {
			fault = err
		}
		if tx.undo(mark) {
			g.settle(i, err) // nothing of it reached the database
			continue
		}
		tx.rollback(ctx)
		if len(g.ops) == 1 && retryConflict(o, err) {
			return g.rest(-1), false
		}
		if len(g.ops) == 1 {
			g.settle(i, err)
			db.health.set(fault)
			return nil, false
		}
		if tx.pipe != nil && tx.pipe.broken != nil {
			// On the pipe a failed statement may be an earlier op's
			// write that went out with this op's read.
			return g.rest(-1), true
		}
		g.settle(i, err)
		db.health.set(fault)
		return g.rest(i), false
	}
	if ran == 0 {
		tx.rollback(ctx)
		db.health.set(fault)
		return nil, false
	}
	err := tx.flushLedgerHead(ctx)
	if err == nil {
		err = tx.commit(ctx)
	}
	if err != nil {
		tx.rollback(ctx)
		if rest := g.rest(-1); len(rest) == 1 && retryConflict(rest[0], err) {
			return rest, false
		}
		if tx.pipe != nil && len(g.rest(-1)) > 1 && !isFault(err) {
			// A deferred write failed, or the ops of two instances
			// deadlocked: each runs again by itself.
			return g.rest(-1), true
		}
		g.settleRest(err)
		db.health.set(err)
		return nil, false
	}
	g.settleRest(nil)
	db.health.set(fault)
	for idx, h := range tx.logPending {
		db.logCache.put(idx, h)
	}
	db.recent.put(tx.signedSize, tx.signedNote, tx.leafData)
	for _, f := range tx.afterCommit {
		f()
	}
	return nil, false
}

// Tx is the write transaction an op runs in.
type Tx struct {
	db      *DB
	tx      *sql.Tx       // SQLite: the transaction
	pipe    *pipe         // PostgreSQL: the transaction, on pgx in pipeline mode
	timeout time.Duration // an op's own bound
	writes  int           // statements that change something, issued so far

	head        *ledger.Head // cached chain head, loaded on first append
	headDirty   bool
	logSize     int64               // the tree size stored, read with the head
	treeSynced  bool                // the tree covers the head (syncTree ran)
	logPending  map[int64]tlog.Hash // tree hashes written in this transaction
	logOrder    []int64             // their indexes, in order, for undo
	leafData    map[int64][]byte    // canonical bytes of the entries appended, by leaf
	signedSize  int64               // the checkpoint this transaction signed
	signedNote  []byte
	afterCommit []func()
	addrEvents  map[string]*eventWindow // events read or written, by address
	known       map[string]bool         // whether an account uses an address, as read
	local       map[string]*sql.Stmt    // statements of this batch
	unprepared  []string                // SQL to prepare on the connection afterwards
}

// txMark records what to undo in memory when an op fails.
type txMark struct {
	head       *ledger.Head
	headDirty  bool
	treeSynced bool
	logSize    int64
	after      int
	leaves     int
	writes     int
	pending    int // pipe: writes waiting
	flushes    int // pipe: round trips made
}

func (tx *Tx) mark() txMark {
	m := txMark{headDirty: tx.headDirty, treeSynced: tx.treeSynced, logSize: tx.logSize, after: len(tx.afterCommit),
		leaves: len(tx.logOrder), writes: tx.writes}
	if tx.head != nil {
		h := *tx.head
		m.head = &h
	}
	if tx.pipe != nil {
		m.pending, m.flushes = len(tx.pipe.pend), tx.pipe.flushes
	}
	return m
}

// undo resets the transaction to m in memory, and reports whether that is
// all it takes: nothing the op wrote has reached the database (it wrote
// nothing, or on the pipe its writes are all still waiting).
func (tx *Tx) undo(m txMark) bool {
	tx.head, tx.headDirty = m.head, m.headDirty
	tx.treeSynced, tx.logSize = m.treeSynced, m.logSize
	tx.afterCommit = tx.afterCommit[:m.after]
	for _, idx := range tx.logOrder[m.leaves:] {
		delete(tx.logPending, idx)
	}
	for leaf := range tx.leafData {
		if leaf >= m.logSize {
			delete(tx.leafData, leaf)
		}
	}
	tx.logOrder = tx.logOrder[:m.leaves]
	tx.addrEvents, tx.known = nil, nil // read again rather than undone
	if tx.pipe != nil && tx.pipe.broken != nil {
		return false
	}
	if tx.writes == m.writes {
		return true
	}
	if tx.pipe != nil && tx.pipe.flushes == m.flushes {
		tx.pipe.pend = tx.pipe.pend[:m.pending]
		tx.writes = m.writes
		return true
	}
	return false
}

func (tx *Tx) commit(ctx context.Context) error {
	if tx.pipe != nil {
		return tx.pipe.commit(ctx)
	}
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (tx *Tx) rollback(ctx context.Context) {
	if tx.pipe != nil {
		tx.pipe.rollback(ctx)
		return
	}
	tx.tx.Rollback()
}

// AfterCommit runs f once the transaction has committed (never if it fails).
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// The write path reuses prepared statements: parsing the same SQL for
// every objection would cost more than executing it. SQL seen for the first
// time is prepared on the transaction (the one write connection is busy
// with it) and, once the batch is over, on the connection for later batches.
// (On PostgreSQL, pgx keeps its own cache of prepared statements.)
func (tx *Tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := tx.local[q]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if ps, ok := tx.db.stmts.Load(q); ok {
		s = tx.tx.StmtContext(ctx, ps.(*sql.Stmt))
	} else {
		var err error
		if s, err = tx.tx.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		tx.unprepared = append(tx.unprepared, q)
	}
	if tx.local == nil {
		tx.local = map[string]*sql.Stmt{}
	}
	tx.local[q] = s
	return s, nil
}

// prepareLater prepares, outside any transaction, the SQL a batch used for
// the first time. A failure only means the next batch prepares it again.
func (db *DB) prepareLater(qs []string) {
	for _, q := range qs {
		if _, ok := db.stmts.Load(q); ok {
			continue
		}
		if s, err := db.w.PrepareContext(context.Background(), q); err == nil {
			db.stmts.Store(q, s)
		}
	}
}

// write runs a statement whose answer nobody reads. On PostgreSQL it
// waits and goes to the server with the next statement that must be
// answered (see pipe); on SQLite it runs now. label names it in errors.
func (tx *Tx) write(ctx context.Context, label, q string, args ...any) error {
	return tx.writeChecked(ctx, label, nil, q, args...)
}

// writeChecked is write with a check of how many rows the statement
// changed; check's error fails the transaction.
func (tx *Tx) writeChecked(ctx context.Context, label string, check func(int64) error, q string, args ...any) error {
	if tx.pipe != nil {
		tx.writes++
		tx.pipe.queue(label, q, args, check)
		return nil
	}
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", label, err)
	}
	if check != nil {
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: %s: %w", label, err)
		}
		return check(n)
	}
	return nil
}

// lockKey locks what kind and key name until the transaction ends, on
// PostgreSQL with an advisory lock that goes out with the next statement
// (SQLite has one writer). Taking it twice is harmless. It is not a write:
// an op that fails after taking it leaves nothing to undo.
func (tx *Tx) lockKey(kind, key string) {
	if tx.pipe == nil {
		return
	}
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	tx.pipe.queue("lock "+kind, "SELECT pg_advisory_xact_lock($1)", []any{int64(h.Sum64())}, nil)
}

// exec runs a write now, for its answer.
func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	tx.writes++
	if tx.pipe != nil {
		return tx.pipe.exec(ctx, q, args)
	}
	s, err := tx.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (rows, error) {
	if tx.pipe != nil {
		return tx.pipe.query(ctx, q, args)
	}
	s, err := tx.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := s.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) row {
	if tx.pipe != nil {
		r, err := tx.pipe.query(ctx, q, args)
		return pipeRow{r: r, err: err}
	}
	s, err := tx.stmt(ctx, q)
	if err != nil {
		// sql.Row carries no error of its own; an unprepared statement
		// surfaces on Scan through the plain path instead.
		return tx.tx.QueryRowContext(ctx, q, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// Append adds an entry to the ledger in this transaction and returns it with
// its sequence number and hash filled in.
func (tx *Tx) Append(ctx context.Context, at time.Time, kind string, body any) (ledger.Entry, error) {
	if tx.head == nil {
		if err := tx.loadHead(ctx); err != nil {
			return ledger.Entry{}, err
		}
	}
	b, err := ledger.Body(body)
	if err != nil {
		return ledger.Entry{}, err
	}
	e := ledger.Entry{At: at.UTC().UnixMicro(), Kind: kind, Body: b}
	if err := ledger.Next(*tx.head, &e); err != nil {
		return ledger.Entry{}, err
	}
	if !tx.treeSynced {
		if err := tx.syncTree(ctx); err != nil {
			return ledger.Entry{}, err
		}
	}
	if err := tx.appendLeaf(ctx, e); err != nil {
		return ledger.Entry{}, err
	}
	if err := tx.write(ctx, "ledger append", "INSERT INTO ledger (seq, at, kind, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
		e.Seq, e.At, e.Kind, string(e.Body), e.PrevHash, e.Hash); err != nil {
		return ledger.Entry{}, err
	}
	tx.head = &ledger.Head{Seq: e.Seq, Hash: e.Hash}
	tx.headDirty = true
	return e, nil
}

// loadHead reads the chain's head into the transaction, locking it on
// PostgreSQL (SQLite has one writer anyway). The lock is taken at a
// group's first append, not at its start, and held to its commit: groups
// that append nothing (code requests, the outbox) never wait for it, and
// those that do hold it only for the rest of their group.
func (tx *Tx) loadHead(ctx context.Context) error {
	var h ledger.Head
	// The log's head row is read (and on PostgreSQL locked) with the
	// chain's: one lock order for both.
	q := "SELECT h.seq, h.hash, l.size FROM ledger_head h JOIN log_head l ON l.id = h.id WHERE h.id = 1"
	if tx.db.dialect == Postgres {
		q += " FOR UPDATE"
	}
	if err := tx.queryRow(ctx, q).Scan(&h.Seq, &h.Hash, &tx.logSize); err != nil {
		return fmt.Errorf("store: ledger head: %w", err)
	}
	tx.head = &h
	return nil
}

// flushLedgerHead writes the cached head once per batch instead of once per entry.
func (tx *Tx) flushLedgerHead(ctx context.Context) error {
	if !tx.headDirty {
		return nil
	}
	err := tx.writeChecked(ctx, "ledger head", func(n int64) error {
		if n != 1 {
			return errors.New("store: ledger head row is missing")
		}
		return nil
	}, "UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1", tx.head.Seq, tx.head.Hash)
	if err != nil {
		return err
	}
	return tx.signLog(ctx, false)
}
