package filter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/parquet-go/parquet-go"

	"github.com/notrain/notrain/internal/eligibility"
)

// ParquetSource is a Parquet file read at random, as a distributed reader
// sees one: its name for errors, its bytes and its size.
type ParquetSource struct {
	Path string
	R    io.ReaderAt
	Size int64
}

// ParquetRowGroups returns how many row groups the file holds, so that a
// caller can cut it into runs of row groups to decide apart.
func ParquetRowGroups(src ParquetSource) (int, error) {
	pf, err := openParquetAt(src.R, src.Size, src.Path)
	if err != nil {
		return 0, err
	}
	return len(pf.RowGroups()), nil
}

// RowGroupsJob is the decision of row groups [First, End) of one Parquet
// file, as a part of a run that someone else puts together.
type RowGroupsJob struct {
	Source     ParquetSource
	First, End int
	Engine     *eligibility.Engine
	WantText   bool
	Workers    int    // default: every CPU
	SpillDir   string // where the output's pages wait for their row group (default: the system's temporary directory)
}

// RowGroupsResult is what deciding a run of row groups found.
type RowGroupsResult struct {
	Counts  Counts
	Kept    int64           // rows written
	Authors map[int32]int64 // account index in the snapshot -> rows kept
}

// DecideRowGroups decides the rows of row groups [First, End) with the
// filter's own Parquet code — the same columnar decision and the same copy
// of the kept rows, values as they are in the input — and writes the kept
// rows to w as one Parquet file with the input's schema and writer
// settings, as `notrain filter` would write them. Row groups are decided
// in runs of up to pqTaskBytes, as runParquet does. An empty file (no row
// group) is still a valid Parquet file with the schema.
func DecideRowGroups(ctx context.Context, job RowGroupsJob, w io.Writer) (*RowGroupsResult, error) {
	src := job.Source
	pf, err := openParquetAt(src.R, src.Size, src.Path)
	if err != nil {
		return nil, err
	}
	groups := pf.RowGroups()
	if job.First < 0 || job.End > len(groups) || job.First > job.End {
		return nil, fmt.Errorf("%s: row groups [%d, %d) of %d", src.Path, job.First, job.End, len(groups))
	}
	if job.Workers <= 0 {
		job.Workers = runtime.GOMAXPROCS(0)
	}
	dir := job.SpillDir
	if dir == "" {
		dir = os.TempDir()
	}
	spill := &pqSpill{dir: dir}
	defer spill.close()
	schema, meta := pf.Schema(), pf.Metadata()
	pw := parquet.NewGenericWriter[any](w, pqWriterOptions(schema, meta, spill)...)
	fjob := Job{Engine: job.Engine, WantText: job.WantText, Workers: job.Workers}
	worker := newPQWorker(&fjob, newPQLayout(schema), schema, false)
	in := &pqInput{path: src.Path}
	res := &RowGroupsResult{Authors: map[int32]int64{}}
	rgw := pw.BeginRowGroup()

	// The rows before First, for the row numbers the worker keeps.
	var firstRow int64
	for i := range job.First {
		firstRow += groups[i].NumRows()
	}
	run := func(t *pqTask) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t.rgw = rgw
		if err := worker.process(t); err != nil {
			return fmt.Errorf("%s: %w", src.Path, err)
		}
		if t.kept > 0 {
			if _, err := rgw.Commit(); err != nil {
				return fmt.Errorf("%s: write: %w", src.Path, err)
			}
		}
		res.Counts.merge(&t.counts)
		res.Kept += t.kept
		for _, a := range t.authors {
			res.Authors[a]++
		}
		return nil
	}
	var t *pqTask
	for i := job.First; i < job.End; i++ {
		rg := groups[i]
		n := rg.NumRows()
		if n == 0 {
			continue
		}
		start, end, err := rowGroupSpan(&meta.RowGroups[i], src.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: row group %d: %w", src.Path, i, err)
		}
		rgSize := max(meta.RowGroups[i].TotalByteSize, end-start)
		if t != nil && t.size+rgSize > pqTaskBytes {
			if err := run(t); err != nil {
				return nil, err
			}
			t = nil
		}
		if t == nil {
			t = &pqTask{in: in}
		}
		frg, ok := rg.(*parquet.FileRowGroup)
		if !ok {
			return nil, fmt.Errorf("%s: row group %d is not read from the file", src.Path, i)
		}
		t.parts = append(t.parts, pqPart{rg: frg, meta: &meta.RowGroups[i], firstRow: firstRow})
		t.size += rgSize
		firstRow += n
	}
	if t != nil {
		if err := run(t); err != nil {
			return nil, err
		}
	}
	if err := pw.Close(); err != nil {
		return nil, fmt.Errorf("%s: write: %w", src.Path, err)
	}
	return res, nil
}

// MergeParquet writes to w one Parquet file with the schema and writer
// settings of template (the input the parts were decided from) holding the
// row groups of parts in order, copied as they are. Every part must have
// the template's schema. It returns the rows written.
func MergeParquet(ctx context.Context, w io.Writer, template ParquetSource, parts []ParquetSource, spillDir string) (int64, error) {
	tf, err := openParquetAt(template.R, template.Size, template.Path)
	if err != nil {
		return 0, err
	}
	if spillDir == "" {
		spillDir = os.TempDir()
	}
	spill := &pqSpill{dir: spillDir}
	defer spill.close()
	schema := tf.Schema()
	pw := parquet.NewGenericWriter[any](w, pqWriterOptions(schema, tf.Metadata(), spill)...)
	var rows int64
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		pf, err := openParquetAt(p.R, p.Size, p.Path)
		if err != nil {
			return 0, err
		}
		if !parquet.EqualNodes(schema, pf.Schema()) {
			return 0, fmt.Errorf("%s: its schema differs from that of %s, and a shard is one file with one schema", p.Path, template.Path)
		}
		for _, rg := range pf.RowGroups() {
			n, err := copyRowGroup(pw, rg)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", p.Path, err)
			}
			rows += n
		}
	}
	if err := pw.Close(); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	return rows, nil
}

// copyRowGroup copies one row group; a corrupt one that makes the library
// panic is an error.
func copyRowGroup(pw *parquet.GenericWriter[any], rg parquet.RowGroup) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errCorrupt, r)
		}
	}()
	n, err = pw.WriteRowGroup(rg)
	if errors.Is(err, parquet.ErrRowGroupSchemaMismatch) {
		// The output's schema carries its own codecs: copy row by row.
		rows := rg.Rows()
		defer rows.Close()
		n, err = parquet.CopyRows(pw, rows)
	}
	return n, err
}

// SameParquetSchema fails unless b has the schema of a: the files of one
// output hold one schema, as runParquet requires of its inputs.
func SameParquetSchema(a, b ParquetSource) error {
	fa, err := openParquetAt(a.R, a.Size, a.Path)
	if err != nil {
		return err
	}
	fb, err := openParquetAt(b.R, b.Size, b.Path)
	if err != nil {
		return err
	}
	if !parquet.EqualNodes(fa.Schema(), fb.Schema()) {
		return fmt.Errorf("%s: its schema differs from that of %s, and the output has one schema:\n%s\nversus\n%s", b.Path, a.Path, fb.Schema(), fa.Schema())
	}
	return nil
}
