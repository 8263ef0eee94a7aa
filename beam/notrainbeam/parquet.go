package notrainbeam

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
)

// pqFilterFn is a splittable DoFn over the row groups of one Parquet input:
// a position is a row group's index, so every row is decided exactly once
// however the runner splits. Each run of row groups it claims is decided by
// the filter's own Parquet code into a hidden Parquet file beside the
// output, named with the run id like every temporary file of the run, and
// that file goes to one shard, which merges the files it receives.
type pqFilterFn struct {
	Config Config
	Output string // shard prefix, where the temporary files go
	RunID  string

	engine   *eligibility.Engine
	wantText bool
}

// Setup loads the snapshot and policy once per DoFn instance.
func (fn *pqFilterFn) Setup(ctx context.Context) error {
	engine, _, wantText, err := fn.Config.engine(ctx)
	if err != nil {
		return err
	}
	fn.engine, fn.wantText = engine, wantText
	return nil
}

// CreateInitialRestriction is every row group of the file.
func (fn *pqFilterFn) CreateInitialRestriction(f File) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: int64(f.RowGroups)}
}

// groupsPer is how many row groups make about one block of the file's bytes.
func (fn *pqFilterFn) groupsPer(f File) int64 {
	block := fn.Config.BlockSize
	if block <= 0 {
		block = defaultBlock
	}
	if f.RowGroups <= 0 || f.Size <= 0 {
		return 1
	}
	return max(1, block/max(1, f.Size/int64(f.RowGroups)))
}

// SplitRestriction cuts a file into runs of row groups of about a block.
func (fn *pqFilterFn) SplitRestriction(f File, rest offsetrange.Restriction) []offsetrange.Restriction {
	if rest.End <= rest.Start {
		return []offsetrange.Restriction{rest}
	}
	return rest.SizedSplits(fn.groupsPer(f))
}

// RestrictionSize is the bytes the range's row groups hold, on average.
func (fn *pqFilterFn) RestrictionSize(f File, rest offsetrange.Restriction) float64 {
	if f.RowGroups <= 0 {
		return 0
	}
	return rest.Size() * float64(f.Size) / float64(f.RowGroups)
}

// CreateTracker tracks the row groups' indices.
func (fn *pqFilterFn) CreateTracker(rest offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(rest))
}

// ProcessElement claims the range's row groups a block at a time (so that
// the runner can still split off what is not claimed), decides each claimed
// run into a temporary file and emits its shard and path, the run's counts
// and what it kept of each account.
func (fn *pqFilterFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, f File, emitKept func(int, []byte), emitCounts func([]byte), emitAuthor func(int32, int64)) error {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	src, closeSrc, err := openSource(ctx, f)
	if err != nil {
		return err
	}
	defer closeSrc()
	per := fn.groupsPer(f)
	shards := max(fn.Config.Shards, 1)
	var counts filter.Counts
	authors := map[int32]int64{}
	for start := rest.Start; ; {
		end := start
		for end < start+per && rt.TryClaim(end) {
			end++
		}
		if end > start {
			if err := fn.decide(ctx, src, int(start), int(end), shards, &counts, authors, emitKept); err != nil {
				return err
			}
		}
		if end < start+per {
			break
		}
		start = end
	}
	if err := rt.GetError(); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	emitCounts(encodeCounts(&counts))
	for a, n := range authors {
		emitAuthor(a, n)
	}
	return nil
}

// decide decides row groups [first, end) into a temporary file of the
// shard the run goes to; a run that keeps nothing leaves no file.
func (fn *pqFilterFn) decide(ctx context.Context, src filter.ParquetSource, first, end, shards int, counts *filter.Counts, authors map[int32]int64, emitKept func(int, []byte)) error {
	shard := runShard(src.Path, first, shards)
	tmp := tempName(ShardName(fn.Output, shard, shards, filter.Parquet), fn.RunID)
	w, err := createFile(ctx, tmp)
	if err != nil {
		return fmt.Errorf("%s: %w", tmp, err)
	}
	res, err := filter.DecideRowGroups(ctx, filter.RowGroupsJob{Source: src, First: first, End: end,
		Engine: fn.engine, WantText: fn.wantText}, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && res.Kept == 0 {
		err = remove(ctx, tmp)
		counts.Merge(&res.Counts)
		return err
	}
	if err != nil {
		return errors.Join(err, remove(context.WithoutCancel(ctx), tmp))
	}
	counts.Merge(&res.Counts)
	for a, n := range res.Authors {
		authors[a] += n
	}
	emitKept(shard, []byte(tmp))
	return nil
}

// runShard spreads runs over the shards by file and first row group, so a
// run lands in the same shard whichever worker decided it.
func runShard(path string, first, shards int) int {
	h := fnv.New64a()
	h.Write([]byte(path))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(first)))
	return int(h.Sum64() % uint64(shards))
}

// openSource opens a file for reading at random: a local file is its own
// io.ReaderAt; on other file systems each read opens the object at its
// offset (parquet-go reads a column chunk's pages in large reads, so these
// are few).
func openSource(ctx context.Context, f File) (filter.ParquetSource, func(), error) {
	fsys, err := filesystem.New(ctx, f.Path)
	if err != nil {
		return filter.ParquetSource{}, nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	rc, err := fsys.OpenRead(ctx, f.Path)
	if err != nil {
		fsys.Close()
		return filter.ParquetSource{}, nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	if ra, ok := rc.(io.ReaderAt); ok {
		return filter.ParquetSource{Path: f.Path, R: ra, Size: f.Size}, func() { rc.Close(); fsys.Close() }, nil
	}
	rc.Close()
	return filter.ParquetSource{Path: f.Path, R: &objectReaderAt{ctx: ctx, fsys: fsys, path: f.Path}, Size: f.Size}, func() { fsys.Close() }, nil
}

// objectReaderAt reads an object at an offset by opening it and skipping.
type objectReaderAt struct {
	ctx  context.Context
	fsys filesystem.Interface
	path string
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := o.fsys.OpenRead(o.ctx, o.path)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if err := skip(rc, off); err != nil {
		return 0, err
	}
	return io.ReadFull(rc, p)
}

// FilterParquet decides every row of Parquet files, each cut into runs of
// row groups; Kept holds, per output shard, the temporary Parquet files of
// the runs (their paths), which WriteParquetShards merges.
func FilterParquet(s beam.Scope, cfg Config, output, runID string, files beam.PCollection) Filtered {
	s = s.Scope("notrain.FilterParquet")
	kept, counts, authors := beam.ParDo3(s, &pqFilterFn{Config: cfg, Output: output, RunID: runID}, files)
	return Filtered{
		Kept:    kept,
		Counts:  counts,
		Authors: stats.SumPerKey(s, authors),
		Inputs:  beam.ParDo(s, &hashFn{Digest: cfg.Digest}, files),
	}
}

// WriteParquetShards merges the runs' files of each shard into
// PREFIX-SSSSS-of-NNNNN.parquet with the schema and settings of template
// (the first input), every shard, empty or not, and returns each shard's
// encoded shardInfo.
func WriteParquetShards(s beam.Scope, prefix, runID string, shards int, alg digest.Algorithm, template File, kept beam.PCollection) beam.PCollection {
	s = s.Scope("notrain.WriteParquetShards")
	ids := make([]int, shards)
	for i := range ids {
		ids[i] = i
	}
	seeds := beam.ParDo(s, seedShards, beam.CreateList(s, ids))
	grouped := beam.GroupByKey(s, beam.Flatten(s, kept, seeds))
	return beam.ParDo(s, &pqShardFn{Prefix: prefix, RunID: runID, Shards: shards, Digest: string(alg), Template: template}, grouped)
}

// pqShardFn writes one Parquet shard.
type pqShardFn struct {
	Prefix   string
	RunID    string
	Shards   int
	Digest   string
	Template File
}

// ProcessElement merges the shard's run files, in a fixed order, and emits the shard's shardInfo.
func (fn *pqShardFn) ProcessElement(ctx context.Context, shard int, paths func(*[]byte) bool, emit func([]byte)) error {
	final := ShardName(fn.Prefix, shard, fn.Shards, filter.Parquet)
	var runs []string
	var b []byte
	for paths(&b) {
		if len(b) > 0 {
			runs = append(runs, string(b))
		}
	}
	slices.Sort(runs)
	var parts []filter.ParquetSource
	for _, p := range runs {
		fsys, err := filesystem.New(ctx, p)
		if err != nil {
			return err
		}
		size, err := fsys.Size(ctx, p)
		fsys.Close()
		if err != nil {
			return fmt.Errorf("shard %s: %w", final, err)
		}
		src, closeSrc, err := openSource(ctx, File{Path: p, Size: size})
		if err != nil {
			return fmt.Errorf("shard %s: %w", final, err)
		}
		defer closeSrc()
		parts = append(parts, src)
	}
	tpl, closeTpl, err := openSource(ctx, fn.Template)
	if err != nil {
		return fmt.Errorf("shard %s: %w", final, err)
	}
	defer closeTpl()

	// The runs' files stay until the driver removes every temporary file
	// of the run: a retried attempt of this shard reads them again.
	return writeShard(ctx, shard, final, fn.RunID, digest.Algorithm(fn.Digest), filter.Parquet, func(w io.Writer) (int64, error) {
		return filter.MergeParquet(ctx, w, tpl, parts, os.TempDir())
	}, emit)
}
