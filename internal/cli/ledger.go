package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
)

func ledgerVerify(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var checkpoint string
	var noUpdate bool
	f := newFlags("ledger verify", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&checkpoint, "checkpoint", "", "file holding the last verified head (default <db>.ledger-checkpoint; none for PostgreSQL unless given)")
	f.BoolVar(&noUpdate, "no-update", false, "do not advance the checkpoint after a successful verification")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{"usage: notrain ledger verify [--db …] [--checkpoint FILE]"}
	}
	if checkpoint == "" && !store.IsPostgres(s.db) {
		checkpoint = s.db + ".ledger-checkpoint"
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var cp *ledger.Head
	if checkpoint != "" {
		if cp, err = ledger.ReadCheckpoint(checkpoint); err != nil {
			return err
		}
	}
	head, err := db.VerifyLedger(ctx, cp)
	var bad *ledger.BadEntryError
	if errors.As(err, &bad) {
		return fmt.Errorf("ledger BROKEN at entry %d: %s", bad.Seq, bad.Reason)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ledger intact: %d entries, head %d %s\n", head.Seq, head.Seq, head.Hash)
	if cp != nil {
		fmt.Fprintf(env.Stdout, "checkpoint %d found unchanged on the chain\n", cp.Seq)
	}
	if checkpoint != "" && !noUpdate {
		if err := ledger.WriteCheckpoint(checkpoint, head); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "checkpoint advanced to %d (%s)\n", head.Seq, checkpoint)
	}
	return nil
}
