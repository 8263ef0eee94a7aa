package cli

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
)

// snapshotExport writes the eligibility snapshot to a compact file, after
// verifying the ledger, for filter runs far from the database.
func snapshotExport(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var out string
	f := newFlags("snapshot export", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&out, "out", "", "file to write")
	if err := f.parse(args); err != nil {
		return err
	}
	if out == "" || len(f.args) > 0 {
		return usageError{"usage: notrain snapshot export --out FILE [--db …]"}
	}
	if !store.IsPostgres(s.db) {
		for _, suffix := range []string{"", "-wal", "-shm", ".key", ".ledger-checkpoint"} {
			if canonicalPath(out) == canonicalPath(s.db+suffix) {
				return usageError{fmt.Sprintf("--out %s would overwrite the store's %s", out, s.db+suffix)}
			}
		}
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	snap, err := snapshot.BuildEligibility(ctx, db)
	if err != nil {
		return err
	}
	var cp *ledger.Head
	if db.Path() != "" {
		if cp, err = ledger.ReadCheckpoint(db.Path() + ".ledger-checkpoint"); err != nil {
			return err
		}
	}
	if _, err := snapshot.VerifyLedger(ctx, db, cp, true, &snap.Head); err != nil {
		return fmt.Errorf("%w: no snapshot exported", err)
	}
	sum, err := eligibility.WriteFile(snap, out)
	if err != nil {
		return err
	}
	st := snap.Stats
	fmt.Fprintf(env.Stdout, "eligibility snapshot %s: ledger head %d %s, %d accounts, %d objections, %d consents, %d item exclusions, sha256 %s\n",
		out, snap.Head.Seq, snap.Head.Hash, st.Accounts, st.Objections, st.Consents, st.ItemExclusions, sum)
	return nil
}
