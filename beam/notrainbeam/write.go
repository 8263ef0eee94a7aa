package notrainbeam

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/filter"
)

// ShardName is the final name of shard s of n: PREFIX-SSSSS-of-NNNNN.jsonl,
// or .parquet for Parquet shards.
func ShardName(prefix string, s, n int, format filter.Format) string {
	ext := "jsonl"
	if format == filter.Parquet {
		ext = "parquet"
	}
	return fmt.Sprintf("%s-%05d-of-%05d.%s", prefix, s, n, ext)
}

// tempName is where an attempt writes a file before the driver installs
// it: hidden, beside the final name, marked with the run so that the
// driver finds and removes every attempt's leftovers, and unique per
// attempt so that a retried bundle never writes into another's file.
func tempName(final, runID string) string {
	dir, base := splitPath(final)
	return dir + "." + base + ".tmp-" + runID + "-" + randomHex(6)
}

// tempGlob matches every temporary file of a run under prefix.
func tempGlob(prefix, runID string) string {
	dir, base := splitPath(prefix)
	return dir + "." + base + "*.tmp-" + runID + "-*"
}

// splitPath cuts a path (local or a URL such as gs://b/x) after its last slash.
func splitPath(p string) (dir, base string) {
	i := strings.LastIndex(p, "/")
	return p[:i+1], p[i+1:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// shardInfo is one written shard, still under its temporary name.
type shardInfo struct {
	Shard   int
	Temp    string
	Records int64
	filter.FileInfo
}

// WriteShards groups the kept records by shard and writes each shard as
// its own file, so that writing spreads over the workers like reading
// (textio.Write funnels everything through one, Beam issue #21031). Every
// shard is written, empty or not. It returns each shard's encoded shardInfo.
func WriteShards(s beam.Scope, prefix, runID string, shards int, alg digest.Algorithm, kept beam.PCollection) beam.PCollection {
	s = s.Scope("notrain.WriteShards")
	ids := make([]int, shards)
	for i := range ids {
		ids[i] = i
	}
	// An empty batch makes a shard exist that received no record.
	seeds := beam.ParDo(s, seedShards, beam.CreateList(s, ids))
	grouped := beam.GroupByKey(s, beam.Flatten(s, kept, seeds))
	return beam.ParDo(s, &shardFn{Prefix: prefix, RunID: runID, Shards: shards, Digest: string(alg)}, grouped)
}

func seedShards(i int) (int, []byte) { return i, nil }

// shardFn writes one shard.
type shardFn struct {
	Prefix string
	RunID  string
	Shards int
	Digest string
}

// ProcessElement writes the shard's batches of records (each record with
// its newline, which a file's last record may have lacked in the input) and
// emits its shardInfo.
func (fn *shardFn) ProcessElement(ctx context.Context, shard int, recs func(*[]byte) bool, emit func([]byte)) error {
	final := ShardName(fn.Prefix, shard, fn.Shards, filter.JSONL)
	return writeShard(ctx, shard, final, fn.RunID, digest.Algorithm(fn.Digest), filter.JSONL, func(w io.Writer) (int64, error) {
		bw := bufio.NewWriterSize(w, 1<<20)
		var batch []byte
		var records int64
		for recs(&batch) {
			records += int64(bytes.Count(batch, []byte{'\n'}))
			if _, err := bw.Write(batch); err != nil {
				return 0, err
			}
		}
		return records, bw.Flush()
	}, emit)
}

// createFile opens path for writing on its file system; closing the
// writer closes both.
func createFile(ctx context.Context, path string) (io.WriteCloser, error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	w, err := fsys.OpenWrite(ctx, path)
	if err != nil {
		fsys.Close()
		return nil, err
	}
	return &fileWriter{WriteCloser: w, fsys: fsys}, nil
}

type fileWriter struct {
	io.WriteCloser
	fsys filesystem.Interface
}

func (f *fileWriter) Close() error { return errors.Join(f.WriteCloser.Close(), f.fsys.Close()) }

// writeShard writes shard's file under its temporary name with write,
// which says how many records it wrote, and emits the shard's info: its
// final name, size and digest of the bytes written.
func writeShard(ctx context.Context, shard int, final, runID string, alg digest.Algorithm, format filter.Format, write func(io.Writer) (int64, error), emit func([]byte)) error {
	tmp := tempName(final, runID)
	w, err := createFile(ctx, tmp)
	if err != nil {
		return fmt.Errorf("shard %s: %w", final, err)
	}
	cw := &countingWriter{w: w, h: alg.New()}
	records, err := write(cw)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("shard %s: %w", final, err)
	}
	info, err := json.Marshal(shardInfo{Shard: shard, Temp: tmp, Records: records,
		FileInfo: filter.NewFileInfo(final, format, cw.n, alg, cw.h.Sum(nil))})
	if err != nil {
		return err
	}
	emit(info)
	return nil
}

type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// outcome is what the pipeline tells the driver, in one small file.
type outcome struct {
	Shards  []shardInfo
	Counts  tally
	Authors [][2]int64 // account index, records kept
	Inputs  []filter.FileInfo
}

// Collect gathers the shards' names and hashes, the counts, what was kept
// of each account and the inputs' hashes into one file at path, for the
// driver, which finishes the run only after the whole pipeline succeeded.
func Collect(s beam.Scope, path string, shards beam.PCollection, f Filtered) {
	s = s.Scope("notrain.Collect")
	beam.ParDo0(s, &collectFn{Path: path}, beam.Impulse(s),
		beam.SideInput{Input: shards}, beam.SideInput{Input: f.Counts}, beam.SideInput{Input: f.Authors}, beam.SideInput{Input: f.Inputs})
}

type collectFn struct {
	Path string
}

// ProcessElement writes the outcome.
func (fn *collectFn) ProcessElement(ctx context.Context, _ []byte, shards, counts func(*[]byte) bool, authors func(*int32, *int64) bool, inputs func(*[]byte) bool) error {
	var o outcome
	var b []byte
	for shards(&b) {
		var si shardInfo
		if err := json.Unmarshal(b, &si); err != nil {
			return fmt.Errorf("shard info: %w", err)
		}
		o.Shards = append(o.Shards, si)
	}
	var total filter.Counts
	for counts(&b) {
		c, err := decodeCounts(b)
		if err != nil {
			return err
		}
		total.Merge(&c)
	}
	o.Counts = tally{Read: total.Read, Eligible: total.Eligible, Blank: total.Blank, Excluded: total.Excluded[:], Rules: total.Rules, RuleErrors: total.RuleErrors}
	var a int32
	var n int64
	for authors(&a, &n) {
		o.Authors = append(o.Authors, [2]int64{int64(a), n})
	}
	for inputs(&b) {
		var fi filter.FileInfo
		if err := json.Unmarshal(b, &fi); err != nil {
			return fmt.Errorf("input info: %w", err)
		}
		o.Inputs = append(o.Inputs, fi)
	}
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	fsys, err := filesystem.New(ctx, fn.Path)
	if err != nil {
		return err
	}
	defer fsys.Close()
	return filesystem.Write(ctx, fsys, fn.Path, body)
}
