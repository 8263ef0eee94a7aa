// Package store is notrain's persistence: SQLite by default, PostgreSQL in
// production, one schema and one set of queries for both. Every write goes
// through DB.Write, which commits concurrent writes together (group commit)
// and returns only after the commit is durable.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notrain/notrain/internal/translog"
	_ "modernc.org/sqlite" // pure-Go SQLite: a static binary, no cgo
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrAssertionUsed is returned when a platform assertion's id was used before.
var ErrAssertionUsed = errors.New("store: assertion already used")

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// Dialect names the database behind a DB.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open store.
type DB struct {
	dialect Dialect
	path    string  // SQLite file, "" for PostgreSQL
	w       *sql.DB // the write path: one connection for SQLite
	r       *sql.DB // reads: a pool; the same as w for PostgreSQL

	checkpointer *sql.DB       // SQLite: the connection that checkpoints the WAL
	checkpointed chan struct{} // closed when the checkpointer has stopped
	ops          chan *op
	first        chan *op // the outbox's writes, taken before ops
	stop         chan struct{}
	stopped      chan struct{}
	maxOps       int
	writers      int // group commits that run side by side

	closeMu sync.RWMutex
	closed  bool

	stmts sync.Map // SQL text → *sql.Stmt prepared on the write path

	health writeHealth

	logCache logCache
	recent   recentLog                    // what this instance last committed, for receipts
	logKey   atomic.Pointer[translog.Key] // signs checkpoints; nil: the tree is kept, not signed
}

// Options tune a DB.
type Options struct {
	// MaxBatch caps how many writes share one commit (default 256).
	MaxBatch int
	// MaxConns caps PostgreSQL connections (default 16).
	MaxConns int
	// Writers is how many group commits run side by side on PostgreSQL
	// (default 4; SQLite has one writer). While one group waits for the
	// server, the next is already running: at surge rates a single
	// writer spent most of its time waiting for round trips.
	Writers int
}

// ErrNoStore is returned by Open when dsn names no notrain store: a file
// that does not exist, an empty file, or a database without notrain's
// schema. A typo in --db must not become an empty store that filters
// against zero objections.
var ErrNoStore = errors.New("not a notrain store")

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens an existing store named by dsn (a "postgres://" or
// "postgresql://" URL, or the path of a SQLite file) and applies the
// migrations it lacks. It creates nothing: a missing or empty file, or a
// database without notrain's schema, is refused with ErrNoStore before
// anything is written, so no file is left behind.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	return open(ctx, dsn, opt, false)
}

// Create opens the store named by dsn like Open, creating it first when
// the SQLite file does not exist or is empty, or the PostgreSQL database
// holds no tables yet. A database that holds someone else's tables is
// refused, not extended with ours.
func Create(ctx context.Context, dsn string, opt Options) (*DB, error) {
	return open(ctx, dsn, opt, true)
}

func open(ctx context.Context, dsn string, opt Options, create bool) (*DB, error) {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 256
	}
	var db *DB
	var err error
	if IsPostgres(dsn) {
		if opt.MaxConns <= 0 {
			opt.MaxConns = 16
		}
		db, err = openPostgres(ctx, dsn, opt.MaxConns)
		if err == nil {
			err = db.checkPostgresSchema(ctx, create)
			if err != nil {
				db.closeConns()
			}
		}
	} else {
		if err = checkSQLiteFile(dsn, create); err == nil {
			db, err = openSQLite(ctx, dsn)
		}
	}
	if err != nil {
		return nil, err
	}
	db.maxOps = opt.MaxBatch
	writers := 1
	if db.dialect == Postgres {
		writers = opt.Writers
		if writers <= 0 {
			writers = 4
		}
		writers = min(writers, max(opt.MaxConns/2, 1))
	}
	if err := db.migrate(ctx, create); err != nil {
		db.closeConns()
		return nil, err
	}
	db.ops = make(chan *op, 8*opt.MaxBatch)
	db.first = make(chan *op, 64)
	db.stop = make(chan struct{})
	db.stopped = make(chan struct{})
	db.writers = writers
	var wg sync.WaitGroup
	for range writers {
		wg.Go(db.writer)
	}
	go func() { wg.Wait(); close(db.stopped) }()
	if db.checkpointer != nil {
		db.checkpointed = make(chan struct{})
		go db.checkpoints()
	}
	return db, nil
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Path is the SQLite file ("" for PostgreSQL).
func (db *DB) Path() string { return db.path }

// Close stops the writer after the writes already queued and closes the
// connections.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return ErrClosed
	}
	db.closed = true
	db.closeMu.Unlock()
	close(db.stop)
	<-db.stopped
	if db.checkpointed != nil {
		<-db.checkpointed
	}
	return db.closeConns()
}

func (db *DB) closeConns() error {
	db.stmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if db.checkpointer != nil {
		// The last connection to close checkpoints what is left.
		err = errors.Join(err, db.checkpointer.Close())
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Durability first: WAL with synchronous=FULL fsyncs every commit.
	// busy_timeout lets a CLI import and a running server share the file.
	// temp_store(MEMORY): statement journals and sorts never need a file,
	// so a process short of file descriptors cannot fail a write for that.
	common := "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=temp_store(2)"
	u := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?"
	// The write connection never checkpoints: a commit that crosses the
	// WAL threshold would copy pages back into the database while every
	// writer waits. A background connection checkpoints instead.
	// The writer's page cache holds a whole group's pages (32 MiB): with
	// the default 2 MiB a surge's groups spilled pages to the WAL before
	// their commit and wrote many of them twice.
	w, err := sql.Open("sqlite", u+common+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(-32768)")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One writer: SQLite has one anyway, and group commit needs a single
	// connection to batch onto.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", u+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	cp, err := sql.Open("sqlite", u+common)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	cp.SetMaxOpenConns(1)
	db := &DB{dialect: SQLite, path: abs, w: w, r: r, checkpointer: cp}
	if err := db.checkSQLiteDurability(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	return db, nil
}

// checkpoints copies the WAL back into the database file in the
// background (PASSIVE: it never blocks writers or readers), so the WAL stays
// small without any commit paying for it.
func (db *DB) checkpoints() {
	defer close(db.checkpointed)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			db.checkpointer.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			cancel()
		}
	}
}

// checkSQLiteDurability refuses settings under which a committed (and so
// acknowledged) objection could be lost by a crash or power cut.
func (db *DB) checkSQLiteDurability(ctx context.Context) error {
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: open %s: %w", db.path, err)
	}
	var sync int
	if err := db.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("store: open %s: %w", db.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: %s: journal_mode is %q, not WAL (is the file on a file system without shared memory?): refusing to run", db.path, mode)
	}
	if sync < 2 {
		return fmt.Errorf("store: %s: synchronous=%d, need FULL (2): refusing to run", db.path, sync)
	}
	return nil
}

// migrate applies the embedded migrations that are not yet recorded, each in
// its own transaction, in file-name order. Only when creating may it make
// the version table; Open has checked that the store has it.
func (db *DB) migrate(ctx context.Context, create bool) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	sort.Strings(files)
	if db.dialect == Postgres {
		// One migrator at a time across instances: a session-level
		// advisory lock on a connection held for the whole migration.
		conn, err := db.w.Conn(ctx)
		if err != nil {
			return fmt.Errorf("store: migrations: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	}
	if create {
		if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("store: migrations table: %w", err)
		}
	}
	var current int64
	if err := db.w.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	latest := int64(0)
	for _, f := range files {
		v, name, err := migrationVersion(f)
		if err != nil {
			return err
		}
		// Versions run 1, 2, 3 … without a gap or a repeat: two files of one
		// version (two branches merged) would apply only one of them.
		if v != latest+1 {
			return fmt.Errorf("store: migration %s has version %d, want %d", f, v, latest+1)
		}
		latest = v
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return fmt.Errorf("store: read %s: %w", f, err)
		}
		if err := db.applyMigration(ctx, v, name, string(body)); err != nil {
			return err
		}
	}
	if current > latest {
		return fmt.Errorf("store: the database has schema version %d, this binary knows up to %d: use a newer notrain", current, latest)
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, v int64, name, body string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	defer tx.Rollback()
	// Another process may have migrated while we waited for the write lock.
	var done int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", v).Scan(&done); err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	if done > 0 {
		return nil
	}
	for _, stmt := range splitSQL(body) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", v, name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		v, name, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %d: commit: %w", v, err)
	}
	return nil
}

func migrationVersion(file string) (int64, string, error) {
	base := strings.TrimSuffix(filepath.Base(file), ".sql")
	num, name, ok := strings.Cut(base, "_")
	v, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || v <= 0 {
		return 0, "", fmt.Errorf("store: migration file %s is not named NNNN_name.sql", file)
	}
	return v, name, nil
}

// splitSQL splits a migration into statements at semicolons that end a line,
// dropping "--" comments. Migrations are ours, so this need not parse SQL.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimRight(line, " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(line, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}
