// Package notrainbeam is notrain's filter as an Apache Beam composite
// transform. The rules are not copied here: every record is parsed by
// internal/record and decided by internal/eligibility's Engine through
// filter.Decider, exactly as `notrain filter` does. What Beam adds is the
// reading (splittable, by byte range), the sharded writing, and the run's
// finish (manifest, all outputs installed or none), which the driver does
// once the pipeline has succeeded.
package notrainbeam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/policy"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*File)(nil)).Elem())
	register.DoFn6x1[context.Context, *sdf.LockRTracker, File, func(int, []byte), func([]byte), func(int32, int64), error](&filterFn{})
	register.Emitter2[int, []byte]()
	register.Emitter1[[]byte]()
	register.Emitter2[int32, int64]()
	register.DoFn3x1[context.Context, File, func([]byte), error](&hashFn{})
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func([]byte), error](&shardFn{})
	register.Iter1[[]byte]()
	register.DoFn6x1[context.Context, []byte, func(*[]byte) bool, func(*[]byte) bool, func(*int32, *int64) bool, func(*[]byte) bool, error](&collectFn{})
	register.Iter2[int32, int64]()
	register.Function1x2(seedShards)
	register.DoFn6x1[context.Context, *sdf.LockRTracker, File, func(int, []byte), func([]byte), func(int32, int64), error](&pqFilterFn{})
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func([]byte), error](&pqShardFn{})
}

// File is one input: its path (in any file system Beam knows, gs:// …)
// and its size when listed, which bounds its byte ranges; for a Parquet
// file, the row groups its footer lists, which are its positions.
type File struct {
	Path      string
	Size      int64
	RowGroups int
}

// Config is what every worker needs to decide records the way the driver
// checked they would be decided.
//
// The eligibility snapshot travels by path, as a field of the DoFn, not as
// the bytes of a side input: a snapshot of millions of accounts is tens of
// megabytes, which as a side input the runner would encode into its state
// and hand to every bundle, and each DoFn instance would decode it again.
// The path is part of the pipeline's definition, the same on every worker
// like a side input that never changes, and each DoFn instance loads the
// file once, in Setup, from the same file system the inputs come from. The
// driver read the file first and every worker checks the content hash it
// saw, so all of them decide with exactly the snapshot the manifest names.
type Config struct {
	Snapshot       string // the compact eligibility snapshot (`notrain snapshot export`)
	SnapshotSHA256 string // its content hash, as eligibility.Read returns it
	PolicySource   string // the policy's name; "" is the built-in policy
	PolicyText     []byte // the policy file's bytes (nil for the built-in one)
	PolicySHA256   string
	Digest         string // the policy's digest: what inputs and shards are listed with
	AsOf           int64  // the snapshot moment, Unix microseconds UTC
	Shards         int    // output files
	// BlockSize is the size of the byte ranges an input is first split
	// into (default 16 MiB: enough ranges to keep every worker busy even on
	// one file); runners may split them further while reading.
	BlockSize int64
	// MaxRecord is the longest record read (default 64 MiB, as the
	// filter's); a longer one is counted malformed and skipped.
	MaxRecord int
}

// engine loads what Config names and checks it is what the driver saw.
func (c *Config) engine(ctx context.Context) (*eligibility.Engine, *eligibility.Snapshot, bool, error) {
	snap, err := readSnapshot(ctx, c.Snapshot)
	if err != nil {
		return nil, nil, false, err
	}
	if snap.sum != c.SnapshotSHA256 {
		return nil, nil, false, fmt.Errorf("eligibility snapshot %s has content hash %s, the pipeline was built for %s: the file changed", c.Snapshot, snap.sum, c.SnapshotSHA256)
	}
	pol, err := loadPolicy(c.PolicySource, c.PolicyText)
	if err != nil {
		return nil, nil, false, err
	}
	if pol.SHA256 != c.PolicySHA256 {
		return nil, nil, false, fmt.Errorf("policy %s has sha256 %s, the pipeline was built for %s", c.PolicySource, pol.SHA256, c.PolicySHA256)
	}
	asOf := microsTime(c.AsOf)
	return eligibility.NewEngine(pol, snap.Snapshot, asOf), snap.Snapshot, pol.Compiled.Len() > 0, nil
}

// loadPolicy parses the policy the way policy.Load does.
func loadPolicy(source string, text []byte) (*policy.Policy, error) {
	if source == "" {
		return policy.Default()
	}
	return policy.Parse(text, source)
}

type loadedSnapshot struct {
	*eligibility.Snapshot
	sum string
}

// readSnapshot reads an eligibility snapshot file from any file system.
func readSnapshot(ctx context.Context, path string) (*loadedSnapshot, error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("eligibility snapshot %s: %w", path, err)
	}
	defer fsys.Close()
	r, err := fsys.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("eligibility snapshot %s: %w", path, err)
	}
	defer r.Close()
	snap, sum, err := eligibility.Read(r)
	if err != nil {
		return nil, fmt.Errorf("eligibility snapshot %s: %w", path, err)
	}
	return &loadedSnapshot{snap, sum}, nil
}

// Filtered is what Filter makes.
type Filtered struct {
	Kept    beam.PCollection // KV<int, []byte>: output shard, kept records' bytes, each followed by a newline
	Counts  beam.PCollection // []byte: the encoded counts of each range read
	Authors beam.PCollection // KV<int32, int64>: account index in the snapshot, records kept
	Inputs  beam.PCollection // []byte: each input's size and sha256 (an encoded filter.FileInfo)
}

// Filter decides every record of the files and keeps the eligible ones,
// byte for byte, each assigned to one of cfg.Shards output shards by a
// hash of its bytes.
func Filter(s beam.Scope, cfg Config, files beam.PCollection) Filtered {
	s = s.Scope("notrain.Filter")
	kept, counts, authors := beam.ParDo3(s, &filterFn{Config: cfg}, files)
	return Filtered{
		Kept:    kept,
		Counts:  counts,
		Authors: stats.SumPerKey(s, authors),
		// The manifest names each input by the hash of all its bytes, which
		// no byte range sees: one more read per file, in parallel.
		Inputs: beam.ParDo(s, &hashFn{Digest: cfg.Digest}, files),
	}
}

// shardOf spreads records over the shards by their bytes, so a record
// lands in the same shard whichever worker read it.
func shardOf(rec []byte, shards int) int {
	h := fnv.New64a()
	h.Write(rec)
	return int(h.Sum64() % uint64(shards))
}

// tally is filter.Counts as it crosses the wire.
type tally struct {
	Read, Eligible, Blank int64
	Excluded              []int64
	Rules, RuleErrors     map[string]int64
}

func encodeCounts(c *filter.Counts) []byte {
	b, _ := json.Marshal(tally{Read: c.Read, Eligible: c.Eligible, Blank: c.Blank, Excluded: c.Excluded[:], Rules: c.Rules, RuleErrors: c.RuleErrors})
	return b
}

func decodeCounts(b []byte) (filter.Counts, error) {
	var t tally
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&t); err != nil {
		return filter.Counts{}, fmt.Errorf("counts: %w", err)
	}
	if len(t.Excluded) != eligibility.NumReasons {
		return filter.Counts{}, fmt.Errorf("counts: %d reasons, this notrain has %d", len(t.Excluded), eligibility.NumReasons)
	}
	c := filter.Counts{Read: t.Read, Eligible: t.Eligible, Blank: t.Blank, Rules: t.Rules, RuleErrors: t.RuleErrors}
	copy(c.Excluded[:], t.Excluded)
	return c, nil
}
