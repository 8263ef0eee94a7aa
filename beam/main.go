// Command beam runs notrain's filter as an Apache Beam pipeline: on Prism
// in this process by default, or on Flink, Spark or Dataflow.
//
//	go run . --snapshot ELIG.snap --input 'GLOB' --output PREFIX --manifest FILE --as-of T \
//	  [--policy FILE] [--runner prism|flink|spark|dataflow|universal] [--shards N]
//
// It writes PREFIX-SSSSS-of-NNNNN.jsonl (.parquet for Parquet inputs), the
// lineage sidecar and a manifest
// in the format of `notrain filter`'s, which `notrain snapshot register`
// registers in the store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/notrain/notrain/beam/notrainbeam"
	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/strictjson"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	// Beam's own flags (--endpoint, --environment_type, --project …) live
	// in the standard flag set, so this command's flags do too.
	var o notrainbeam.Options
	var inputs list
	var asOf, lineageURL, lineageFile string
	flag.StringVar(&o.Snapshot, "snapshot", "", "eligibility snapshot file from 'notrain snapshot export' (local path or gs://…)")
	flag.Var(&inputs, "input", "input files: a path or glob of .jsonl, .jsonl.gz, .jsonl.zst or .parquet (not both kinds in one run); repeat for several")
	flag.StringVar(&o.Output, "output", "", "output prefix: shards are PREFIX-SSSSS-of-NNNNN.jsonl, or .parquet for Parquet inputs")
	flag.StringVar(&o.Manifest, "manifest", "", "manifest file (JSON)")
	flag.StringVar(&o.Lineage, "lineage", "", "lineage sidecar: records kept per account (default PREFIX.lineage.jsonl)")
	flag.StringVar(&o.Policy, "policy", "", "policy file (default: the built-in policy)")
	flag.StringVar(&asOf, "as-of", "", "snapshot moment, RFC 3339 (default: now)")
	flag.StringVar(&o.Runner, "runner", "prism", "Beam runner: prism (in this process), flink, spark, dataflow, universal")
	flag.IntVar(&o.Shards, "shards", 4, "number of output shards")
	blockMiB := flag.Int64("block-mib", 16, "size of the byte ranges inputs are first split into, in MiB (runners may split further)")
	flag.BoolVar(&o.AllowEmptyDirectory, "allow-empty-directory", false, "run even though the account directory holds no account")
	flag.StringVar(&lineageURL, "lineage-url", "", "send the run's OpenLineage events (START, then COMPLETE or FAIL) by HTTP POST to this URL")
	flag.StringVar(&lineageFile, "lineage-file", "", "append the run's OpenLineage events to this file, one JSON event per line")
	flag.Parse()
	// On a remote runner this same binary is started as a worker: Init
	// then runs the worker and never returns.
	beam.Init()
	o.Inputs, o.BlockSize = inputs, *blockMiB<<20
	// Beam logs each step of a job; a command line shows warnings only.
	log.SetupLogging("warn", "text")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, asOf, lineageURL, lineageFile)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "notrain beam: %v\n", err)
		if errors.As(err, new(notrainbeam.LineageError)) {
			os.Exit(3) // as notrain filter: the snapshot stands, its COMPLETE was not delivered
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, o notrainbeam.Options, asOf, lineageURL, lineageFile string) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("no arguments expected (%q); use --input", flag.Args())
	}
	if asOf != "" {
		var err error
		if o.AsOf, err = strictjson.Time(asOf); err != nil {
			return fmt.Errorf("--as-of %q is not an RFC 3339 time", asOf)
		}
	}
	var ts []lineage.Transport
	if lineageURL != "" {
		u, err := url.Parse(lineageURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--lineage-url %q is not an http or https URL", lineageURL)
		}
		ts = append(ts, &lineage.HTTP{URL: lineageURL})
	}
	if lineageFile != "" {
		ts = append(ts, &lineage.JSONLines{Path: lineageFile})
	}
	res, err := notrainbeam.RunWithLineage(ctx, o, lineage.NewEmitter(ts...))
	if res != nil {
		summary(res, o)
	}
	return err
}

func summary(r *notrainbeam.Result, o notrainbeam.Options) {
	m, c := r.Manifest, r.Counts
	pct := 0.0
	if c.Read > 0 {
		pct = 100 * float64(c.Eligible) / float64(c.Read)
	}
	fmt.Printf("snapshot %s as of %s: read %d records, kept %d (%.1f %%) on %s\n", m.SnapshotID, m.AsOf, c.Read, c.Eligible, pct, o.Runner)
	// In the order the rules check, as `notrain filter` prints them.
	ex := c.ExcludedByReason()
	var names []string
	for r := eligibility.Malformed; int(r) < eligibility.NumReasons; r++ {
		names = append(names, r.String())
	}
	var rules []string
	for k := range ex {
		if strings.HasPrefix(k, "rule:") {
			rules = append(rules, k)
		}
	}
	slices.Sort(rules)
	for _, r := range append(names, rules...) {
		if n := ex[r]; n > 0 {
			fmt.Printf("  excluded %-18s %d\n", r, n)
		}
	}
	fmt.Printf("  policy %s (sha256 %s), ledger head %d\n", m.Policy.Source, m.PolicySHA256[:12], m.LedgerHead.Seq)
	format := filter.JSONL
	if len(r.Outputs) > 0 {
		format = r.Outputs[0].Format
	}
	fmt.Printf("  %d shards %s, lineage %s (%d accounts), manifest %s\n", len(r.Outputs), notrainbeam.ShardPattern(o.Output, o.Shards, format), r.Lineage.Path, r.Accounts, o.Manifest)
}
