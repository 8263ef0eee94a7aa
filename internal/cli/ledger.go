package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/translog"
)

func ledgerVerify(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var checkpoint, since, key string
	var noUpdate bool
	f := newFlags("ledger verify", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&checkpoint, "checkpoint", "", "file holding the last verified head (default <db>.ledger-checkpoint; none for PostgreSQL unless given)")
	f.BoolVar(&noUpdate, "no-update", false, "do not advance the checkpoint after a successful verification")
	f.StringVar(&since, "since", "", "a signed log checkpoint kept earlier (e.g. from GET /log/checkpoint): prove the log only grew since")
	f.StringVar(&key, "key", "", "the log's verifier key, or a file holding it (default: the key the store records)")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{"usage: notrain ledger verify [--db …] [--checkpoint FILE] [--since CHECKPOINT_FILE] [--key KEY]"}
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
	head, err := snapshot.VerifyLedger(ctx, db, cp, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "ledger intact: %d entries, head %d %s\n", head.Seq, head.Seq, head.Hash)
	if cp != nil {
		fmt.Fprintf(env.Stdout, "checkpoint %d found unchanged on the chain\n", cp.Seq)
	}
	if err := verifyLog(ctx, &s, db, key, since, env.Stdout); err != nil {
		return err
	}
	if checkpoint != "" && !noUpdate {
		if err := ledger.WriteCheckpoint(checkpoint, head); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "checkpoint advanced to %d (%s)\n", head.Seq, checkpoint)
	}
	return nil
}

// verifyLog checks the verifiable log against the ledger: the stored tree
// is the one the entries make, the latest checkpoint is signed by the log
// key and names that tree, and, with since, that an earlier checkpoint's
// tree is a prefix of today's (a consistency proof, and the entries
// themselves rebuilding the earlier root).
func verifyLog(ctx context.Context, s *storeFlags, db *store.DB, keyArg, since string, out io.Writer) error {
	v, source, err := s.verifier(ctx, db, keyArg)
	if err != nil {
		return err
	}
	var earlier []translog.Checkpoint
	if since != "" {
		b, err := os.ReadFile(since)
		if err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		old, err := translog.OpenCheckpoint(b, v)
		if err != nil {
			return fmt.Errorf("--since %s: %w", since, err)
		}
		earlier = append(earlier, old)
	}
	st, err := db.VerifyLog(ctx, v, earlier...)
	if err != nil {
		return fmt.Errorf("log BROKEN: %w", err)
	}
	fmt.Fprintf(out, "log intact: %d leaves, root %s; checkpoint of %d leaves signed by %s\n",
		st.Size, translog.Checkpoint{Root: st.Root}.RootText(), st.Checkpoint.Size, v.Name())
	fmt.Fprintf(out, "  key: %s\n", source)
	for _, old := range earlier {
		proof, err := db.ProveConsistency(ctx, st.Checkpoint.Size, old.Size)
		if err != nil {
			return fmt.Errorf("log BROKEN: %w", err)
		}
		if err := translog.CheckGrowth(old, st.Checkpoint, proof); err != nil {
			return fmt.Errorf("log BROKEN: %w", err)
		}
		fmt.Fprintf(out, "the log only grew since the checkpoint of %d leaves: consistency proof verified\n", old.Size)
	}
	return nil
}
