package filter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// Deciding a file in runs of row groups and merging the runs' outputs must
// give the rows, counts and authors of one `notrain filter` run.
func TestDecideRowGroupsAgreesWithRun(t *testing.T) {
	var rows []pqRow
	authors := []string{"ben", "obj", "anna", "teen", "nobody"}
	for i := range 9000 {
		r := pqPost(fmt.Sprintf("id-%05d", i), authors[i%len(authors)], "2026-01-01T10:00:00Z")
		r.Text = strings.Repeat("t", i%300)
		if i%7 == 0 {
			r.ID = "" // malformed
		}
		rows = append(rows, r)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	pqWrite(t, in, rows, parquet.MaxRowsPerRowGroup(700), parquet.Compression(&parquet.Snappy))
	out := filepath.Join(dir, "out.parquet")
	want := pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, ""), Workers: 2})
	wantRows, err := parquet.ReadFile[pqRow](out)
	if err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	src := ParquetSource{Path: in, R: bytes.NewReader(data), Size: int64(len(data))}
	n, err := ParquetRowGroups(src)
	if err != nil || n < 10 {
		t.Fatalf("row groups: %d, %v", n, err)
	}
	var total Counts
	authorsKept := map[int32]int64{}
	var parts []ParquetSource
	for first := 0; first < n; first += 3 {
		var buf bytes.Buffer
		res, err := DecideRowGroups(context.Background(), RowGroupsJob{Source: src, First: first, End: min(first+3, n),
			Engine: pqEngine(t, ""), Workers: 2, SpillDir: dir}, &buf)
		if err != nil {
			t.Fatal(err)
		}
		total.merge(&res.Counts)
		for a, k := range res.Authors {
			authorsKept[a] += k
		}
		b := buf.Bytes()
		parts = append(parts, ParquetSource{Path: fmt.Sprint("part ", first), R: bytes.NewReader(b), Size: int64(len(b))})
	}
	var merged bytes.Buffer
	kept, err := MergeParquet(context.Background(), &merged, src, parts, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parquet.Read[pqRow](bytes.NewReader(merged.Bytes()), int64(merged.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantRows) || kept != int64(len(wantRows)) {
		t.Errorf("merged: %d rows (%d written), want %d", len(got), kept, len(wantRows))
	}
	if !reflect.DeepEqual(total.ExcludedByReason(), want.Counts.ExcludedByReason()) || total.Read != want.Counts.Read || total.Eligible != want.Counts.Eligible {
		t.Errorf("counts %+v, want %+v", total, want.Counts)
	}
	var wantAuthors int
	for range want.Kept() {
		wantAuthors++
	}
	if len(authorsKept) != wantAuthors {
		t.Errorf("%d authors kept, want %d", len(authorsKept), wantAuthors)
	}

	// An empty merge is a valid file with the schema.
	var empty bytes.Buffer
	if _, err := MergeParquet(context.Background(), &empty, src, nil, dir); err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(empty.Bytes()), int64(empty.Len()))
	if err != nil || pf.NumRows() != 0 || !parquet.EqualNodes(pf.Schema(), pqOpen(t, in).Schema()) {
		t.Errorf("empty merge: %v", err)
	}
	// A damaged input is an error, not a panic.
	bad := pqGarble(data, int64(len(data))/2, 64)
	_, err = DecideRowGroups(context.Background(), RowGroupsJob{Source: ParquetSource{Path: "bad", R: bytes.NewReader(bad), Size: int64(len(bad))},
		First: 0, End: n, Engine: pqEngine(t, ""), Workers: 2, SpillDir: dir}, &bytes.Buffer{})
	if err == nil {
		t.Error("damaged input decided without error")
	}
	pqOnlyInputs(t, dir, in, out, filepath.Join(dir, "out.lineage.jsonl"))
}

// Whatever the bytes, deciding row groups and merging the result fail with
// an error or succeed; they never panic.
func FuzzDecideRowGroups(f *testing.F) {
	dir := f.TempDir()
	in := filepath.Join(dir, "in.parquet")
	var rows []pqRow
	for i := range 40 {
		rows = append(rows, pqPost(fmt.Sprintf("id-%d", i), []string{"ben", "anna", "obj"}[i%3], "2026-01-01T10:00:00Z"))
	}
	pqWrite(f, in, rows, parquet.MaxRowsPerRowGroup(10))
	seed, err := os.ReadFile(in)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, 0, 4)
	f.Add(seed, 1, 3)
	engine := pqEngine(f, "")
	f.Fuzz(func(t *testing.T, data []byte, first, end int) {
		src := ParquetSource{Path: "fuzz.parquet", R: bytes.NewReader(data), Size: int64(len(data))}
		n, err := ParquetRowGroups(src)
		if err != nil {
			return
		}
		first, end = min(max(first, 0), n), min(max(end, 0), n)
		var buf bytes.Buffer
		res, err := DecideRowGroups(context.Background(), RowGroupsJob{Source: src, First: min(first, end), End: end, Engine: engine, Workers: 2, SpillDir: t.TempDir()}, &buf)
		if err != nil {
			return
		}
		out := ParquetSource{Path: "part", R: bytes.NewReader(buf.Bytes()), Size: int64(buf.Len())}
		rows, err := MergeParquet(context.Background(), io.Discard, src, []ParquetSource{out}, t.TempDir())
		if err == nil && rows != res.Kept {
			t.Fatalf("merged %d rows, %d kept", rows, res.Kept)
		}
	})
}

// Files of one output must share a schema: the same schema passes, another
// (a different column type) fails and names the file.
func TestSameParquetSchema(t *testing.T) {
	dir := t.TempDir()
	source := func(name string, write func(path string)) ParquetSource {
		path := filepath.Join(dir, name)
		write(path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return ParquetSource{Path: path, R: bytes.NewReader(data), Size: int64(len(data))}
	}
	a := source("a.parquet", func(p string) { pqWrite(t, p, []pqRow{pqPost("1", "ben", "2026-01-01T10:00:00Z")}) })
	b := source("b.parquet", func(p string) { pqWrite(t, p, []pqRow{pqPost("2", "anna", "2026-02-01T10:00:00Z")}) })
	c := source("c.parquet", func(p string) {
		pqWrite(t, p, []pqMillisRow{{ID: "3", Product: "facebook", AuthorID: "ben", Kind: "post", Visibility: "public"}})
	})
	if err := SameParquetSchema(a, b); err != nil {
		t.Fatalf("two files of one schema: %v", err)
	}
	if err := SameParquetSchema(a, c); err == nil || !strings.Contains(err.Error(), "c.parquet") {
		t.Fatalf("a file of another schema: %v", err)
	}
}
