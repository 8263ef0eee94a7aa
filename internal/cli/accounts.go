package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/notrain/notrain/internal/account"
)

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
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	log, _ := newLogger(env, "info")
	keys, err := s.keys(log)
	if err != nil {
		return err
	}
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
	if err := db.RefreshEligibilityCache(ctx); err != nil {
		fmt.Fprintf(env.Stderr, "notrain: eligibility cache not refreshed: %v\n", err)
	}
	return nil
}
