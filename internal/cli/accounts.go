package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"

	"github.com/notrain/notrain/internal/account"
)

// openImport opens an import file, the store and the keys; done closes them.
func (s *storeFlags) openImport(ctx context.Context, env Env, path string) (*os.File, *store.DB, *secret.Keys, func(), error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// Imports are the one way besides serve --init to make a store.
	db, err := s.create(ctx)
	if err != nil {
		in.Close()
		return nil, nil, nil, nil, err
	}
	log, _ := newLogger(env, "info")
	keys, err := s.keys(ctx, db, log)
	if err != nil {
		in.Close()
		db.Close()
		return nil, nil, nil, nil, err
	}
	return in, db, keys, func() { in.Close(); db.Close() }, nil
}

func accountsImport(ctx context.Context, args []string, env Env) error {
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
	defer done()
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
	if err := refreshCache(ctx, db); err != nil {
		fmt.Fprintf(env.Stderr, "notrain: eligibility cache not refreshed: %v\n", err)
	}
	return nil
}
