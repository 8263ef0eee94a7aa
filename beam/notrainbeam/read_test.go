package notrainbeam

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"

	"github.com/notrain/notrain/internal/filter"
)

// readRanges reads a file the way the pipeline does, range by range, and
// returns the lines read and how many were oversize.
func readRanges(t testing.TB, path string, size, block int64, maxRecord int) ([][]byte, int64) {
	t.Helper()
	f := File{Path: path, Size: size}
	fn := &filterFn{Config: Config{BlockSize: block, MaxRecord: maxRecord}}
	var got [][]byte
	var counts filter.Counts
	for _, rest := range fn.SplitRestriction(f, fn.CreateInitialRestriction(f)) {
		rt := sdf.NewLockRTracker(offsetrange.NewTracker(rest))
		rc, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		lr := &lineReader{max: maxRecord}
		err = fn.readRange(context.Background(), rt, f, rc, rest, lr, func(l []byte) { got = append(got, bytes.Clone(l)) }, &counts)
		rc.Close()
		if err != nil || rt.GetError() != nil || !rt.IsDone() {
			t.Fatalf("block %d, range %v: %v %v done=%v", block, rest, err, rt.GetError(), rt.IsDone())
		}
	}
	return got, counts.Read
}

// lines is what reading must give: every newline-separated line (the last
// one even without a newline), those longer than maxRecord counted apart.
func lines(data []byte, maxRecord int) (out [][]byte, oversize int64) {
	parts := bytes.Split(data, []byte("\n"))
	if len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	for _, p := range parts {
		if len(p) > maxRecord {
			oversize++
			continue
		}
		out = append(out, p)
	}
	return out, oversize
}

// Whatever the block size, every line is read exactly once, by the range
// its first byte is in, whole, with its CR; an oversize line is counted
// once, and a last line without a newline is read.
func TestRangesReadEveryLineOnce(t *testing.T) {
	var in bytes.Buffer
	for i := range 40 {
		line := fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("x"), i*7%23))
		if i%5 == 0 {
			line = append(line, '\r')
		}
		if i == 17 {
			line = bytes.Repeat([]byte("y"), 100) // longer than maxRecord below
		}
		in.Write(line)
		if i < 39 {
			in.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(path, in.Bytes(), 0o644)
	want, wantOver := lines(in.Bytes(), 64)
	if wantOver != 1 || len(want) != 39 {
		t.Fatalf("test data: %d lines, %d oversize", len(want), wantOver)
	}
	for block := int64(1); block <= int64(in.Len())+1; block += 1 + block/8 {
		got, over := readRanges(t, path, int64(in.Len()), block, 64)
		if !slices.EqualFunc(got, want, bytes.Equal) || over != wantOver {
			t.Fatalf("block %d: read %d lines (want %d), %d oversize", block, len(got), len(want), over)
		}
	}
}

// The line reader and the ranges never lose, repeat or cut a line,
// whatever the bytes.
func FuzzRanges(f *testing.F) {
	f.Add([]byte("a\nbb\r\n\nccc"), int64(2), 3)
	f.Add([]byte("\n\n\n"), int64(1), 1)
	f.Add(bytes.Repeat([]byte("xyz\n"), 50), int64(7), 2)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, block int64, maxRecord int) {
		if len(data) == 0 || block <= 0 || maxRecord <= 0 || maxRecord > 1<<20 {
			return
		}
		path := filepath.Join(dir, "in.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		want, wantOver := lines(data, maxRecord)
		got, over := readRanges(t, path, int64(len(data)), block, maxRecord)
		if !slices.EqualFunc(got, want, bytes.Equal) || over != wantOver {
			t.Fatalf("block %d, max %d: read %q (%d oversize), want %q (%d)", block, maxRecord, got, over, want, wantOver)
		}
	})
}
