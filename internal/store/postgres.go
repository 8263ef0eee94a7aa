package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrationLock is the advisory lock id under which PostgreSQL migrations
// run, so instances starting together do not migrate twice.
const migrationLock = 7_170_201

// openPostgres connects through pgx. Every session is pinned to
// synchronous_commit=on whatever the role's default, and the server's fsync
// must be on: an acknowledged objection must survive a crash of the
// database server too.
func openPostgres(ctx context.Context, dsn string, maxConns int) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL URL: %w", err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["synchronous_commit"] = "on"
	cfg.RuntimeParams["application_name"] = "notrain"
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{dialect: Postgres, w: pool, r: pool}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	if err := db.checkPostgresDurability(pctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) checkPostgresDurability(ctx context.Context) error {
	for setting, ok := range map[string]func(string) bool{
		"fsync":              func(v string) bool { return v == "on" },
		"synchronous_commit": func(v string) bool { return v == "on" || v == "remote_apply" },
		"full_page_writes":   func(v string) bool { return v == "on" },
	} {
		var v string
		if err := db.r.QueryRowContext(ctx, "SHOW "+setting).Scan(&v); err != nil {
			return fmt.Errorf("store: PostgreSQL: SHOW %s: %w", setting, err)
		}
		if !ok(strings.ToLower(v)) {
			return fmt.Errorf("store: PostgreSQL runs with %s=%s: a crash could lose acknowledged objections; refusing to run", setting, v)
		}
	}
	return nil
}

// readTx opens a read-only transaction that sees one snapshot for all its
// statements: a REPEATABLE READ transaction on PostgreSQL (its default,
// READ COMMITTED, takes a new snapshot per statement), a plain read
// transaction on SQLite, whose WAL readers keep one snapshot anyway.
func (db *DB) readTx(ctx context.Context) (*sql.Tx, error) {
	if db.dialect == Postgres {
		return db.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	return db.r.BeginTx(ctx, nil)
}
