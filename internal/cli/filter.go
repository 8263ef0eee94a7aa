package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/manifest"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/strictjson"
	"github.com/notrain/notrain/internal/translog"
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
	// OpenLineage events of the run
	lineageURL  string
	lineageFile string
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
	f.StringVar(&c.lineageURL, "lineage-url", "", "send the run's OpenLineage events (START, then COMPLETE or FAIL) as JSON by HTTP POST to this URL")
	f.StringVar(&c.lineageFile, "lineage-file", "", "append the run's OpenLineage events to this file, one JSON event per line")
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
		c.lineage = snapshot.LineagePath(c.output)
	}
	if err := c.checkPaths(f.given["db"]); err != nil {
		return err
	}
	em, err := c.lineageEmitter()
	if err != nil {
		return err
	}
	// START goes out before anything is opened or read; if it cannot be
	// delivered the run does not start. COMPLETE or FAIL follow the
	// outcome, which a failed delivery does not change: it is reported
	// with its own exit code.
	lr, err := snapshot.StartLineage(ctx, em, env.Now, version(), c.inputs, c.output, c.manifest)
	if err != nil {
		return err
	}
	res, err := c.run(ctx, env, f.given["db"])
	if lerr := lr.Finish(ctx, res, err); lerr != nil {
		if err != nil {
			fmt.Fprintf(env.Stderr, "notrain: %v\n", lerr)
			return err
		}
		return lineageError{lerr}
	}
	return err
}

// lineageEmitter is the transports the flags name; nil for none.
func (c *filterConfig) lineageEmitter() (*lineage.Emitter, error) {
	var ts []lineage.Transport
	if c.lineageURL != "" {
		u, err := url.Parse(c.lineageURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError{fmt.Sprintf("--lineage-url %q is not an http or https URL", c.lineageURL)}
		}
		ts = append(ts, &lineage.HTTP{URL: c.lineageURL})
	}
	if c.lineageFile != "" {
		ts = append(ts, &lineage.JSONLines{Path: c.lineageFile})
	}
	return lineage.NewEmitter(ts...), nil
}

// lineageError is a run whose snapshot was built but whose COMPLETE event
// was not delivered: the outputs stand, the lineage system lacks the run's end.
type lineageError struct{ err error }

func (e lineageError) Error() string {
	return fmt.Sprintf("%v; the snapshot was built as reported above and stands", e.err)
}

func (e lineageError) Unwrap() error { return e.err }

func (c *filterConfig) run(ctx context.Context, env Env, dbGiven bool) (*snapshot.Result, error) {
	o := snapshot.Options{
		Inputs: c.inputs, Output: c.output, Manifest: c.manifest, Lineage: c.lineage, Rejects: c.rejects, Policy: c.policy,
		Now: env.Now, EligibilityFile: c.snapshot, Workers: c.workers, CPUProfile: c.cpuProfile,
		AllowEmptyDirectory: c.allowEmpty, Reproduce: c.reproduce, Version: version(),
	}
	if p := progressWriter(env, c.progress); p != nil {
		o.Progress = p
	}
	if c.asOf != "" {
		var err error
		if o.AsOf, err = strictjson.Time(c.asOf); err != nil {
			return nil, usageError{fmt.Sprintf("--as-of %q is not an RFC 3339 time", c.asOf)}
		}
	}
	// The store is read unless only an eligibility file is given; with
	// both, the file must match the store.
	if c.snapshot == "" || dbGiven {
		db, err := c.open(ctx)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		o.DB = db
		o.LedgerCheckpoint = c.checkpointPath(db)
		// The manifest names the log's checkpoint at the eligibility head
		// and is signed with the log key, which must exist and be the
		// store's. It is loaded once every check has passed, so a refused
		// run changes nothing.
		var key *translog.Key
		o.Checkpoint = func(ctx context.Context, size int64) (string, string, error) {
			var err error
			if key, err = c.existingLogKey(ctx, db); err != nil {
				return "", "", err
			}
			root, err := db.CheckedRoot(ctx, key.Verifier(), size)
			return key.Origin(), translog.Checkpoint{Root: root}.RootText(), err
		}
		o.SignManifest = func(sum [32]byte) ([]byte, error) { return manifest.Sign(key, sum) }
		if c.snapshot == "" {
			switch c.cache {
			case "off":
			case "":
				o.EligibilityCache = db.CachePath()
			default:
				o.EligibilityCache = c.cache
			}
		}
	}
	res, err := snapshot.Build(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(env.Stderr, "notrain: %s\n", w)
	}
	c.summary(env, res)
	if c.reproduce != "" {
		fmt.Fprintf(env.Stdout, "  reproduces %s: output sha256 %s matches its manifest; nothing was registered\n", res.Manifest.Reproduces, res.Filter.Output.SHA256)
	}
	return res, nil
}

func (c *filterConfig) checkpointPath(db *store.DB) string {
	if c.checkpoint == "" && db.Path() != "" {
		return db.Path() + ".ledger-checkpoint"
	}
	return c.checkpoint
}

func (c *filterConfig) summary(env Env, r *snapshot.Result) {
	w := env.Stdout
	m, res := r.Manifest, r.Filter
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
	if r.Entry.Seq != 0 {
		fmt.Fprintf(w, "  registered as ledger entry %d with the lineage of %d accounts in %.2f s\n", r.Entry.Seq, res.Accounts, r.Register.Seconds())
	}
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
