package notrainbeam

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/filter"
)

const (
	defaultBlock     = 16 << 20
	defaultMaxRecord = 64 << 20
	batchSize        = 1 << 20 // kept bytes per element
)

// filterFn is a splittable DoFn over the bytes of one input: a range owns
// the records that start in it, whole, even when they end past it, so every
// record is read exactly once however the runner splits. Compressed inputs
// cannot be entered in the middle and are one range, [0, 1).
type filterFn struct {
	Config Config

	decider *filter.Decider
}

// Setup loads the snapshot and policy once per DoFn instance.
func (fn *filterFn) Setup(ctx context.Context) error {
	engine, _, wantText, err := fn.Config.engine(ctx)
	if err != nil {
		return err
	}
	fn.decider = filter.NewDecider(engine, wantText)
	return nil
}

func compressed(path string) bool {
	f, err := filter.FormatOf(path)
	return err == nil && (f == filter.JSONLGzip || f == filter.JSONLZstd)
}

// CreateInitialRestriction is the whole file.
func (fn *filterFn) CreateInitialRestriction(f File) offsetrange.Restriction {
	if compressed(f.Path) {
		return offsetrange.Restriction{Start: 0, End: 1}
	}
	return offsetrange.Restriction{Start: 0, End: f.Size}
}

// SplitRestriction cuts a file into blocks; a last block of less than a
// quarter joins the one before.
func (fn *filterFn) SplitRestriction(f File, rest offsetrange.Restriction) []offsetrange.Restriction {
	if compressed(f.Path) {
		return []offsetrange.Restriction{rest}
	}
	block := fn.Config.BlockSize
	if block <= 0 {
		block = defaultBlock
	}
	splits := rest.SizedSplits(block)
	if n := len(splits); n > 1 && splits[n-1].End-splits[n-1].Start <= block/4 {
		splits[n-2].End = splits[n-1].End
		splits = splits[:n-1]
	}
	return splits
}

// RestrictionSize is the bytes a range covers (a compressed file: all).
func (fn *filterFn) RestrictionSize(f File, rest offsetrange.Restriction) float64 {
	if compressed(f.Path) {
		return float64(f.Size)
	}
	return rest.Size()
}

// CreateTracker tracks the offsets of the records' first bytes.
func (fn *filterFn) CreateTracker(rest offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(rest))
}

// ProcessElement decides the records that start in the range and emits
// the kept ones (by shard), the range's counts, and what it kept of each
// account.
func (fn *filterFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, f File, emitKept func(int, []byte), emitCounts func([]byte), emitAuthor func(int32, int64)) error {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	fsys, err := filesystem.New(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer fsys.Close()
	rc, err := fsys.OpenRead(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer rc.Close()
	shards := max(fn.Config.Shards, 1)
	var counts filter.Counts
	authors := map[int32]int64{}
	// Kept records travel in batches per shard, each record followed by
	// its newline: one element per megabyte instead of one per record
	// keeps the runner's per-element cost (encoding, the data channel,
	// grouping) from dwarfing the filter's own.
	batches := make([][]byte, shards)
	decide := func(line []byte) {
		keep, author := fn.decider.Line(line, &counts)
		if !keep {
			return
		}
		sh := shardOf(line, shards)
		if batches[sh] == nil {
			batches[sh] = make([]byte, 0, batchSize+len(line)+1)
		}
		batches[sh] = append(append(batches[sh], line...), '\n')
		if len(batches[sh]) >= batchSize {
			emitKept(sh, batches[sh])
			batches[sh] = nil // the runner may hold the emitted slice
		}
		if author >= 0 {
			authors[author]++
		}
	}
	lr := &lineReader{max: fn.Config.MaxRecord}
	if lr.max <= 0 {
		lr.max = defaultMaxRecord
	}
	if compressed(f.Path) {
		err = fn.readCompressed(ctx, rt, f, rc, lr, decide, &counts)
	} else {
		err = fn.readRange(ctx, rt, f, rc, rest, lr, decide, &counts)
	}
	if err != nil {
		return err
	}
	if err := rt.GetError(); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	for sh, b := range batches {
		if len(b) > 0 {
			emitKept(sh, b)
		}
	}
	emitCounts(encodeCounts(&counts))
	for a, n := range authors {
		emitAuthor(a, n)
	}
	return nil
}

// readRange reads the records that start in rest.
func (fn *filterFn) readRange(ctx context.Context, rt *sdf.LockRTracker, f File, rc io.ReadCloser, rest offsetrange.Restriction, lr *lineReader, decide func([]byte), counts *filter.Counts) error {
	pos := rest.Start
	if pos > 0 {
		// The record that holds byte pos-1 started in an earlier range (or
		// ends right there): skip to its end. Starting one byte early sees a
		// record that starts exactly at pos as this range's.
		if err := skip(rc, pos-1); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		pos--
	}
	lr.br = bufio.NewReaderSize(rc, 1<<20)
	if rest.Start > 0 {
		_, n, _, err := lr.next()
		pos += n
		if errors.Is(err, io.EOF) {
			rt.TryClaim(rest.End)
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	for rt.TryClaim(pos) {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, n, oversize, err := lr.next()
		if n == 0 && errors.Is(err, io.EOF) {
			rt.TryClaim(rest.End) // the file ended early: the hash step reports it
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		pos += n
		if oversize {
			counts.Oversize()
		} else {
			decide(line)
		}
		if err != nil { // io.EOF after a last line without a newline
			rt.TryClaim(rest.End)
			return nil
		}
	}
	return nil
}

// readCompressed reads a whole compressed file as its one position.
func (fn *filterFn) readCompressed(ctx context.Context, rt *sdf.LockRTracker, f File, rc io.ReadCloser, lr *lineReader, decide func([]byte), counts *filter.Counts) error {
	if !rt.TryClaim(int64(0)) {
		return nil
	}
	var r io.Reader
	switch format, _ := filter.FormatOf(f.Path); format {
	case filter.JSONLGzip:
		zr, err := gzip.NewReader(rc)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		defer zr.Close()
		r = zr
	default:
		zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		defer zr.Close()
		r = zr
	}
	lr.br = bufio.NewReaderSize(r, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, n, oversize, err := lr.next()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if n > 0 {
			if oversize {
				counts.Oversize()
			} else {
				decide(line)
			}
		}
		if err != nil {
			rt.TryClaim(int64(1))
			return nil
		}
	}
}

// skip moves r forward by n bytes, seeking when it can.
func skip(r io.Reader, n int64) error {
	if s, ok := r.(io.Seeker); ok {
		_, err := s.Seek(n, io.SeekStart)
		return err
	}
	m, err := io.CopyN(io.Discard, r, n)
	if m < n && errors.Is(err, io.EOF) {
		return fmt.Errorf("range starts at byte %d, past the file's end (%d bytes): the file changed", n+1, m)
	}
	return err
}

// lineReader reads lines of any length up to max without holding more.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// next returns the next line without its newline, and the bytes consumed
// (with the newline). A line longer than max is skipped to its end and
// reported as oversize. At the end of the input err is io.EOF, with the last
// line if it has no newline.
func (l *lineReader) next() (line []byte, n int64, oversize bool, err error) {
	l.buf = l.buf[:0]
	for {
		frag, err := l.br.ReadSlice('\n')
		n += int64(len(frag))
		if !oversize && len(l.buf)+len(frag) > l.max+1 {
			oversize, l.buf = true, l.buf[:0]
		}
		switch {
		case err == nil:
			if oversize || len(frag)-1 > l.max {
				return nil, n, true, nil
			}
			if len(l.buf) == 0 {
				return frag[:len(frag)-1], n, false, nil
			}
			l.buf = append(l.buf, frag...)
			return l.buf[:len(l.buf)-1], n, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if !oversize {
				l.buf = append(l.buf, frag...)
			}
		case errors.Is(err, io.EOF):
			if oversize || len(l.buf)+len(frag) > l.max {
				return nil, n, n > 0, io.EOF
			}
			l.buf = append(l.buf, frag...)
			return l.buf, n, false, io.EOF
		default:
			return nil, n, false, err
		}
	}
}

// hashFn reads a whole input for its size and digest.
type hashFn struct {
	Digest string
}

// ProcessElement emits the input's filter.FileInfo, encoded.
func (fn *hashFn) ProcessElement(ctx context.Context, f File, emit func([]byte)) error {
	fsys, err := filesystem.New(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer fsys.Close()
	r, err := fsys.OpenRead(ctx, f.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer r.Close()
	alg := digest.Algorithm(fn.Digest)
	h := alg.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if n != f.Size {
		return fmt.Errorf("%s: %d bytes, %d when the run started: the input changed while it was read", f.Path, n, f.Size)
	}
	format, _ := filter.FormatOf(f.Path)
	b, err := json.Marshal(filter.NewFileInfo(f.Path, format, n, alg, h.Sum(nil)))
	if err != nil {
		return err
	}
	emit(b)
	return nil
}

func microsTime(us int64) time.Time { return time.UnixMicro(us).UTC() }
