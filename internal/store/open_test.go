package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// Open never creates a store: a typo in --db must fail, not filter against
// an empty directory. Probing leaves no file behind.
func TestOpenRefusesWhatIsNoStore(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	raw := dbtest.Raw(t, foreign)
	if _, err := raw.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "text.db")
	if err := os.WriteFile(text, []byte("hello, this is not a database at all, but long enough\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := dirNames(t, dir)
	for _, path := range []string{filepath.Join(dir, "missing.db"), empty, foreign, text, dir} {
		if db, err := store.Open(ctx, path, store.Options{}); err == nil {
			db.Close()
			t.Errorf("Open(%s) succeeded", path)
		} else if !errors.Is(err, store.ErrNoStore) {
			t.Errorf("Open(%s) = %v, want ErrNoStore", path, err)
		}
	}
	if got := dirNames(t, dir); !slices.Equal(got, before) {
		t.Fatalf("files after refused opens: %v, before: %v", got, before)
	}
	// Create refuses someone else's database too, and creates a missing one.
	if db, err := store.Create(ctx, foreign, store.Options{}); err == nil {
		db.Close()
		t.Fatal("Create extended a foreign database")
	}
	fresh := filepath.Join(dir, "fresh.db")
	db, err := store.Create(ctx, fresh, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = store.Open(ctx, fresh, store.Options{}); err != nil {
		t.Fatalf("Open after Create: %v", err)
	}
	db.Close()
	// An empty file (say, made by touch) may become a store by Create.
	if db, err = store.Create(ctx, empty, store.Options{}); err != nil {
		t.Fatalf("Create on an empty file: %v", err)
	}
	db.Close()
}

func TestOpenRefusesPostgresWithoutSchema(t *testing.T) {
	dsn := dbtest.Postgres(t)
	if db, err := store.Open(ctx, dsn, store.Options{}); err == nil {
		db.Close()
		t.Fatal("Open on an empty PostgreSQL database succeeded")
	} else if !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("Open = %v", err)
	}
	var n int
	if err := dbtest.Raw(t, dsn).QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&n); err != nil || n != 0 {
		t.Fatalf("tables after a refused Open: %d, %v", n, err)
	}
	foreign := dbtest.Postgres(t)
	if _, err := dbtest.Raw(t, foreign).Exec("CREATE TABLE notes (id BIGINT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() (*store.DB, error){
		"Open":   func() (*store.DB, error) { return store.Open(ctx, foreign, store.Options{}) },
		"Create": func() (*store.DB, error) { return store.Create(ctx, foreign, store.Options{}) },
	} {
		if db, err := f(); err == nil {
			db.Close()
			t.Errorf("%s on a foreign database succeeded", name)
		}
	}
	db, err := store.Create(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = store.Open(ctx, dsn, store.Options{}); err != nil {
		t.Fatal(err)
	}
	db.Close()
}
