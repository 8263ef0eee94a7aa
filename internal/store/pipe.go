package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipe runs a PostgreSQL write transaction on pgx's own connection, in
// pipeline mode. A write whose answer nobody reads waits in pend and goes
// out with the next statement that must be answered, in one round trip:
// BEGIN rides with the first read, the code requests, events and mails
// of a batch ride with the reads of the ops after them, and the last
// writes, the ledger head and COMMIT go out together. A group commit thus
// costs one round trip per read its ops make (the rows they must look at
// before deciding), not one per statement, and no savepoints: an op that
// fails before its writes went out simply drops them.
//
// The order of statements on the server is the order the ops issued them,
// so every read sees the writes before it, of its own op and of the ops
// earlier in the batch.
type pipe struct {
	conn    *pgx.Conn
	pend    []pending
	begun   bool // BEGIN has reached the server
	flushes int  // round trips so far: a mark before the last one cannot be undone in memory
	broken  error
}

// pending is a write not sent yet.
type pending struct {
	label string // what the write does, for the error message
	q     string
	args  []any
	check func(rowsAffected int64) error // nil: any count is fine
}

func (p *pipe) queue(label, q string, args []any, check func(int64) error) {
	p.pend = append(p.pend, pending{label: label, q: q, args: args, check: check})
}

// send puts the pending writes and then q in one batch and returns the
// results positioned at q's. The caller must close them.
func (p *pipe) send(ctx context.Context, q string, args []any) (pgx.BatchResults, error) {
	if p.broken != nil {
		return nil, p.broken
	}
	b := &pgx.Batch{}
	if !p.begun {
		b.Queue("BEGIN")
	}
	for _, w := range p.pend {
		b.Queue(w.q, w.args...)
	}
	if q != "" {
		b.Queue(q, args...)
	}
	if len(b.QueuedQueries) == 0 {
		return nil, nil
	}
	br := p.conn.SendBatch(ctx, b)
	p.flushes++
	fail := func(err error) (pgx.BatchResults, error) {
		br.Close()
		p.broken = err
		return nil, err
	}
	if !p.begun {
		if _, err := br.Exec(); err != nil {
			return fail(fmt.Errorf("store: begin: %w", err))
		}
		p.begun = true
	}
	pend := p.pend
	p.pend = nil
	for _, w := range pend {
		tag, err := br.Exec()
		if err != nil {
			return fail(fmt.Errorf("store: %s: %w", w.label, err))
		}
		if w.check != nil {
			if err := w.check(tag.RowsAffected()); err != nil {
				return fail(err)
			}
		}
	}
	return br, nil
}

// flush sends the pending writes.
func (p *pipe) flush(ctx context.Context) error {
	br, err := p.send(ctx, "", nil)
	if err != nil || br == nil {
		return err
	}
	if err := br.Close(); err != nil {
		p.broken = err
		return err
	}
	return nil
}

func (p *pipe) exec(ctx context.Context, q string, args []any) (sql.Result, error) {
	br, err := p.send(ctx, q, args)
	if err != nil {
		return nil, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.broken = err
		return nil, err
	}
	return result(tag), nil
}

func (p *pipe) query(ctx context.Context, q string, args []any) (rows, error) {
	br, err := p.send(ctx, q, args)
	if err != nil {
		return nil, err
	}
	r, err := br.Query()
	if err != nil {
		br.Close()
		p.broken = err
		return nil, err
	}
	return &pipeRows{Rows: r, br: br, p: p}, nil
}

// commit sends the last writes and COMMIT in one round trip, or in two
// when a waiting write's changed rows must be checked: the server runs a
// batch to its end before pgx hands back the first result, so a check that
// fails after COMMIT went out in the same batch would find the transaction
// already committed.
func (p *pipe) commit(ctx context.Context) error {
	if !p.begun && len(p.pend) == 0 {
		return nil // nothing reached the server
	}
	if slices.ContainsFunc(p.pend, func(w pending) bool { return w.check != nil }) {
		if err := p.flush(ctx); err != nil {
			return err
		}
	}
	br, err := p.send(ctx, "COMMIT", nil)
	if err != nil {
		return err
	}
	_, err = br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		p.broken = err
		return fmt.Errorf("store: commit: %w", err)
	}
	p.begun = false
	return nil
}

// rollback ends a transaction that reached the server.
func (p *pipe) rollback(ctx context.Context) {
	p.pend = nil
	if !p.begun {
		return
	}
	// After an error the server ignores the rest of the batch up to its
	// sync, which leaves the transaction aborted: ROLLBACK ends it either
	// way. If even that fails, the connection is closed rather than handed
	// back in a transaction.
	if _, err := p.conn.Exec(ctx, "ROLLBACK"); err != nil {
		p.conn.Close(context.WithoutCancel(ctx))
	}
	p.begun = false
}

// pipeRows are a query's rows; closing them ends the batch.
type pipeRows struct {
	pgx.Rows
	br pgx.BatchResults
	p  *pipe
}

func (r *pipeRows) Close() error {
	r.Rows.Close()
	err := r.Rows.Err()
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.p.broken = err
	}
	return err
}

// pipeRow is QueryRow's answer on the pipe, with database/sql's ErrNoRows.
type pipeRow struct {
	r   rows
	err error
}

func (r pipeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.r.Next() {
		if err := r.r.Close(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	err := r.r.Scan(dest...)
	if cerr := r.r.Close(); err == nil {
		err = cerr
	}
	return err
}

type result pgconn.CommandTag

func (r result) RowsAffected() (int64, error) { return pgconn.CommandTag(r).RowsAffected(), nil }
func (r result) LastInsertId() (int64, error) {
	return 0, errors.New("store: PostgreSQL has no last insert id")
}

// rows is what a query in the store returns, on either driver.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Close() error
	Err() error
}

// row is one row's answer.
type row interface {
	Scan(dest ...any) error
}

// queryer runs a read: a database/sql pool or transaction, or a write Tx.
type queryer interface {
	query(ctx context.Context, q string, args ...any) (rows, error)
}

// sqlQueryer adapts database/sql's pools and transactions.
type sqlQueryer struct {
	q interface {
		QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	}
}

func (s sqlQueryer) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}
