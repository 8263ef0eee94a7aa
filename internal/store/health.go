package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// writeHealth is the outcome of the last batch that reached the database:
// a service whose every write fails (a full or read-only disk, a lost
// server) must not report itself healthy.
type writeHealth struct {
	mu    sync.Mutex
	err   error     // nil: the last batch committed
	since time.Time // when writes started failing
}

func (h *writeHealth) set(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.err, h.since = nil, time.Time{}
	case h.err == nil:
		h.err, h.since = err, time.Now()
	default:
		h.err = err
	}
}

// WriteHealth reports whether writes are failing: the error of the last
// batch if the database refused it (not a caller's own error, such as a
// code that does not match), and since when; a later batch that commits
// clears it.
func (db *DB) WriteHealth() (since time.Time, err error) {
	db.health.mu.Lock()
	defer db.health.mu.Unlock()
	return db.health.since, db.health.err
}

// isFault reports whether err is the database failing rather than an
// operation's own outcome (a constraint, a not-found): I/O, a full or
// read-only database, a lost connection, a server shutting down.
func isFault(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 3, 5, 7, 8, 10, 11, 13, 14, 15, 26: // PERM, BUSY, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "25006" { // read_only_sql_transaction
			return true
		}
		for _, class := range []string{"08", "53", "57", "58", "XX"} {
			if strings.HasPrefix(pe.Code, class) {
				return true
			}
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// ProbeWrite commits a write that changes nothing, to learn whether writes
// work again after they failed: an idle instance taken out of rotation
// for failing would otherwise never see the commit that clears it.
func (db *DB) ProbeWrite(ctx context.Context) error {
	return db.Write(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.exec(ctx, "UPDATE ledger_head SET seq = seq WHERE id = 1")
		return err
	})
}
