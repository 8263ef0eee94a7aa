package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/snapshot"
)

// objectionsImport records objections received by other channels.
func objectionsImport(ctx context.Context, args []string, env Env) (err error) {
	var s storeFlags
	f := newFlags("objections import", env.LookupEnv, env.Stderr)
	s.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usageError{"usage: notrain objections import FILE.jsonl [--db …]"}
	}
	path := f.args[0]
	in, db, keys, done, err := s.openImport(ctx, env, path)
	if err != nil {
		return err
	}
	defer func() { done(err != nil) }()
	cat, err := locale.Load()
	if err != nil {
		return err
	}
	svc, err := objection.New(db, keys, cat, nil, nil, objection.Config{Now: env.Now})
	if err != nil {
		return err
	}
	res, err := svc.Import(ctx, in, filepath.Base(path))
	if err != nil {
		return fmt.Errorf("%s: %w (nothing was imported)", path, err)
	}
	fmt.Fprintf(env.Stdout, "imported %d objections from %s (ledger up to entry %d)\n", res.Records, path, res.LedgerSeq)
	if err := snapshot.RefreshCache(ctx, db); err != nil {
		fmt.Fprintf(env.Stderr, "notrain: eligibility cache not refreshed: %v\n", err)
	}
	return nil
}
