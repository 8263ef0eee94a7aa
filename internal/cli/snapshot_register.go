package cli

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/manifest"
	"github.com/notrain/notrain/internal/snapshot"
)

// snapshotRegister registers a snapshot built elsewhere (the Beam
// pipeline) from its manifest, and signs the manifest as filter does.
func snapshotRegister(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var man, data, checkpoint string
	f := newFlags("snapshot register", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&man, "manifest", "", "manifest of the snapshot (from the Beam pipeline)")
	f.StringVar(&data, "data", "", "directory holding the manifest's outputs and lineage sidecar (default: the paths the manifest names)")
	f.StringVar(&checkpoint, "checkpoint", "", "ledger checkpoint that must still be on the chain (default <db>.ledger-checkpoint if present)")
	if err := f.parse(args); err != nil {
		return err
	}
	if man == "" || len(f.args) > 0 {
		return usageError{"usage: notrain snapshot register --manifest FILE [--data DIR] [--db …]"}
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if checkpoint == "" && db.Path() != "" {
		checkpoint = db.Path() + ".ledger-checkpoint"
	}
	key, err := s.existingLogKey(ctx, db)
	if err != nil {
		return err
	}
	res, err := snapshot.Register(ctx, snapshot.RegisterOptions{
		Manifest: man, Data: data, DB: db, LedgerCheckpoint: checkpoint, Now: env.Now,
		SignManifest: func(sum [32]byte) ([]byte, error) { return manifest.Sign(key, sum) },
	})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(env.Stderr, "notrain: %s\n", w)
	}
	m := res.Manifest
	fmt.Fprintf(env.Stdout, "snapshot %s as of %s registered as ledger entry %d (%d outputs, manifest sha256 %s), signature %s\n",
		m.SnapshotID, m.AsOf, res.Entry.Seq, len(m.Outputs), res.ManifestSHA256, res.Signature)
	return nil
}
