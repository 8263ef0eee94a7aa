package notrainbeam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/snapshot"
)

// Options describe one pipeline run.
type Options struct {
	Snapshot string   // eligibility snapshot file (`notrain snapshot export`)
	Inputs   []string // input files or globs, in any file system Beam knows
	Output   string   // shard prefix: PREFIX-SSSSS-of-NNNNN.jsonl (.parquet for Parquet inputs)
	Manifest string
	Lineage  string // records kept per account; default snapshot.LineagePath(Output)
	Policy   string // policy file; "" is the built-in policy
	AsOf     time.Time
	Now      func() time.Time
	Runner   string // default prism
	Shards   int    // default 4
	// BlockSize is the initial byte-range size (default 16 MiB).
	BlockSize           int64
	AllowEmptyDirectory bool
	Version             string

	// beforePipeline, when set, runs after the driver's checks, just before
	// the pipeline starts (tests change files there).
	beforePipeline func()
}

// Result is what a run made.
type Result struct {
	Manifest       *filter.Manifest
	ManifestSHA256 string
	Counts         filter.Counts
	Inputs         []filter.FileInfo
	Outputs        []filter.FileInfo
	Lineage        filter.FileInfo
	Accounts       int // accounts with at least one kept record
}

const (
	defaultShards = 4
	maxShards     = 99999 // five digits in the shard names
)

// Version is notrain's version, as `notrain filter` writes it into manifests.
const Version = "0.1.0-dev"

// Run checks everything a build checks before reading a record, runs the
// pipeline, and then, only if it succeeded, writes the lineage sidecar and
// the manifest and puts every output in place. On any error nothing is
// left: no shard, no sidecar, no manifest, no temporary file of the run.
func Run(ctx context.Context, o Options) (*Result, error) {
	started := time.Now()
	if o.Runner == "" {
		o.Runner = "prism"
	}
	if o.Version == "" {
		o.Version = Version
	}
	if o.Shards == 0 {
		o.Shards = defaultShards
	}
	if o.Lineage == "" {
		o.Lineage = snapshot.LineagePath(o.Output)
	}
	switch {
	case o.Snapshot == "" || len(o.Inputs) == 0 || o.Output == "" || o.Manifest == "":
		return nil, snapshot.UsageError{Msg: "--snapshot, --input, --output and --manifest are needed"}
	case o.Shards < 1 || o.Shards > maxShards:
		return nil, snapshot.UsageError{Msg: fmt.Sprintf("--shards %d: give 1 to %d", o.Shards, maxShards)}
	}
	var text []byte
	if o.Policy != "" {
		var err error
		if text, err = os.ReadFile(o.Policy); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	pol, err := loadPolicy(o.Policy, text)
	if err != nil {
		return nil, err
	}
	snap, err := readSnapshot(ctx, o.Snapshot)
	if err != nil {
		return nil, err
	}
	ext, err := snapshot.PrepareExternal(pol, snap.Snapshot, o.Snapshot, snap.sum, o.AsOf, o.Now, o.AllowEmptyDirectory)
	if err != nil {
		return nil, err
	}
	files, format, err := listInputs(ctx, o.Inputs)
	if err != nil {
		return nil, err
	}
	if err := checkTargets(ctx, o); err != nil {
		return nil, err
	}

	runID := randomHex(8)
	outcomePath := tempName(o.Output+".outcome", runID)
	installed := false
	defer func() {
		if !installed {
			removeTemps(context.WithoutCancel(ctx), o, runID)
		}
	}()
	cfg := Config{
		Snapshot: o.Snapshot, SnapshotSHA256: snap.sum,
		PolicySource: o.Policy, PolicyText: text, PolicySHA256: pol.SHA256, Digest: string(pol.Digest),
		AsOf: ext.AsOf.UnixMicro(), Shards: o.Shards, BlockSize: o.BlockSize,
	}
	p, s := beam.NewPipelineWithRoot()
	if format == filter.Parquet {
		f := FilterParquet(s, cfg, o.Output, runID, beam.CreateList(s, files))
		Collect(s, outcomePath, WriteParquetShards(s, o.Output, runID, o.Shards, pol.Digest, files[0], f.Kept), f)
	} else {
		f := Filter(s, cfg, beam.CreateList(s, files))
		Collect(s, outcomePath, WriteShards(s, o.Output, runID, o.Shards, pol.Digest, f.Kept), f)
	}
	if o.beforePipeline != nil {
		o.beforePipeline()
	}
	if _, err := beam.Run(ctx, o.Runner, p); err != nil {
		return nil, fmt.Errorf("pipeline on %s: %w (nothing was written)", o.Runner, err)
	}
	out, err := readOutcome(ctx, outcomePath)
	if err != nil {
		return nil, err
	}
	res, err := check(out, o, files, format)
	if err != nil {
		return nil, err
	}

	// The sidecar lists accounts in the snapshot's order, as the filter's does.
	sort.Slice(out.Authors, func(i, j int) bool { return out.Authors[i][0] < out.Authors[j][0] })
	var lin []byte
	for _, a := range out.Authors {
		if a[0] < 0 || a[0] >= int64(snap.Len()) || a[1] <= 0 {
			return nil, fmt.Errorf("pipeline outcome: account index %d out of range", a[0])
		}
		lin = filter.AppendLineageLine(lin, snap.Key(int32(a[0])), uint64(a[1]))
	}
	res.Accounts = len(out.Authors)
	linTemp := tempName(o.Lineage, runID)
	if res.Lineage, err = writeFile(ctx, linTemp, o.Lineage, pol.Digest, lin); err != nil {
		return nil, err
	}
	res.Lineage.Format = filter.JSONL
	m, err := ext.Manifest(res.Inputs, res.Outputs, &filter.ManifestFile{FileInfo: res.Lineage, Accounts: res.Accounts}, &res.Counts, o.Version, started,
		map[string]any{"pipeline": "apache_beam", "runner": o.Runner, "shards": o.Shards})
	if err != nil {
		return nil, err
	}
	body, err := m.Encode()
	if err != nil {
		return nil, err
	}
	manTemp := tempName(o.Manifest, runID)
	minfo, err := writeFile(ctx, manTemp, o.Manifest, digest.SHA256, body)
	if err != nil {
		return nil, err
	}
	res.Manifest, res.ManifestSHA256 = m, minfo.SHA256

	// All or nothing: the shards, then the sidecar, then the manifest,
	// which names them all and so comes last. No final name existed before
	// (checkTargets), so taking an install back is removing it.
	moves := make([][2]string, 0, len(out.Shards)+2)
	for _, sh := range out.Shards {
		moves = append(moves, [2]string{sh.Temp, sh.Path})
	}
	moves = append(moves, [2]string{linTemp, o.Lineage}, [2]string{manTemp, o.Manifest})
	if err := install(ctx, moves); err != nil {
		return nil, fmt.Errorf("%w (nothing was written)", err)
	}
	installed = true
	removeTemps(ctx, o, runID) // leftovers of retried attempts
	return res, nil
}

// listInputs expands the globs, in order, each file once, and returns
// the inputs' format: JSON Lines (of any compression) or Parquet, not both,
// since the shards keep the input's format as `notrain filter`'s output
// does. A Parquet input's footer is read here, so that a damaged one fails
// the run before the pipeline starts.
func listInputs(ctx context.Context, globs []string) ([]File, filter.Format, error) {
	files, err := listFiles(ctx, globs)
	if err != nil {
		return nil, "", err
	}
	format := filter.JSONL
	var first filter.ParquetSource // the first input, open: the others' schema must be its
	for i, f := range files {
		ff, _ := filter.FormatOf(f.Path)
		if i == 0 && ff == filter.Parquet {
			format = filter.Parquet
		}
		if (ff == filter.Parquet) != (format == filter.Parquet) {
			return nil, "", fmt.Errorf("%s and %s: JSON Lines and Parquet inputs cannot be mixed in one run (the shards keep the input's format); run once per format", files[0].Path, f.Path)
		}
		if ff != filter.Parquet {
			continue
		}
		src, closeSrc, err := openSource(ctx, f)
		if err != nil {
			return nil, "", err
		}
		defer closeSrc()
		n, err := filter.ParquetRowGroups(src)
		if err == nil && i > 0 {
			err = filter.SameParquetSchema(first, src)
		}
		if err != nil {
			return nil, "", err
		}
		if i == 0 {
			first = src
		}
		files[i].RowGroups = n
	}
	return files, format, nil
}

func listFiles(ctx context.Context, globs []string) ([]File, error) {
	var files []File
	seen := map[string]bool{}
	for _, g := range globs {
		fsys, err := filesystem.New(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("--input %s: %w", g, err)
		}
		names, err := fsys.List(ctx, g)
		if err != nil {
			fsys.Close()
			return nil, fmt.Errorf("--input %s: %w", g, err)
		}
		if len(names) == 0 {
			fsys.Close()
			return nil, fmt.Errorf("--input %s matches no file", g)
		}
		slices.Sort(names)
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			if _, err := filter.FormatOf(n); err != nil {
				fsys.Close()
				return nil, err
			}
			size, err := fsys.Size(ctx, n)
			if err != nil {
				fsys.Close()
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			files = append(files, File{Path: n, Size: size})
		}
		fsys.Close()
	}
	return files, nil
}

// checkTargets refuses to run when an output exists: a manifest or sidecar
// would be replaced, and shards of an earlier run (of another shard count)
// would mix with this run's under one prefix.
func checkTargets(ctx context.Context, o Options) error {
	for _, p := range []string{o.Manifest, o.Lineage} {
		if exists(ctx, p) {
			return fmt.Errorf("%s exists: give a new name or remove it", p)
		}
	}
	for _, glob := range []string{o.Output + "-*-of-*.jsonl", o.Output + "-*-of-*.parquet"} {
		fsys, err := filesystem.New(ctx, glob)
		if err != nil {
			return fmt.Errorf("--output %s: %w", o.Output, err)
		}
		names, err := fsys.List(ctx, glob)
		fsys.Close()
		if err != nil {
			return fmt.Errorf("--output %s: %w", o.Output, err)
		}
		if len(names) > 0 {
			return fmt.Errorf("--output %s: shards exist already (%s …): give a new prefix or remove them", o.Output, names[0])
		}
	}
	return nil
}

func exists(ctx context.Context, path string) bool {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return false
	}
	defer fsys.Close()
	_, err = fsys.Size(ctx, path)
	return err == nil
}

func readOutcome(ctx context.Context, path string) (*outcome, error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	b, err := filesystem.Read(ctx, fsys, path)
	if err != nil {
		return nil, fmt.Errorf("pipeline outcome: %w", err)
	}
	var out outcome
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("pipeline outcome: %w", err)
	}
	return &out, nil
}

// check verifies that the outcome accounts for every shard, every input and
// every kept record exactly once.
func check(out *outcome, o Options, files []File, format filter.Format) (*Result, error) {
	counts, err := decodeCounts(mustJSON(out.Counts))
	if err != nil {
		return nil, err
	}
	res := &Result{Counts: counts}
	sort.Slice(out.Shards, func(i, j int) bool { return out.Shards[i].Shard < out.Shards[j].Shard })
	if len(out.Shards) != o.Shards {
		return nil, fmt.Errorf("pipeline outcome: %d shards written, %d expected", len(out.Shards), o.Shards)
	}
	var records int64
	for i, sh := range out.Shards {
		if sh.Shard != i || sh.Path != ShardName(o.Output, i, o.Shards, format) {
			return nil, fmt.Errorf("pipeline outcome: shard %d is %s", i, sh.Path)
		}
		records += sh.Records
		res.Outputs = append(res.Outputs, sh.FileInfo)
	}
	if records != counts.Eligible {
		return nil, fmt.Errorf("pipeline outcome: the shards hold %d records, %d were kept", records, counts.Eligible)
	}
	byPath := map[string]filter.FileInfo{}
	for _, in := range out.Inputs {
		byPath[in.Path] = in
	}
	for _, f := range files {
		in, ok := byPath[f.Path]
		if !ok {
			return nil, fmt.Errorf("pipeline outcome: input %s was not hashed", f.Path)
		}
		res.Inputs = append(res.Inputs, in)
	}
	if len(out.Inputs) != len(files) {
		return nil, fmt.Errorf("pipeline outcome: %d inputs hashed, %d read", len(out.Inputs), len(files))
	}
	return res, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// writeFile writes b under a temporary name for final and lists it with
// alg (the manifest itself: SHA-256, the hash its signature covers).
func writeFile(ctx context.Context, tmp, final string, alg digest.Algorithm, b []byte) (filter.FileInfo, error) {
	fsys, err := filesystem.New(ctx, tmp)
	if err != nil {
		return filter.FileInfo{}, err
	}
	defer fsys.Close()
	if err := filesystem.Write(ctx, fsys, tmp, b); err != nil {
		return filter.FileInfo{}, fmt.Errorf("%s: %w", final, err)
	}
	h := alg.New()
	h.Write(b)
	return filter.NewFileInfo(final, "", int64(len(b)), alg, h.Sum(nil)), nil
}

// install renames every temporary file onto its final name; on an error it
// removes what it installed.
func install(ctx context.Context, moves [][2]string) error {
	for i, mv := range moves {
		fsys, err := filesystem.New(ctx, mv[0])
		if err == nil {
			err = filesystem.Rename(ctx, fsys, mv[0], mv[1])
			fsys.Close()
		}
		if err != nil {
			errs := []error{fmt.Errorf("install %s: %w", mv[1], err)}
			for _, done := range moves[:i] {
				errs = append(errs, remove(context.WithoutCancel(ctx), done[1]))
			}
			return errors.Join(errs...)
		}
	}
	return nil
}

func remove(ctx context.Context, path string) error {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return err
	}
	defer fsys.Close()
	rm, ok := fsys.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("remove %s: the file system cannot remove files", path)
	}
	if err := rm.Remove(ctx, path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// removeTemps deletes every temporary file of the run: shards of failed or
// retried attempts, the outcome, an unfinished sidecar or manifest.
func removeTemps(ctx context.Context, o Options, runID string) {
	for _, prefix := range []string{o.Output, o.Lineage, o.Manifest} {
		glob := tempGlob(prefix, runID)
		fsys, err := filesystem.New(ctx, glob)
		if err != nil {
			continue
		}
		names, _ := fsys.List(ctx, glob)
		fsys.Close()
		for _, n := range names {
			remove(ctx, n)
		}
	}
}

// Snapshot is the run as snapshot.LineageRun.Finish reports it: the shards
// are one output dataset, named by their pattern, whose version is the
// digest (the policy's algorithm) of the shards' own digests in shard
// order. Nil for a failed run.
func (r *Result) Snapshot(pattern string) *snapshot.Result {
	if r == nil {
		return nil
	}
	alg := digest.Default
	if len(r.Outputs) > 0 {
		alg, _ = r.Outputs[0].Digest()
	}
	h := alg.New()
	var bytes int64
	for _, o := range r.Outputs {
		_, sum := o.Digest()
		h.Write([]byte(sum + "\n"))
		bytes += o.Bytes
	}
	format := filter.JSONL
	if len(r.Outputs) > 0 {
		format = r.Outputs[0].Format
	}
	out := filter.NewFileInfo(pattern, format, bytes, alg, h.Sum(nil))
	return &snapshot.Result{Manifest: r.Manifest, ManifestSHA256: r.ManifestSHA256,
		Filter: &filter.Result{Counts: r.Counts, Inputs: r.Inputs, Output: out, Accounts: r.Accounts}}
}
