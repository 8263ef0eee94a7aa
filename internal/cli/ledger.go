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
	head, err := verifyLedger(ctx, db, cp, true)
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

// verifyLedger verifies the chain up to its head and that the checkpoint
// cp (when not nil) and every head in mustHold are still on it. full
// rechecks every entry; otherwise only those after the checkpoint, which
// were verified when it was written. A broken chain is reported as
// "ledger BROKEN at entry N (reason)".
func verifyLedger(ctx context.Context, db *store.DB, cp *ledger.Head, full bool, mustHold ...*ledger.Head) (ledger.Head, error) {
	var head ledger.Head
	var err error
	if full {
		head, err = db.VerifyLedger(ctx, append([]*ledger.Head{cp}, mustHold...)...)
	} else {
		head, err = db.VerifyLedgerFrom(ctx, cp, mustHold...)
	}
	var bad *ledger.BadEntryError
	if errors.As(err, &bad) {
		return head, fmt.Errorf("ledger BROKEN at entry %d (%s)", bad.Seq, bad.Reason)
	}
	if err != nil {
		return head, fmt.Errorf("ledger: %w", err)
	}
	return head, nil
}
