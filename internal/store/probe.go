package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// checkSQLiteFile decides, before the driver touches path (opening it would
// create the file, and switching to WAL would add -wal and -shm files next
// to it), whether path may be opened: an existing notrain store always, a
// missing or empty file only when creating.
func checkSQLiteFile(path string, create bool) error {
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("store: %q: give the path of a database file (in-memory databases lose acknowledged objections)", path)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if create {
			return nil
		}
		return fmt.Errorf("store: %s does not exist: %w", path, ErrNoStore)
	case err != nil:
		return fmt.Errorf("store: %w", err)
	case st.IsDir():
		return fmt.Errorf("store: %s is a directory: %w", path, ErrNoStore)
	case st.Size() == 0:
		if create {
			return nil
		}
		return fmt.Errorf("store: %s is empty: %w", path, ErrNoStore)
	}
	ours, err := sqliteHasSchema(path)
	if err != nil {
		return err
	}
	if !ours {
		return fmt.Errorf("store: %s holds no notrain schema: %w; refusing to use it", path, ErrNoStore)
	}
	return nil
}

// sqliteHasSchema reports whether a non-empty file is a SQLite database
// with notrain's first migration recorded. It opens the file read-only and,
// unless a -wal file shows the database is live, immutable, so that probing
// a foreign file creates nothing next to it.
func sqliteHasSchema(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	head := make([]byte, len(sqliteMagic))
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || !bytes.Equal(head, []byte(sqliteMagic)) {
		return false, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	q := "mode=ro"
	if _, err := os.Stat(abs + "-wal"); err != nil {
		q += "&immutable=1"
	}
	probe, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+q+"&_pragma=busy_timeout(10000)")
	if err != nil {
		return false, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer probe.Close()
	ctx := context.Background()
	var n int
	if err := probe.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'ledger_head')").Scan(&n); err != nil {
		// Not a readable database (a damaged header, say): not ours to use.
		return false, nil
	}
	if n != 2 {
		return false, nil
	}
	var name string
	err = probe.QueryRowContext(ctx, "SELECT name FROM schema_migrations WHERE version = 1").Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", path, err)
	}
	return name == "init", nil
}

// checkPostgresSchema refuses a database without notrain's schema unless
// creating, and even then one that holds tables of something else.
func (db *DB) checkPostgresSchema(ctx context.Context, create bool) error {
	var ours bool
	err := db.r.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL AND to_regclass('ledger_head') IS NOT NULL`).Scan(&ours)
	if err != nil {
		return fmt.Errorf("store: PostgreSQL schema: %w", err)
	}
	if ours {
		var name string
		err := db.r.QueryRowContext(ctx, "SELECT name FROM schema_migrations WHERE version = 1").Scan(&name)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: PostgreSQL schema: %w", err)
		}
		if name == "init" {
			return nil
		}
		return fmt.Errorf("store: the PostgreSQL database holds no notrain schema: %w; refusing to use it", ErrNoStore)
	}
	if !create {
		return fmt.Errorf("store: the PostgreSQL database holds no notrain schema: %w", ErrNoStore)
	}
	var tables int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&tables); err != nil {
		return fmt.Errorf("store: PostgreSQL schema: %w", err)
	}
	if tables > 0 {
		return fmt.Errorf("store: the PostgreSQL database holds %d tables but no notrain schema: %w; refusing to add ours to it", tables, ErrNoStore)
	}
	return nil
}
