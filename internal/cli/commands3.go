package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/policy"
)

// policyCheck prints the effective policy and its hash, or why it is invalid.
func policyCheck(_ context.Context, args []string, env Env) error {
	f := newFlags("policy check", env.LookupEnv, env.Stderr)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 1 {
		return usageError{"usage: notrain policy check [FILE]"}
	}
	path := ""
	if len(f.args) == 1 {
		path = f.args[0]
	}
	p, err := policy.Load(path)
	if err != nil {
		return err
	}
	eff, err := p.Effective()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "# policy: %s\n# sha256: %s\n# rules can read: %s\n%s", p.Source, p.SHA256, policy.RuleVariables, eff)
	return nil
}

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
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	snap, err := db.BuildEligibility(ctx)
	if err != nil {
		return err
	}
	var cp *ledger.Head
	if db.Path() != "" {
		if cp, err = ledger.ReadCheckpoint(db.Path() + ".ledger-checkpoint"); err != nil {
			return err
		}
	}
	if _, err := verifyLedger(ctx, db, cp, true, &snap.Head); err != nil {
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
	if err := refreshCache(ctx, db); err != nil {
		fmt.Fprintf(env.Stderr, "notrain: eligibility cache not refreshed: %v\n", err)
	}
	return nil
}
