package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"

	"github.com/notrain/notrain/internal/account"
)

// openImport opens an import file, the store and the keys; done closes
// them. Imports are the one way besides serve --init to make a store; a
// SQLite store (and key file) that this import created is removed again
// by done(true), so a failed first import leaves nothing behind.
func (s *storeFlags) openImport(ctx context.Context, env Env, path string) (*os.File, *store.DB, *secret.Keys, func(failed bool), error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var fresh []string // files this import makes, to remove if it fails
	if !store.IsPostgres(s.db) {
		if st, err := os.Stat(s.db); err != nil || st.Size() == 0 {
			for _, suffix := range []string{"", "-wal", "-shm", ".eligibility", ".ledger-checkpoint"} {
				if suffix == "" || !fileExists(s.db+suffix) {
					fresh = append(fresh, s.db+suffix)
				}
			}
			if kp, err := s.keyPath(); err == nil && kp != "" && !fileExists(kp) {
				fresh = append(fresh, kp)
			}
			if lp, err := s.logKeyPath(); err == nil && !fileExists(lp) {
				fresh = append(fresh, lp)
			}
		}
	}
	db, err := s.create(ctx)
	if err != nil {
		in.Close()
		return nil, nil, nil, nil, err
	}
	done := func(failed bool) {
		in.Close()
		db.Close()
		if failed {
			for _, f := range fresh {
				os.Remove(f)
			}
		}
	}
	log, _ := newLogger(env, "info")
	keys, err := s.keys(ctx, db, log)
	if err != nil {
		done(true)
		return nil, nil, nil, nil, err
	}
	if _, err := s.loadLogKey(ctx, db, log, defaultOrigin); err != nil {
		done(true)
		return nil, nil, nil, nil, err
	}
	return in, db, keys, done, nil
}

// fileExists reports whether path names anything.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func accountsImport(ctx context.Context, args []string, env Env) (err error) {
	var s storeFlags
	f := newFlags("accounts import", env.LookupEnv, env.Stderr)
	s.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usageError{"usage: notrain accounts import FILE.jsonl [--db …]"}
	}
	path := f.args[0]
	in, db, keys, done, err := s.openImport(ctx, env, path)
	if err != nil {
		return err
	}
	defer func() { done(err != nil) }()
	// Validate the whole file before touching the store: all or nothing.
	parsed, err := account.Parse(in, keys)
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was imported)", path, err)
	}
	res, err := account.Store(ctx, db, parsed, filepath.Base(path), env.Now())
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was imported)", path, err)
	}
	fmt.Fprintf(env.Stdout, "imported %d accounts from %s: %d new, %d updated, %d unchanged (ledger entry %d)\n",
		res.Records, path, res.Inserted, res.Updated, res.Unchanged, res.LedgerSeq)
	// The import is committed; a failed cache refresh only means the next
	// filter run builds it.
	if err := snapshot.RefreshCache(ctx, db); err != nil {
		fmt.Fprintf(env.Stderr, "notrain: eligibility cache not refreshed: %v\n", err)
	}
	return nil
}
