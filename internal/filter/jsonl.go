package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/record"
)

const (
	chunkSize        = 1 << 19  // work unit: about 1,500 records
	defaultMaxRecord = 64 << 20 // longer lines are malformed and skipped unread
)

// chunk is a run of whole lines from one input.
type chunk struct {
	seq       int
	file      int
	firstLine int64
	buf       *[]byte // pooled; data is a prefix of it
	data      []byte
	oversize  bool // data is empty: one record longer than maxRecord was skipped

	out *[]byte
	part
}

// runJSONL: a reader cuts the inputs into chunks of whole lines, workers
// decide every line, and a writer puts the kept lines out in input order.
// Memory is the snapshot plus a bounded number of chunks in flight.
func runJSONL(ctx context.Context, job Job, inFmts []Format, outFmt Format, out, rejects *Temp, lin *lineage, res *Result) error {
	g, ctx := errgroup.WithContext(ctx)
	// Enough chunks in flight to keep every worker busy while the writer
	// waits for an earlier chunk, and no more: each costs half a megabyte in
	// and out. (Twice as many chunks of half the size as before: the reader
	// had waited for a free slot half of the time while workers waited for
	// work; 6 M records took 5.4 s instead of 5.9 s, median of 3.)
	inflight := 2*job.Workers + 4
	bufs := &sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}
	work := make(chan *chunk, inflight)
	done := make(chan *chunk, inflight)
	slots := make(chan struct{}, inflight) // bounds chunks in flight
	var progress progressCounter
	stopProgress := startProgress(job, &progress)
	defer stopProgress()

	g.Go(func() error {
		defer close(work)
		return readInputs(ctx, job, inFmts, bufs, work, slots, &progress, res)
	})
	var wg sync.WaitGroup
	for range job.Workers {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			p := &record.Parser{WantText: job.WantText}
			for c := range work {
				if err := ctx.Err(); err != nil {
					return err
				}
				decideChunk(job, p, c, rejects != nil)
				select {
				case done <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	go func() { wg.Wait(); close(done) }()
	g.Go(func() error {
		return writeInOrder(ctx, job, outFmt, out, rejects, lin, bufs, done, slots, &progress, res)
	})
	return g.Wait()
}

// readInputs reads every input in turn and sends chunks of whole lines.
func readInputs(ctx context.Context, job Job, inFmts []Format, bufs *sync.Pool, work chan<- *chunk, slots chan struct{}, progress *progressCounter, res *Result) error {
	seq := 0
	for fi, path := range job.Inputs {
		info, err := readInput(ctx, fi, path, inFmts[fi], job.Digest, job.MaxRecord, bufs, work, slots, &seq, progress)
		if err != nil {
			return err
		}
		res.Inputs = append(res.Inputs, info)
	}
	return nil
}

func readInput(ctx context.Context, fi int, path string, f Format, alg digest.Algorithm, maxRecord int, bufs *sync.Pool, work chan<- *chunk, slots chan struct{}, seq *int, progress *progressCounter) (FileInfo, error) {
	file, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer file.Close()
	if st, err := file.Stat(); err == nil {
		progress.total.Add(st.Size())
	}
	hr := &hashingReader{r: file, alg: alg, hash: alg.New()}
	var r io.Reader = hr
	closeDecoder := func() {}
	switch f {
	case JSONLGzip:
		zr, err := gzip.NewReader(hr)
		if err != nil {
			return FileInfo{}, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	case JSONLZstd:
		// One goroutine: the decoder then reads the file only inside Read,
		// so the hash is complete when it returns io.EOF.
		zr, err := zstd.NewReader(hr, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return FileInfo{}, fmt.Errorf("%s: %w", path, err)
		}
		closeDecoder = zr.Close
		defer zr.Close()
		r = zr
	}
	send := func(c *chunk) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.seq, c.file = *seq, fi
		*seq++
		select {
		case work <- c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var carry []byte // the start of a line that continues in the next read
	var line int64 = 1
	var lastRead int64
	for eof := false; !eof; {
		var bp *[]byte
		var buf []byte
		if len(carry) < chunkSize/2 {
			bp = bufs.Get().(*[]byte)
			buf = append((*bp)[:0], carry...)
		} else {
			// A line longer than half a chunk: a bigger, unpooled buffer, but
			// never more than the record limit plus one byte, so a record over
			// the limit always shows as a full buffer without a line end.
			buf = append(make([]byte, 0, min(2*len(carry)+chunkSize, maxRecord+1)), carry...)
		}
		for len(buf) < cap(buf) && !eof {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			switch {
			case errors.Is(err, io.EOF):
				eof = true
			case err != nil:
				return FileInfo{}, fmt.Errorf("%s: %w", path, err)
			}
		}
		n := hr.n.Load()
		progress.read.Add(n - lastRead)
		lastRead = n
		data := buf
		carry = carry[:0]
		if !eof {
			cut := bytes.LastIndexByte(buf, '\n')
			if cut < 0 {
				if len(buf) <= maxRecord {
					carry = append(carry, buf...)
					if bp != nil {
						bufs.Put(bp)
					}
					continue
				}
				// A record this long is malformed: skip to its end, keep what follows.
				rest, more, err := skipLine(r)
				if err != nil {
					return FileInfo{}, fmt.Errorf("%s: %w", path, err)
				}
				eof = !more
				carry = append(carry, rest...)
				if bp != nil {
					bufs.Put(bp)
				}
				if err := send(&chunk{firstLine: line, oversize: true}); err != nil {
					return FileInfo{}, err
				}
				line++
				continue
			}
			data = buf[:cut+1]
			carry = append(carry, buf[cut+1:]...)
		}
		if len(data) == 0 {
			if bp != nil {
				bufs.Put(bp)
			}
			continue
		}
		c := &chunk{firstLine: line, buf: bp, data: data}
		line += int64(bytes.Count(data, []byte{'\n'}))
		if err := send(c); err != nil {
			return FileInfo{}, err
		}
	}
	closeDecoder()
	return hr.finish(path, f)
}

// skipLine reads past the next newline and returns the bytes after it;
// more is false when the input ended first.
func skipLine(r io.Reader) (rest []byte, more bool, err error) {
	b := make([]byte, 64<<10)
	for {
		n, err := r.Read(b)
		if i := bytes.IndexByte(b[:n], '\n'); i >= 0 {
			return b[i+1 : n], true, nil
		}
		if errors.Is(err, io.EOF) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// decideChunk decides every line of a chunk.
func decideChunk(job Job, p *record.Parser, c *chunk, wantRejects bool) {
	c.counts = Counts{}
	c.authors = c.authors[:0]
	if c.oversize {
		d := eligibility.Decision{Reason: eligibility.Malformed}
		c.counts.add(d)
		if wantRejects {
			c.rejects = appendReject(c.rejects, job.Inputs[c.file], c.firstLine, fmt.Sprintf("record longer than %d bytes", job.MaxRecord), nil)
		}
		return
	}
	outp := outPool.Get().(*[]byte)
	out := (*outp)[:0]
	data := c.data
	line := c.firstLine
	var b batch
	p.StartBatch()
	// One check of the whole chunk; only a chunk that fails it is checked
	// line by line, to find the lines that are not UTF-8.
	p.KnownUTF8 = record.ValidUTF8(data)
	flush := func() {
		job.Engine.Prefetch(b.items[:b.n])
		for i := range b.n {
			d := job.Engine.Decide(&b.items[i])
			c.counts.add(d)
			full := b.full[i]
			if d.Reason == eligibility.Keep {
				out = append(out, full...)
				if full[len(full)-1] != '\n' {
					out = append(out, '\n') // the last record of a file may lack one
				}
				if d.Author >= 0 {
					c.authors = append(c.authors, d.Author)
				}
			} else if b.why[i] != "" && wantRejects {
				c.rejects = appendReject(c.rejects, job.Inputs[c.file], b.line[i], b.why[i], b.rec[i])
			}
		}
		b.n = 0
		p.ResetBatch()
	}
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n')
		var rec, full []byte
		if end < 0 {
			rec, full, data = data, data, nil
		} else {
			rec, full, data = data[:end], data[:end+1], data[end+1:]
		}
		if isBlank(rec) {
			c.counts.Blank++
			line++
			continue
		}
		i := b.n
		b.why[i] = p.Parse(trimCR(rec), &b.items[i])
		b.full[i], b.rec[i], b.line[i] = full, rec, line
		b.n++
		if b.n == len(b.items) {
			flush()
		}
		line++
	}
	flush()
	*outp = out
	c.out = outp
}

// batch is a run of parsed records decided together (see Engine.Prefetch).
type batch struct {
	n     int
	items [64]eligibility.Item
	why   [64]string
	full  [64][]byte
	rec   [64][]byte
	line  [64]int64
}

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// trimCR drops the CR of a CRLF line end; the output keeps it.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// appendReject writes one line of the rejects file.
func appendReject(dst []byte, file string, line int64, why string, rec []byte) []byte {
	dst = append(dst, `{"file":`...)
	dst = appendJSONString(dst, file)
	dst = append(dst, `,"line":`...)
	dst = strconv.AppendInt(dst, line, 10)
	dst = append(dst, `,"reason":`...)
	dst = appendJSONString(dst, why)
	if rec != nil {
		const keep = 4096
		truncated := len(rec) > keep
		if truncated {
			rec = rec[:keep]
		}
		dst = append(dst, `,"record":`...)
		dst = appendJSONString(dst, string(rec))
		if truncated {
			dst = append(dst, `,"truncated":true`...)
		}
	}
	return append(dst, "}\n"...)
}

func appendJSONString(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		return append(dst, b...)
	}
	b, _ := json.Marshal([]byte(s)) // not text: base64, marked as such
	dst = append(dst, `{"base64":`...)
	dst = append(dst, b...)
	return append(dst, '}')
}

// writeInOrder writes the kept lines of each chunk in input order.
func writeInOrder(ctx context.Context, job Job, outFmt Format, out, rejects *Temp, lin *lineage, bufs *sync.Pool, done <-chan *chunk, slots chan struct{}, progress *progressCounter, res *Result) error {
	w, closeOut, err := compressor(outFmt, out)
	if err != nil {
		return err
	}
	err = inOrder(ctx, done, func(c *chunk) int { return c.seq }, func(c *chunk) error {
		if c.out != nil {
			if _, err := w.Write(*c.out); err != nil {
				return err
			}
			outPool.Put(c.out)
		}
		if err := c.part.deliver(rejects, lin, progress, res); err != nil {
			return err
		}
		if c.buf != nil {
			bufs.Put(c.buf)
		}
		<-slots
		return nil
	})
	if err != nil {
		return err
	}
	return closeOut()
}

// compressor wraps the output for its format.
func compressor(f Format, out io.Writer) (io.Writer, func() error, error) {
	switch f {
	case JSONLGzip:
		zw, err := gzip.NewWriterLevel(out, gzip.DefaultCompression)
		if err != nil {
			return nil, nil, err
		}
		return zw, zw.Close, nil
	case JSONLZstd:
		zw, err := zstd.NewWriter(out, zstd.WithEncoderConcurrency(2))
		if err != nil {
			return nil, nil, err
		}
		return zw, zw.Close, nil
	}
	return out, func() error { return nil }, nil
}

// progressCounter is read by the progress line.
type progressCounter struct {
	read, total, records atomic.Int64
}
