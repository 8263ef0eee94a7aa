package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/strictjson"
)

// checkPaths refuses outputs that collide: two outputs naming one file
// (--out X --manifest X, --out = --lineage), or an output naming a file
// the run reads (an input, the policy, the snapshot, the store and the files
// it keeps beside it). Paths are compared after filepath.Abs and Clean, and
// with symbolic links resolved where they exist.
func (c *filterConfig) checkPaths(dbGiven bool) error {
	type named struct{ flag, path string }
	outs := []named{{"--out", c.output}, {"--manifest", c.manifest}, {"--lineage", c.lineage}, {"--rejects", c.rejects}, {"--cpuprofile", c.cpuProfile}}
	var reads []named
	for _, in := range c.inputs {
		reads = append(reads, named{"--in", in})
	}
	reads = append(reads, named{"--policy", c.policy}, named{"--snapshot", c.snapshot}, named{"--reproduce", c.reproduce},
		named{"--key-file", c.keyFile}, named{"--checkpoint", c.checkpoint})
	if c.cache != "off" {
		reads = append(reads, named{"--eligibility-cache", c.cache})
	}
	if (c.snapshot == "" || dbGiven) && !store.IsPostgres(c.db) {
		for _, suffix := range []string{"", "-wal", "-shm", ".key", ".eligibility", ".ledger-checkpoint"} {
			reads = append(reads, named{"--db", c.db + suffix})
		}
	}
	seen := map[string]string{}
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		k := canonicalPath(o.path)
		if prev, ok := seen[k]; ok {
			return usageError{fmt.Sprintf("%s and %s both name %s: every output needs its own file", prev, o.flag, o.path)}
		}
		seen[k] = o.flag
	}
	for _, r := range reads {
		if r.path == "" {
			continue
		}
		if flag, ok := seen[canonicalPath(r.path)]; ok {
			if r.flag == "--in" {
				return usageError{fmt.Sprintf("%s is both an input and an output (%s)", r.path, flag)}
			}
			return usageError{fmt.Sprintf("%s %s would be overwritten by %s", r.flag, r.path, flag)}
		}
	}
	return nil
}

// canonicalPath is the absolute, clean form of p with symbolic links in it
// (or in its directory, for a file yet to be written) resolved.
func canonicalPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(d, filepath.Base(abs))
	}
	return abs
}

// checkAsOf refuses a new snapshot as of a moment before the store's
// eligibility head time: an objection in force now must keep its content
// out of every dataset built from now on. Only --reproduce may go back.
func (c *filterConfig) checkAsOf(ctx context.Context, db *store.DB, snap *eligibility.Snapshot, asOf, now time.Time) error {
	head := time.Time{}
	if n := snap.LatestChange(now.UnixMicro()); n != 0 {
		head = time.UnixMicro(n).UTC()
	}
	if db != nil {
		t, err := db.EligibilityChangedAt(ctx, now)
		if err != nil {
			return err
		}
		if t.After(head) {
			head = t
		}
	}
	if asOf.Before(head) {
		return usageError{fmt.Sprintf("--as-of %s is before %s, when eligibility last changed in the store: a new snapshot must honour every objection in force now (to re-create a registered earlier snapshot for verification, give --reproduce MANIFEST)",
			asOf.Format(time.RFC3339Nano), head.Format(time.RFC3339Nano))}
	}
	return nil
}

// reproduction is a --reproduce run: the manifest of a registered snapshot
// whose as-of and policy the run takes, and whose output it must match.
type reproduction struct {
	path string
	m    *filter.Manifest
	sum  string // sha256 of the manifest file
	asOf time.Time
}

func readReproduction(path string, pol *policy.Policy, asOfFlag string) (*reproduction, error) {
	m, sum, err := filter.ReadManifest(path)
	if err != nil {
		return nil, err
	}
	asOf, err := time.Parse(time.RFC3339Nano, m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("--reproduce %s: as_of %q is not an RFC 3339 time", path, m.AsOf)
	}
	if asOfFlag != "" {
		given, err := strictjson.Time(asOfFlag)
		if err != nil || !given.Equal(asOf) {
			return nil, usageError{fmt.Sprintf("--as-of %s differs from the as_of %s of %s: leave --as-of out to reproduce", asOfFlag, m.AsOf, path)}
		}
	}
	if m.PolicySHA256 != pol.SHA256 {
		return nil, fmt.Errorf("--reproduce %s: the snapshot was built with policy sha256 %s, --policy %s has %s: give the same policy", path, m.PolicySHA256, pol.Source, pol.SHA256)
	}
	return &reproduction{path: path, m: m, sum: sum, asOf: asOf}, nil
}

// registered checks that the store registered this manifest, byte for byte.
func (r *reproduction) registered(ctx context.Context, db *store.DB) error {
	sum, err := db.RegisteredManifest(ctx, r.m.SnapshotID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("--reproduce %s: snapshot %s is not registered in this store: only a registered snapshot can be reproduced", r.path, r.m.SnapshotID)
	}
	if err != nil {
		return err
	}
	if sum != r.sum {
		return fmt.Errorf("--reproduce %s: the file differs from the manifest registered for %s (sha256 %s, registered %s)", r.path, r.m.SnapshotID, r.sum, sum)
	}
	return nil
}

// compare fails unless the run read the same inputs and wrote the same
// output as the reproduced snapshot.
func (r *reproduction) compare(res *filter.Result) error {
	if len(res.Inputs) != len(r.m.Inputs) {
		return fmt.Errorf("reproduction of %s FAILED: %d inputs, the snapshot had %d (nothing was written)", r.m.SnapshotID, len(res.Inputs), len(r.m.Inputs))
	}
	for i, in := range res.Inputs {
		if in.SHA256 != r.m.Inputs[i].SHA256 {
			return fmt.Errorf("reproduction of %s FAILED: input %s has sha256 %s, the snapshot read %s with %s (nothing was written)", r.m.SnapshotID, in.Path, in.SHA256, r.m.Inputs[i].Path, r.m.Inputs[i].SHA256)
		}
	}
	if want := r.m.Outputs[0].SHA256; res.Output.SHA256 != want {
		return fmt.Errorf("reproduction of %s FAILED: the output's sha256 is %s, the manifest says %s (nothing was written)", r.m.SnapshotID, res.Output.SHA256, want)
	}
	return nil
}
