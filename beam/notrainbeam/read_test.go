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

// Whatever the block size, every line is read exactly once, by the range
// its first byte is in, whole, with its CR; an oversize line is counted
// once, and a last line without a newline is read.
func TestRangesReadEveryLineOnce(t *testing.T) {
	var want [][]byte
	var in bytes.Buffer
	for i := range 40 {
		line := fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, i, bytes.Repeat([]byte("x"), i*7%23))
		if i%5 == 0 {
			line = append(line, '\r')
		}
		if i == 17 {
			line = bytes.Repeat([]byte("y"), 100) // longer than MaxRecord below
		} else {
			want = append(want, line)
		}
		in.Write(line)
		if i < 39 {
			in.WriteByte('\n')
		}
	}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(path, in.Bytes(), 0o644)
	f := File{Path: path, Size: int64(in.Len())}
	for block := int64(1); block <= int64(in.Len())+1; block += 1 + block/8 {
		fn := &filterFn{Config: Config{BlockSize: block, MaxRecord: 64}}
		var got [][]byte
		var counts filter.Counts
		for _, rest := range fn.SplitRestriction(f, fn.CreateInitialRestriction(f)) {
			rt := sdf.NewLockRTracker(offsetrange.NewTracker(rest))
			rc, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			lr := &lineReader{max: fn.Config.MaxRecord}
			err = fn.readRange(context.Background(), rt, f, rc, rest, lr, func(l []byte) { got = append(got, bytes.Clone(l)) }, &counts)
			rc.Close()
			if err != nil || rt.GetError() != nil || !rt.IsDone() {
				t.Fatalf("block %d, range %v: %v %v done=%v", block, rest, err, rt.GetError(), rt.IsDone())
			}
		}
		if !slices.EqualFunc(got, want, bytes.Equal) || counts.Read != 1 {
			t.Fatalf("block %d: read %d lines (want %d), %d oversize", block, len(got), len(want), counts.Read)
		}
	}
}
