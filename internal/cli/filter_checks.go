package cli

import (
	"fmt"
	"path/filepath"

	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
)

// checkPaths refuses outputs that collide: two outputs naming one file
// (--out X --manifest X, --out = --lineage), or an output naming a file
// the run reads (an input, the policy, the snapshot, the store and the files
// it keeps beside it). Paths are compared after filepath.Abs and Clean, and
// with symbolic links resolved where they exist.
func (c *filterConfig) checkPaths(dbGiven bool) error {
	type named struct{ flag, path string }
	outs := []named{{"--out", c.output}, {"--manifest", c.manifest}, {"--manifest (its signature)", snapshot.SignaturePath(c.manifest)},
		{"--lineage", c.lineage}, {"--rejects", c.rejects}, {"--cpuprofile", c.cpuProfile},
		{"--lineage-file", c.lineageFile}}
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
