package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/strictjson"
)

type filterConfig struct {
	storeFlags
	inputs     list
	output     string
	manifest   string
	policy     string
	asOf       string
	snapshot   string
	rejects    string
	lineage    string
	cache      string
	checkpoint string
	workers    int
	progress   string
	cpuProfile string
	allowEmpty bool
	reproduce  string
}

func filterCmd(ctx context.Context, args []string, env Env) error {
	var c filterConfig
	f := newFlags("filter", env.LookupEnv, env.Stderr)
	c.storeFlags.register(f)
	f.Var(&c.inputs, "in", "input file (.jsonl, .jsonl.gz, .jsonl.zst or .parquet); repeat for several")
	f.StringVar(&c.output, "out", "", "output file, in the inputs' format")
	f.StringVar(&c.manifest, "manifest", "", "manifest file (JSON)")
	f.StringVar(&c.policy, "policy", "", "policy file (default: the built-in policy)")
	f.StringVar(&c.asOf, "as-of", "", "snapshot moment, RFC 3339 (default: now)")
	f.StringVar(&c.snapshot, "snapshot", "", "eligibility snapshot file from 'notrain snapshot export' instead of the store")
	f.StringVar(&c.rejects, "rejects", "", "write malformed records with file and line number here (JSON Lines)")
	f.StringVar(&c.lineage, "lineage", "", "lineage sidecar: records kept per account (default: next to --out, .lineage.jsonl)")
	f.StringVar(&c.cache, "eligibility-cache", "", `compact eligibility cache (default <db>.eligibility for SQLite; "off" to disable)`)
	f.StringVar(&c.checkpoint, "checkpoint", "", "ledger checkpoint that must still be on the chain (default <db>.ledger-checkpoint if present)")
	f.IntVar(&c.workers, "workers", 0, "parallel workers (default: every CPU)")
	f.StringVar(&c.progress, "progress", "auto", "progress line on stderr: auto (when a terminal), always, never")
	f.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	f.BoolVar(&c.allowEmpty, "allow-empty-directory", false, "run even though the account directory holds no account (every record is then unknown_author); the manifest records it")
	f.StringVar(&c.reproduce, "reproduce", "", "re-create the registered snapshot this manifest describes (its as-of and policy), for verification: registers nothing, exits non-zero unless the output's sha256 matches")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case len(f.args) > 0:
		return usageError{fmt.Sprintf("filter takes no arguments (%q); use --in", f.args)}
	case len(c.inputs) == 0 || c.output == "" || c.manifest == "":
		return usageError{"usage: notrain filter --in FILE… --out FILE --manifest FILE [--policy FILE] [--as-of RFC3339] [--db …|--snapshot FILE]"}
	}
	if c.lineage == "" {
		c.lineage = lineagePath(c.output)
	}
	if err := c.checkPaths(f.given["db"]); err != nil {
		return err
	}
	return c.run(ctx, env, f.given["db"])
}

func (c *filterConfig) parquet() bool {
	f, err := filter.FormatOf(c.output)
	return err == nil && f == filter.Parquet
}

// lineagePath puts the sidecar next to the output: snap.jsonl.gz → snap.lineage.jsonl.
func lineagePath(out string) string {
	base := out
	for _, ext := range []string{".gz", ".zst", ".jsonl", ".ndjson", ".parquet"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base + ".lineage.jsonl"
}

func (c *filterConfig) run(ctx context.Context, env Env, dbGiven bool) error {
	started := time.Now()
	// The snapshot is built once and read for the whole run; a tight GC
	// target keeps the transient garbage of building it small.
	debug.SetGCPercent(25)
	// Everything that could make the result unprovable is checked before a
	// single record is written: policy, time, store, key, ledger, paths.
	pol, err := policy.Load(c.policy)
	if err != nil {
		return err
	}
	now := env.Now().UTC()
	asOf := now
	if c.asOf != "" {
		if asOf, err = strictjson.Time(c.asOf); err != nil {
			return usageError{fmt.Sprintf("--as-of %q is not an RFC 3339 time", c.asOf)}
		}
		if asOf.After(now) {
			return usageError{fmt.Sprintf("--as-of %s is in the future: objections that arrive until then would be missed", c.asOf)}
		}
	}
	var repro *reproduction
	if c.reproduce != "" {
		if !dbGiven && c.snapshot != "" {
			return usageError{"--reproduce needs the store (--db): only a snapshot registered there can be reproduced"}
		}
		if repro, err = readReproduction(c.reproduce, pol, c.asOf); err != nil {
			return err
		}
		asOf = repro.asOf
	}
	for _, p := range []string{c.output, c.manifest, c.lineage, c.rejects} {
		if p != "" {
			if err := filter.CheckTarget(p); err != nil {
				return err
			}
		}
	}
	var snap *eligibility.Snapshot
	var origin eligibilityOrigin
	var cache *eligibility.PendingFile
	var verified ledger.Head
	var db *store.DB
	useStore := c.snapshot == "" || dbGiven
	if useStore {
		if db, err = c.open(ctx); err != nil {
			return err
		}
		defer db.Close()
	}
	if c.snapshot != "" {
		var sum string
		if snap, sum, err = eligibility.ReadFile(c.snapshot); err != nil {
			return fmt.Errorf("eligibility snapshot %s: %w", c.snapshot, err)
		}
		origin = eligibilityOrigin{Source: "file", Path: c.snapshot, SHA256: sum}
		if db != nil {
			changed, err := db.ChangedSince(ctx, snap.Head)
			if err != nil {
				return err
			}
			if changed {
				return fmt.Errorf("eligibility snapshot %s was exported at ledger entry %d; the store has changed eligibility since (or is another store): export a new one", c.snapshot, snap.Head.Seq)
			}
		}
	} else {
		cachePath := c.cache
		switch {
		case cachePath == "off":
			cachePath = ""
		case cachePath == "":
			cachePath = db.CachePath()
		}
		if snap, origin, cache, err = loadEligibility(ctx, db, cachePath); err != nil {
			return err
		}
		if cache != nil {
			defer cache.Discard()
		}
	}
	if snap.Stats.Accounts == 0 && !c.allowEmpty {
		return fmt.Errorf("the account directory is empty (no accounts were ever imported): every record would count as an unknown author, and a policy that keeps unknown authors would keep objectors' content; import the accounts first, or give --allow-empty-directory")
	}
	if repro == nil {
		if err := c.checkAsOf(ctx, db, snap, asOf, now); err != nil {
			return err
		}
	}
	if db != nil {
		cp, err := c.readCheckpoint(db)
		if err != nil {
			return err
		}
		verified, err = verifyLedger(ctx, db, cp, false, &snap.Head)
		if err != nil {
			return fmt.Errorf("%w: refusing to build a snapshot whose objections cannot be proven", err)
		}
		if repro != nil {
			if err := repro.registered(ctx, db); err != nil {
				return err
			}
		}
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	engine := eligibility.NewEngine(pol, snap, asOf)
	boundMemory(snap.Len(), c.parquet())
	job := filter.Job{Inputs: c.inputs, Output: c.output, Lineage: c.lineage, Rejects: c.rejects, Engine: engine,
		WantText: pol.Compiled.Len() > 0, Workers: c.workers, Progress: progressWriter(env, c.progress)}
	res, err := filter.Run(ctx, job)
	if err != nil {
		return fmt.Errorf("filter: %w (nothing was written)", err)
	}
	installed := false
	defer func() {
		if !installed {
			res.Abort()
		}
	}()
	if repro != nil {
		if err := repro.compare(res); err != nil {
			return err
		}
	}
	effective, err := json.Marshal(pol)
	if err != nil {
		return err
	}
	register := db != nil && repro == nil
	m := &filter.Manifest{
		SnapshotID: "snap_" + ids.Random(8), CreatedAt: now.Format(time.RFC3339Nano), AsOf: asOf.Format(time.RFC3339Nano),
		PolicySHA256: pol.SHA256,
		Policy:       filter.ManifestPolicy{Source: pol.Source, Name: pol.Name, Mode: pol.Mode, Effective: json.RawMessage(effective)},
		LedgerHead:   snap.Head, LedgerVerified: verified,
		Eligibility: map[string]any{"origin": origin, "stats": snap.Stats},
		Inputs:      res.Inputs, Outputs: []filter.FileInfo{res.Output},
		Lineage: &filter.ManifestFile{FileInfo: res.Lineage, Accounts: res.Accounts},
		Rejects: res.Rejects, Counts: &res.Counts, Registered: register, AllowEmptyDirectory: c.allowEmpty, Notrain: version(),
		DurationSeconds: time.Since(started).Seconds(),
	}
	if repro != nil {
		m.Reproduces = repro.m.SnapshotID
	}
	body, err := m.Encode()
	if err != nil {
		return err
	}
	mt, err := filter.CreateTemp(c.manifest)
	if err != nil {
		return err
	}
	if _, err := mt.Write(body); err != nil {
		mt.Remove()
		return err
	}
	minfo, err := mt.Close()
	if err != nil {
		mt.Remove()
		return err
	}
	// All or nothing. Every output (data, lineage, rejects, manifest) is
	// complete and synced under a temporary name by now. They are installed
	// together first, because installing can still fail (a name that became
	// a directory, a full disk) and an install can be taken back, while a
	// ledger entry cannot. Only then is the snapshot registered; if that
	// fails, the installation is undone and the files the outputs replaced
	// are restored. The registration's commit is the point of no return:
	// what follows (the ledger checkpoint, the eligibility cache, deleting
	// replaced files) is upkeep whose failure is reported but changes
	// nothing about the snapshot. A crash between install and commit leaves
	// files whose manifest names a snapshot the ledger does not know, which
	// an audit against the ledger shows; the reverse order would leave a
	// registered snapshot that never existed.
	inst, err := res.Install(mt)
	if err != nil {
		return fmt.Errorf("%w (nothing was written)", err)
	}
	installed = true
	var entry ledger.Entry
	if register {
		err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			entry, err = tx.RegisterSnapshot(ctx, store.SnapshotRecord{
				ID: m.SnapshotID, CreatedAt: now.UnixMicro(), AsOf: asOf.UnixMicro(), PolicySHA256: pol.SHA256,
				Eligibility: snap.Head, Read: res.Counts.Read, Kept: res.Counts.Eligible, Manifest: string(body), ManifestSHA256: minfo.SHA256,
			}, map[string]any{
				"snapshot_id": m.SnapshotID, "as_of": m.AsOf, "policy_sha256": pol.SHA256,
				"eligibility_head": map[string]any{"seq": snap.Head.Seq, "hash": snap.Head.Hash},
				"manifest_sha256":  minfo.SHA256, "output_sha256": res.Output.SHA256,
				"read": res.Counts.Read, "kept": res.Counts.Eligible,
			})
			return err
		})
		if err != nil {
			return errors.Join(fmt.Errorf("register snapshot: %w (nothing was written)", err), inst.Undo())
		}
	}
	inst.Done()
	if register {
		// The chain was verified up to its head and this entry extends it:
		// record the new head as the checkpoint a later cut would violate.
		if path := c.checkpointPath(db); path != "" && entry.Seq == verified.Seq+1 {
			if err := ledger.WriteCheckpoint(path, ledger.Head{Seq: entry.Seq, Hash: entry.Hash}); err != nil {
				fmt.Fprintf(env.Stderr, "notrain: ledger checkpoint not advanced: %v\n", err)
			}
		}
	}
	if cache != nil {
		if err := cache.Install(); err != nil {
			fmt.Fprintf(env.Stderr, "notrain: eligibility cache not written: %v\n", err)
		}
	}
	c.summary(env, m, res)
	if repro != nil {
		fmt.Fprintf(env.Stdout, "  reproduces %s: output sha256 %s matches its manifest; nothing was registered\n", repro.m.SnapshotID, res.Output.SHA256)
	}
	return nil
}

func (c *filterConfig) checkpointPath(db *store.DB) string {
	if c.checkpoint == "" && db.Path() != "" {
		return db.Path() + ".ledger-checkpoint"
	}
	return c.checkpoint
}

func (c *filterConfig) readCheckpoint(db *store.DB) (*ledger.Head, error) {
	path := c.checkpointPath(db)
	if path == "" {
		return nil, nil
	}
	return ledger.ReadCheckpoint(path)
}

func (c *filterConfig) summary(env Env, m *filter.Manifest, res *filter.Result) {
	w := env.Stdout
	cnt := res.Counts
	pct := 0.0
	if cnt.Read > 0 {
		pct = 100 * float64(cnt.Eligible) / float64(cnt.Read)
	}
	fmt.Fprintf(w, "snapshot %s as of %s: read %d records, kept %d (%.1f %%)\n", m.SnapshotID, m.AsOf, cnt.Read, cnt.Eligible, pct)
	for _, r := range sortedReasons(cnt.ExcludedByReason()) {
		fmt.Fprintf(w, "  excluded %-18s %d\n", r.name, r.n)
	}
	fmt.Fprintf(w, "  policy %s (sha256 %s), ledger head %d\n", m.Policy.Source, m.PolicySHA256[:12], m.LedgerHead.Seq)
	fmt.Fprintf(w, "  output %s, lineage %s (%d accounts), manifest %s\n", res.Output.Path, res.Lineage.Path, res.Accounts, c.manifest)
}

type reasonCount struct {
	name string
	n    int64
}

func sortedReasons(m map[string]int64) []reasonCount {
	var out []reasonCount
	for r := eligibility.Malformed; int(r) < eligibility.NumReasons; r++ {
		if n, ok := m[r.String()]; ok && n > 0 {
			out = append(out, reasonCount{r.String(), n})
		}
	}
	for k, n := range m {
		if strings.HasPrefix(k, "rule:") && n > 0 {
			out = append(out, reasonCount{k, n})
		}
	}
	return out
}

// boundMemory keeps the heap close to what the job needs: the snapshot is
// large and lives for the whole run, while everything else is recycled
// buffers, so the default GC headroom (a second copy of the live heap) is
// wasted memory. For JSON Lines the soft limit is the budget of 64 MB plus
// 40 bytes per account, or twice the live heap if a directory with long ids
// needs more. Parquet's memory follows the input's row-group and page
// sizes, which the file chooses, so it gets the tight GC target only.
func boundMemory(accounts int, parquet bool) {
	debug.SetGCPercent(25)
	if !parquet {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		debug.SetMemoryLimit(max(int64(64<<20+40*accounts), 2*int64(ms.HeapAlloc)))
	}
	// Hand back what loading used and no longer needs (decompression
	// windows, ledger rows) before the long run starts.
	debug.FreeOSMemory()
}

// progressWriter returns stderr for the progress line when wanted.
func progressWriter(env Env, mode string) *os.File {
	f, ok := env.Stderr.(*os.File)
	if !ok || mode == "never" {
		return nil
	}
	if mode == "always" {
		return f
	}
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return f
	}
	return nil
}
