// Package dbtest runs tests against every store notrain supports: a fresh
// SQLite file always, and a fresh PostgreSQL database whenever
// NOTRAIN_TEST_POSTGRES names a server (postgres://user@host:port/db). CI
// sets NOTRAIN_REQUIRE_POSTGRES=1 so a missing server fails instead of
// skipping.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for raw access
	_ "modernc.org/sqlite"

	"github.com/notrain/notrain/internal/store"
)

// Each runs fn once per available store with a DSN for a fresh, empty database.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "notrain.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// Postgres returns the DSN of a fresh database, dropped when the test ends,
// or skips the test when no server is configured.
func Postgres(t testing.TB) string {
	t.Helper()
	server := os.Getenv("NOTRAIN_TEST_POSTGRES")
	if server == "" {
		if os.Getenv("NOTRAIN_REQUIRE_POSTGRES") == "1" {
			t.Fatal("NOTRAIN_REQUIRE_POSTGRES=1 but NOTRAIN_TEST_POSTGRES is not set")
		}
		t.Skip("PostgreSQL tests skipped: set NOTRAIN_TEST_POSTGRES=postgres://user@host:port/db to run them")
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("notrain_test_%x", rand.Uint64())
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database on %s: %v", redact(server), err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", server)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// IsPostgres reports whether a DSN names PostgreSQL, as the store decides it.
func IsPostgres(dsn string) bool { return store.IsPostgres(dsn) }

// Raw opens the same database directly, bypassing notrain, as an attacker or
// a careless operator could.
func Raw(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	var raw *sql.DB
	var err error
	if IsPostgres(dsn) {
		raw, err = sql.Open("pgx", dsn)
	} else {
		raw, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(5000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
