package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/ledger"
)

// op is one caller's unit of work inside a group commit.
type op struct {
	ctx  context.Context
	fn   func(context.Context, *Tx) error
	done chan error
	bulk bool // may run for minutes: no batch timeout
}

// opTimeout bounds one batch so a stuck statement cannot hold every writer.
const opTimeout = 30 * time.Second

// Write runs fn in a transaction and returns after that transaction has
// committed durably (or failed). Concurrent calls share one transaction and
// one fsync: each runs inside its own savepoint, so an error from one fn
// undoes only that fn's writes. fn must not keep tx after it returns.
//
// If ctx ends while the write is queued, it is dropped; if it ends while the
// batch is committing, Write returns ctx.Err() though the write may commit:
// callers acknowledge only a nil error, never the absence of one.
func (db *DB) Write(ctx context.Context, fn func(context.Context, *Tx) error) error {
	return db.write(ctx, &op{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// Bulk is Write for large imports: it is not bound by the batch timeout
// that protects the online path from a stuck statement, so a million-row
// import can take the minutes it needs. It still commits atomically.
func (db *DB) Bulk(ctx context.Context, fn func(context.Context, *Tx) error) error {
	return db.write(ctx, &op{ctx: ctx, fn: fn, done: make(chan error, 1), bulk: true})
}

func (db *DB) write(ctx context.Context, o *op) error {
	// The read lock keeps Close from finishing between the closed check and
	// the send, so every queued op is seen by the writer's final drain.
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case db.ops <- o:
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
	defer close(db.stopped)
	for {
		var first *op
		select {
		case first = <-db.ops:
		case <-db.stop:
			// Finish what was queued before Close.
			for {
				select {
				case o := <-db.ops:
					db.commit([]*op{o})
				default:
					return
				}
			}
		}
		batch := []*op{first}
	drain:
		for len(batch) < db.maxOps {
			select {
			case o := <-db.ops:
				batch = append(batch, o)
			default:
				break drain
			}
		}
		db.commit(batch)
	}
}

// commit runs one batch in one transaction and reports each op's outcome.
func (db *DB) commit(batch []*op) {
	results := make([]error, len(batch))
	defer func() {
		for i, o := range batch {
			o.done <- results[i]
		}
	}()
	timeout := opTimeout
	for _, o := range batch {
		if o.bulk {
			timeout = 24 * time.Hour
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Every way out of a batch that reached the database records whether
	// the database took it, for /healthz.
	var fault error
	fail := func(err error) {
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
		db.health.set(err)
	}
	// The batch holds its connection for itself, so that an op can reach
	// the driver's own connection inside the transaction (PostgreSQL's COPY
	// through pgx). It is handed back before the statements the batch saw
	// first are prepared: SQLite has only the one write connection.
	conn, err := db.w.Conn(ctx)
	if err != nil {
		fail(fmt.Errorf("store: connection: %w", err))
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			conn.Close()
		}
	}
	defer release()
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("store: begin: %w", err))
		return
	}
	tx := &Tx{db: db, tx: sqlTx, conn: conn, ctx: ctx}
	if db.dialect == Postgres {
		// Every batch of every instance takes the ledger head's row lock
		// first: one lock order, so batches that lock other rows too
		// (a code request, then the head) can never deadlock each other.
		if err := tx.loadHead(ctx); err != nil {
			sqlTx.Rollback()
			fail(err)
			return
		}
	}
	// Runs after the deferred result delivery is set up but before it
	// fires: the connection is free again once the transaction has ended.
	defer func() {
		release()
		db.prepareLater(tx.unprepared)
	}()
	useSavepoints := len(batch) > 1
	ran := 0
	for i, o := range batch {
		if err := o.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		mark := tx.mark()
		if useSavepoints {
			if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				sqlTx.Rollback()
				fail(fmt.Errorf("store: savepoint: %w", err))
				return
			}
		}
		// The op's own deadline still applies, but a client that goes away
		// mid-op must not cancel statements half-way through a batch.
		opCtx, opCancel := context.WithTimeout(context.WithoutCancel(o.ctx), timeout)
		err := o.fn(opCtx, tx)
		opCancel()
		if err != nil {
			results[i] = err
			if isFault(err) {
				fault = err
			}
			tx.reset(mark)
			if !useSavepoints {
				sqlTx.Rollback()
				if fault != nil {
					db.health.set(fault)
				}
				return
			}
			if _, rbErr := sqlTx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT w"); rbErr != nil {
				sqlTx.Rollback()
				fail(fmt.Errorf("store: rollback to savepoint: %w", rbErr))
				return
			}
		} else {
			ran++
		}
		if useSavepoints {
			if _, err := sqlTx.ExecContext(ctx, "RELEASE SAVEPOINT w"); err != nil {
				sqlTx.Rollback()
				fail(fmt.Errorf("store: release savepoint: %w", err))
				return
			}
		}
	}
	if ran == 0 {
		sqlTx.Rollback()
		if fault != nil {
			db.health.set(fault)
		}
		return
	}
	if err := tx.flushLedgerHead(ctx); err != nil {
		sqlTx.Rollback()
		fail(err)
		return
	}
	if err := sqlTx.Commit(); err != nil {
		fail(fmt.Errorf("store: commit: %w", err))
		return
	}
	db.health.set(fault)
	for idx, h := range tx.logPending {
		db.logCache.put(idx, h)
	}
	for _, f := range tx.afterCommit {
		f()
	}
}

// Tx is the write transaction an op runs in.
type Tx struct {
	db   *DB
	tx   *sql.Tx
	conn *sql.Conn // the connection tx runs on
	ctx  context.Context

	head        *ledger.Head // cached chain head, loaded on first append
	headDirty   bool
	logSize     int64               // the tree size stored, read with the head
	treeSynced  bool                // the tree covers the head (syncTree ran)
	logPending  map[int64]tlog.Hash // tree hashes written in this transaction
	logOrder    []int64             // their indexes, in order, for savepoint undo
	afterCommit []func()
	local       map[string]*sql.Stmt // statements of this batch
	unprepared  []string             // SQL to prepare on the connection afterwards
}

// txMark records what to undo in memory when an op's savepoint rolls back.
type txMark struct {
	head       *ledger.Head
	headDirty  bool
	treeSynced bool
	logSize    int64
	after      int
	leaves     int
}

func (tx *Tx) mark() txMark {
	m := txMark{headDirty: tx.headDirty, treeSynced: tx.treeSynced, logSize: tx.logSize, after: len(tx.afterCommit), leaves: len(tx.logOrder)}
	if tx.head != nil {
		h := *tx.head
		m.head = &h
	}
	return m
}

func (tx *Tx) reset(m txMark) {
	tx.head, tx.headDirty = m.head, m.headDirty
	tx.treeSynced, tx.logSize = m.treeSynced, m.logSize
	tx.afterCommit = tx.afterCommit[:m.after]
	for _, idx := range tx.logOrder[m.leaves:] {
		delete(tx.logPending, idx)
	}
	tx.logOrder = tx.logOrder[:m.leaves]
}

// AfterCommit runs f once the transaction has committed (never if it fails).
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// The write path reuses prepared statements: parsing the same SQL for
// every objection would cost more than executing it. SQL seen for the first
// time is prepared on the transaction (the one write connection is busy
// with it) and, once the batch is over, on the connection for later batches.
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

func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := tx.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := tx.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
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
	if _, err := tx.exec(ctx, "INSERT INTO ledger (seq, at, kind, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
		e.Seq, e.At, e.Kind, string(e.Body), e.PrevHash, e.Hash); err != nil {
		return ledger.Entry{}, fmt.Errorf("store: ledger append: %w", err)
	}
	tx.head = &ledger.Head{Seq: e.Seq, Hash: e.Hash}
	tx.headDirty = true
	return e, nil
}

// loadHead reads the chain's head into the transaction, locking it on
// PostgreSQL (SQLite has one writer anyway).
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
	res, err := tx.exec(ctx, "UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1", tx.head.Seq, tx.head.Hash)
	if err != nil {
		return fmt.Errorf("store: ledger head: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(errors.New("store: ledger head row is missing"), err)
	}
	return tx.signLog(ctx, false)
}
