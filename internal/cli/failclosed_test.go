package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// TestFailsClosed runs every command in every situation of doubt it must
// refuse. Each case must exit non-zero with a clear message, and leave the
// world as it found it: no output, manifest, lineage or rejects file, no
// temporary file, no file created next to the store (no .db, -wal, -shm,
// .key, .eligibility or .ledger-checkpoint), no new ledger entry and no new
// key check.
//
// The cases, as the README's "Fails closed" section lists them:
//
//   - store: --db names a file that does not exist (filter, snapshot export,
//     ledger verify, serve without --init)
//   - store: --db names an empty (0-byte) file
//   - store: --db names a SQLite database without notrain's schema, or a
//     file that is no database at all
//   - store: --db names a PostgreSQL database without notrain's schema, or
//     with someone else's tables (filter, ledger verify, serve without --init;
//     serve --init too for the foreign one)
//   - store: a failed first import (a bad line, a missing file) leaves no
//     new store or key behind
//   - key: a key file other than the store's (accounts import, objections
//     import, serve)
//   - key: no key file for a store that already holds data
//   - directory: an account directory that was never imported, without
//     --allow-empty-directory
//   - time: --as-of before the store's eligibility head time
//   - time: --reproduce with a manifest the store never registered, with
//     another policy, or whose output no longer comes out the same
//   - snapshot: a --snapshot file older than the store's eligibility head
//   - snapshot: a corrupted or truncated --snapshot file
//   - input: an input that vanishes while the job runs, a truncated
//     compressed input
//   - output: an output directory that cannot be written
//   - output: colliding paths (--out = --manifest, --out = --lineage,
//     --manifest = --rejects, an output onto the store or its key)
//   - output: --lineage names an existing directory
//   - register: the store refuses to register the snapshot after every
//     output was written (the outputs are taken back, files they replaced
//     restored)
//
// A corrupted or truncated eligibility cache is not trusted either; as it
// is derived data, the run rebuilds it from the store instead of failing
// (TestDamagedCacheIsRebuilt).
func TestFailsClosed(t *testing.T) {
	type env struct {
		dir, db string // db is a SQLite path or a PostgreSQL DSN
	}
	withAccounts := func(t *testing.T) env { dir, db := filterEnv(t); return env{dir, db} }
	withObjection := func(t *testing.T) env {
		e := withAccounts(t)
		obj := objectionsFile(t, e.dir, `{"email":"anna@example.de","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`+"\n")
		if code, _, stderr := run(t, e.dir, nil, "objections", "import", obj, "--db", e.db); code != 0 {
			t.Fatal(stderr)
		}
		return e
	}
	bare := func(t *testing.T) env {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "content.jsonl"), content)
		return env{dir, filepath.Join(dir, "n.db")}
	}
	pgEmpty := func(t *testing.T) env { e := bare(t); e.db = dbtest.Postgres(t); return e }
	pgForeign := func(t *testing.T) env {
		e := pgEmpty(t)
		raw := dbtest.Raw(t, e.db)
		if _, err := raw.Exec("CREATE TABLE notes (id BIGINT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		return e
	}
	filterIn := func(e env, extra ...string) []string { return filterArgs(e.dir, e.db, extra...) }
	exported := func(t *testing.T, e env) string {
		snap := filepath.Join(t.TempDir(), "snap.bin")
		if code, _, stderr := run(t, e.dir, nil, "snapshot", "export", "--out", snap, "--db", e.db); code != 0 {
			t.Fatal(stderr)
		}
		return snap
	}
	// registered builds and registers one snapshot and returns its
	// manifest, moved out of the way of the next run.
	registered := func(t *testing.T, e env) string {
		if code, _, stderr := run(t, e.dir, nil, filterIn(e, "--as-of", "2026-01-01T00:00:00Z")...); code != 0 {
			t.Fatal(stderr)
		}
		m := filepath.Join(t.TempDir(), "registered.json")
		if err := os.Rename(filepath.Join(e.dir, "manifest.json"), m); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"out.jsonl", "out.lineage.jsonl"} {
			os.Remove(filepath.Join(e.dir, f))
		}
		return m
	}
	otherKey := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "other.key")
		if err := os.WriteFile(path, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	cases := []struct {
		name  string
		setup func(t *testing.T) (env, []string)
		want  string
	}{
		{"filter: store does not exist", func(t *testing.T) (env, []string) {
			e := bare(t)
			return e, filterIn(e)
		}, "does not exist"},
		{"snapshot export: store does not exist", func(t *testing.T) (env, []string) {
			e := bare(t)
			return e, []string{"snapshot", "export", "--out", filepath.Join(e.dir, "snap.bin"), "--db", e.db}
		}, "does not exist"},
		{"ledger verify: store does not exist", func(t *testing.T) (env, []string) {
			e := bare(t)
			return e, []string{"ledger", "verify", "--db", e.db}
		}, "does not exist"},
		{"serve without --init: store does not exist", func(t *testing.T) (env, []string) {
			e := bare(t)
			return e, []string{"serve", "--db", e.db, "--addr", "127.0.0.1:0"}
		}, "--init"},
		{"filter: store's directory does not exist", func(t *testing.T) (env, []string) {
			e := bare(t)
			return e, filterArgs(e.dir, filepath.Join(e.dir, "no", "such", "n.db"))
		}, "does not exist"},
		{"filter: empty store file", func(t *testing.T) (env, []string) {
			e := bare(t)
			writeFile(t, e.db, "")
			return e, filterIn(e)
		}, "is empty"},
		{"ledger verify: empty store file", func(t *testing.T) (env, []string) {
			e := bare(t)
			writeFile(t, e.db, "")
			return e, []string{"ledger", "verify", "--db", e.db}
		}, "is empty"},
		{"filter: SQLite database without notrain's schema", func(t *testing.T) (env, []string) {
			e := bare(t)
			raw := dbtest.Raw(t, e.db)
			if _, err := raw.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			return e, filterIn(e)
		}, "no notrain schema"},
		{"filter: a file that is no database", func(t *testing.T) (env, []string) {
			e := bare(t)
			writeFile(t, e.db, "these are my notes, not a database; please do not touch them\n")
			return e, filterIn(e)
		}, "no notrain schema"},
		{"accounts import: SQLite database without notrain's schema", func(t *testing.T) (env, []string) {
			e := bare(t)
			raw := dbtest.Raw(t, e.db)
			if _, err := raw.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			return e, []string{"accounts", "import", writeFile(t, filepath.Join(t.TempDir(), "a.jsonl"), fixture.Accounts), "--db", e.db}
		}, "no notrain schema"},
		{"accounts import: a bad file into a new store", func(t *testing.T) (env, []string) {
			e := bare(t)
			bad := writeFile(t, filepath.Join(t.TempDir(), "a.jsonl"), fixture.Accounts+`{"product":"myspace","account_id":"u9"}`+"\n")
			return e, []string{"accounts", "import", bad, "--db", e.db}
		}, "nothing was imported"},
		{"objections import: a file that does not exist, into a new store", func(t *testing.T) (env, []string) {
			e := bare(t)
			return e, []string{"objections", "import", filepath.Join(e.dir, "typo.jsonl"), "--db", e.db}
		}, "typo.jsonl"},
		{"filter: PostgreSQL database without notrain's schema", func(t *testing.T) (env, []string) {
			e := pgEmpty(t)
			return e, filterIn(e)
		}, "no notrain schema"},
		{"ledger verify: PostgreSQL database without notrain's schema", func(t *testing.T) (env, []string) {
			e := pgEmpty(t)
			return e, []string{"ledger", "verify", "--db", e.db}
		}, "no notrain schema"},
		{"serve without --init: PostgreSQL database without notrain's schema", func(t *testing.T) (env, []string) {
			e := pgEmpty(t)
			return e, []string{"serve", "--db", e.db, "--addr", "127.0.0.1:0", "--secret", strings.Repeat("ab", 32)}
		}, "--init"},
		{"serve --init: PostgreSQL database with someone else's tables", func(t *testing.T) (env, []string) {
			e := pgForeign(t)
			return e, []string{"serve", "--init", "--db", e.db, "--addr", "127.0.0.1:0", "--secret", strings.Repeat("ab", 32)}
		}, "no notrain schema"},
		{"filter: PostgreSQL database with someone else's tables", func(t *testing.T) (env, []string) {
			e := pgForeign(t)
			return e, filterIn(e)
		}, "no notrain schema"},
		{"accounts import: another key file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, []string{"accounts", "import", filepath.Join(e.dir, "a.jsonl"), "--db", e.db, "--key-file", otherKey(t)}
		}, "does not match"},
		{"objections import: another key", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			obj := objectionsFile(t, e.dir, `{"email":"anna@example.de","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`+"\n")
			return e, []string{"objections", "import", obj, "--db", e.db, "--secret", strings.Repeat("cd", 32)}
		}, "does not match"},
		{"serve: another key file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, []string{"serve", "--db", e.db, "--addr", "127.0.0.1:0", "--key-file", otherKey(t)}
		}, "does not match"},
		{"accounts import: key file missing for a store with data", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			os.Remove(e.db + ".key")
			return e, []string{"accounts", "import", filepath.Join(e.dir, "a.jsonl"), "--db", e.db}
		}, "does not exist, but the store already holds data"},
		{"serve: key file missing for a store with data", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			os.Remove(e.db + ".key")
			return e, []string{"serve", "--db", e.db, "--addr", "127.0.0.1:0"}
		}, "does not exist, but the store already holds data"},
		{"filter: account directory never imported", func(t *testing.T) (env, []string) {
			e := bare(t)
			db, err := store.Create(context.Background(), e.db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			return e, filterIn(e)
		}, "--allow-empty-directory"},
		{"filter: --as-of before the eligibility head time", func(t *testing.T) (env, []string) {
			e := withObjection(t)
			return e, filterIn(e, "--as-of", "2025-05-20T07:59:59Z")
		}, "before 2025-05-20T08:00:00Z"},
		{"filter: --as-of before the head time, from an exported snapshot alone", func(t *testing.T) (env, []string) {
			e := withObjection(t)
			snap := exported(t, e)
			return e, []string{"filter", "--in", filepath.Join(e.dir, "content.jsonl"), "--out", filepath.Join(e.dir, "out.jsonl"),
				"--manifest", filepath.Join(e.dir, "manifest.json"), "--snapshot", snap, "--as-of", "2025-05-20T07:59:59Z"}
		}, "--reproduce"},
		{"filter: --reproduce a snapshot the store never registered", func(t *testing.T) (env, []string) {
			e := withObjection(t)
			m := registered(t, e)
			b, _ := os.ReadFile(m)
			os.WriteFile(m, bytes.Replace(b, []byte(`"snapshot_id": "snap_`), []byte(`"snapshot_id": "snap_x`), 1), 0o644)
			return e, filterIn(e, "--reproduce", m)
		}, "not registered"},
		{"filter: --reproduce with another policy", func(t *testing.T) (env, []string) {
			e := withObjection(t)
			m := registered(t, e)
			pol := writeFile(t, filepath.Join(t.TempDir(), "p.yaml"), "third_party: keep\n")
			return e, filterIn(e, "--reproduce", m, "--policy", pol)
		}, "policy sha256"},
		{"filter: --reproduce when the output no longer comes out the same", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			m := registered(t, e)
			// anna objects effective before the registered snapshot's as-of
			// (an objection received by letter, imported late).
			obj := objectionsFile(t, e.dir, `{"email":"anna@example.de","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`+"\n")
			if code, _, stderr := run(t, e.dir, nil, "objections", "import", obj, "--db", e.db); code != 0 {
				t.Fatal(stderr)
			}
			return e, filterIn(e, "--reproduce", m)
		}, "FAILED"},
		{"filter: --snapshot older than the store's eligibility head", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			snap := exported(t, e)
			obj := objectionsFile(t, e.dir, `{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`+"\n")
			if code, _, stderr := run(t, e.dir, nil, "objections", "import", obj, "--db", e.db); code != 0 {
				t.Fatal(stderr)
			}
			return e, filterIn(e, "--snapshot", snap)
		}, "export a new one"},
		{"filter: corrupted --snapshot file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			snap := exported(t, e)
			b, _ := os.ReadFile(snap)
			b[len(b)/2] ^= 1
			os.WriteFile(snap, b, 0o644)
			return e, filterIn(e, "--snapshot", snap)
		}, "snapshot"},
		{"filter: truncated --snapshot file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			snap := exported(t, e)
			b, _ := os.ReadFile(snap)
			os.WriteFile(snap, b[:len(b)-10], 0o644)
			return e, []string{"filter", "--in", filepath.Join(e.dir, "content.jsonl"), "--out", filepath.Join(e.dir, "out.jsonl"),
				"--manifest", filepath.Join(e.dir, "manifest.json"), "--snapshot", snap}
		}, "snapshot"},
		{"filter: an input vanishes while the job runs", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, filterIn(e, "--in", filepath.Join(e.dir, "gone.jsonl"))
		}, "gone.jsonl"},
		{"filter: truncated compressed input", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			var buf bytes.Buffer
			gzipped(t, &buf, strings.Repeat(content, 50))
			in := writeFile(t, filepath.Join(e.dir, "content.jsonl.gz"), buf.String()[:buf.Len()/2])
			return e, []string{"filter", "--in", in, "--out", filepath.Join(e.dir, "out.jsonl"), "--manifest", filepath.Join(e.dir, "manifest.json"),
				"--db", e.db, "--progress", "never"}
		}, "content.jsonl.gz"},
		{"filter: output directory cannot be written", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			// A file where the directory should be stops even root.
			notDir := writeFile(t, filepath.Join(e.dir, "not-a-dir"), "")
			return e, filterIn(e, "--out", filepath.Join(notDir, "out.jsonl"), "--lineage", filepath.Join(e.dir, "out.lineage.jsonl"))
		}, "not-a-dir"},
		{"filter: --out and --manifest name one file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, filterIn(e, "--manifest", filepath.Join(e.dir, ".", "out.jsonl"))
		}, "both name"},
		{"filter: --out and --lineage name one file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, filterIn(e, "--lineage", filepath.Join(e.dir, "sub", "..", "out.jsonl"))
		}, "both name"},
		{"filter: --manifest and --rejects name one file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, filterIn(e, "--rejects", filepath.Join(e.dir, "manifest.json"))
		}, "both name"},
		{"filter: an output onto the store", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, filterIn(e, "--manifest", e.db)
		}, "would be overwritten"},
		{"filter: an output onto the key file", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			return e, filterIn(e, "--rejects", e.db+".key")
		}, "would be overwritten"},
		{"filter: registering the snapshot fails", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			refuseRegistration(t, e.db)
			return e, filterIn(e)
		}, "register snapshot"},
		{"filter: registering fails, the outputs it replaced come back", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			for _, f := range []string{"out.jsonl", "manifest.json", "out.lineage.jsonl"} {
				writeFile(t, filepath.Join(e.dir, f), "the previous snapshot's "+f+"\n")
			}
			refuseRegistration(t, e.db)
			return e, filterIn(e)
		}, "register snapshot"},
		{"filter: --lineage names an existing directory", func(t *testing.T) (env, []string) {
			e := withAccounts(t)
			lin := filepath.Join(e.dir, "lineage")
			if err := os.Mkdir(lin, 0o755); err != nil {
				t.Fatal(err)
			}
			return e, filterIn(e, "--lineage", lin)
		}, "is a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, args := tc.setup(t)
			before := worldState(t, e.dir, e.db)
			code, _, stderr := run(t, e.dir, nil, args...)
			if code == 0 {
				t.Fatalf("exit 0, stderr %q", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", stderr, tc.want)
			}
			if after := worldState(t, e.dir, e.db); !slices.Equal(after, before) {
				t.Errorf("the run changed the world:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// refuseRegistration makes the database itself refuse to register a
// snapshot, the last step of a filter run.
func refuseRegistration(t *testing.T, db string) {
	t.Helper()
	raw := dbtest.Raw(t, db)
	if _, err := raw.Exec(`CREATE TRIGGER no_snapshots BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'the disk says no'); END`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
}

// worldState lists the files in dir and beside a SQLite store, and the
// store's ledger length and key check, for before/after comparisons.
func worldState(t *testing.T, dir, db string) []string {
	t.Helper()
	var out []string
	dirs := []string{dir}
	if !store.IsPostgres(db) && filepath.Dir(db) != dir {
		dirs = append(dirs, filepath.Dir(db))
	}
	for _, d := range dirs {
		es, err := os.ReadDir(d)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range es {
			st, _ := e.Info()
			out = append(out, filepath.Join(d, e.Name())+" "+st.Mode().String()+" "+sizeOf(st))
		}
	}
	if st, err := os.Stat(db); store.IsPostgres(db) || err == nil && st.Size() > 0 {
		out = append(out, storeRows(t, db)...)
	}
	return out
}

func sizeOf(st os.FileInfo) string {
	if st.IsDir() {
		return "dir"
	}
	// The database file's size moves with checkpoints; its rows are compared.
	if strings.HasSuffix(st.Name(), ".db") {
		return "db"
	}
	return fmt.Sprint(st.Size(), " ", st.ModTime().UnixNano())
}

func gzipped(t *testing.T, w io.Writer, s string) {
	t.Helper()
	zw := gzip.NewWriter(w)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// storeRows reads the ledger length and key check directly, without
// notrain, and closes the connection so no -wal or -shm stays open.
func storeRows(t *testing.T, dsn string) []string {
	t.Helper()
	var raw *sql.DB
	var err error
	if store.IsPostgres(dsn) {
		raw, err = sql.Open("pgx", dsn)
	} else {
		// Read-write, so that closing the last connection removes the
		// -wal and -shm files a reader of a WAL database makes.
		raw, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(5000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var out []string
	for _, q := range []string{"SELECT COUNT(*) FROM ledger", "SELECT COUNT(*) FROM key_check", "SELECT COUNT(*) FROM snapshots", "SELECT COUNT(*) FROM accounts"} {
		var n int
		if err := raw.QueryRow(q).Scan(&n); err != nil {
			out = append(out, q+": no such table")
			continue
		}
		out = append(out, q+" = "+strings.Repeat("|", n))
	}
	return out
}

// A damaged eligibility cache is derived data: it is never trusted, and
// the run rebuilds it from the store and decides exactly as without it.
func TestDamagedCacheIsRebuilt(t *testing.T) {
	for name, damage := range map[string]func([]byte) []byte{
		"corrupted": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-10] },
		"empty":     func([]byte) []byte { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			dir, db := filterEnv(t)
			obj := objectionsFile(t, dir, `{"email":"anna@example.de","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`+"\n")
			if code, _, stderr := run(t, dir, nil, "objections", "import", obj, "--db", db); code != 0 {
				t.Fatal(stderr)
			}
			good, err := os.ReadFile(db + ".eligibility")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(db+".eligibility", damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := kept(t, dir); got != "c4 c5" {
				t.Fatalf("kept %q with a %s cache", got, name)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if !strings.Contains(string(b), `"source": "store"`) {
				t.Fatalf("manifest: %s", b)
			}
			if rebuilt, _ := os.ReadFile(db + ".eligibility"); !bytes.Equal(rebuilt, good) {
				t.Fatal("the cache was not rebuilt")
			}
		})
	}
}

// A store from before key checks were kept adopts the first key it is
// opened with, then refuses any other.
func TestKeyCheckIsRecordedForAnOlderStore(t *testing.T) {
	dir, db := filterEnv(t)
	raw := dbtest.Raw(t, db)
	if _, err := raw.Exec("DELETE FROM key_check"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	accts := filepath.Join(dir, "a.jsonl")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", accts, "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	if n := count(t, db, "key_check"); n != 1 {
		t.Fatalf("%d key checks recorded", n)
	}
	if code, _, stderr := run(t, dir, nil, "accounts", "import", accts, "--db", db, "--secret", strings.Repeat("77", 32)); code == 0 || !strings.Contains(stderr, "does not match") {
		t.Fatalf("another key: exit %d, %s", code, stderr)
	}
}
