package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/filter"
)

// evidenceExport writes the signed evidence of one reference number.
func evidenceExport(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var out, operator string
	f := newFlags("evidence", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&out, "out", "", "write the export to this file (default: standard output)")
	f.StringVar(&operator, "operator", "cli", "who exports: named in the export, by pseudonym in the public ledger (default cli, as for every command-line action; never the login)")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usageError{"usage: notrain evidence REFERENCE [--db …] [--out FILE] [--operator NAME]"}
	}
	// Never taken from the login: the public ledger would carry an
	// account of a machine. Command-line actions are "cli" unless named.
	if strings.TrimSpace(operator) == "" {
		return usageError{"--operator needs a name"}
	}
	// The file is started first: an export is recorded in the ledger, so
	// a target that cannot be written must fail before anything is.
	var tmp *filter.Temp
	if out != "" {
		var err error
		if tmp, err = filter.CreateTemp(out, digest.Default); err != nil {
			return err
		}
		defer tmp.Remove()
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := s.keys(ctx, db, nil)
	if err != nil {
		return err
	}
	logKey, err := s.existingLogKey(ctx, db)
	if err != nil {
		return err
	}
	doc, err := evidence.New(db, keys, logKey, env.Now).Export(ctx, f.args[0], operator)
	if err != nil {
		return err
	}
	if tmp == nil {
		_, err := env.Stdout.Write(doc)
		return err
	}
	if _, err := tmp.Write(doc); err != nil {
		return err
	}
	if _, err := tmp.Close(); err != nil {
		return err
	}
	in, err := filter.Install(tmp)
	if err != nil {
		return err
	}
	in.Done()
	fmt.Fprintf(env.Stderr, "evidence of %s written to %s\n", f.args[0], out)
	return nil
}
