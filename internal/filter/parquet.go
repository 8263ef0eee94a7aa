package filter

import (
	"context"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"golang.org/x/sync/errgroup"
)

// pqTaskBytes: consecutive row groups smaller than this (uncompressed) are
// decided together and written as one, so that the output's row groups do
// not shrink to nothing; a larger one is a task of its own.
const pqTaskBytes = 16 << 20

// pqPart is one input row group of a task.
type pqPart struct {
	rg       *parquet.FileRowGroup
	meta     *format.RowGroup
	firstRow int64 // of the row group in its file, from 0
}

// pqTask is a run of row groups of one input on its way through the
// pipeline: hashed by the reader, decided and encoded by a worker,
// committed by the writer.
type pqTask struct {
	seq   int
	in    *pqInput
	last  bool // the input's last task
	parts []pqPart
	end   int64 // where the bytes of the parts end in the file
	size  int64 // uncompressed, as the file's metadata says

	rgw  *parquet.ConcurrentRowGroupWriter
	kept int64
	part
}

// pqInput is an open input. Workers read its pages while later parts of
// it are still being hashed; it stays open until its last task is written.
type pqInput struct {
	path string
	f    *os.File
	stat os.FileInfo
	once sync.Once
}

func (in *pqInput) close() { in.once.Do(func() { in.f.Close() }) }

// unchanged fails if the file was written to while it was filtered: its
// checksum is taken while the pages are read, not of the same bytes.
func (in *pqInput) unchanged() error {
	st, err := in.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != in.stat.Size() || !st.ModTime().Equal(in.stat.ModTime()) {
		return fmt.Errorf("%s changed while it was being filtered", in.path)
	}
	return nil
}

// pqPipeline is one Parquet filter run.
type pqPipeline struct {
	job      *Job
	schema   *parquet.Schema
	layout   *pqLayout
	pw       *parquet.GenericWriter[any]
	rgws     chan *parquet.ConcurrentRowGroupWriter
	slots    chan struct{}
	progress progressCounter

	mu     sync.Mutex
	inputs []*pqInput // to close on the way out
}

// runParquet: a reader goes through each input row group by row group,
// hashing the bytes of each just before they are decided (they are then in
// the page cache); one task at a time, a worker decides the rows in batches
// from the few columns the rules read, spread over the cores, then copies
// the kept rows column by column into a row group of its own, columns in
// parallel and the largest one piped from its reader to its writer; a
// writer commits those in input order while the next is decided. Memory is
// the snapshot, a page per rule column and a batch of their values, a few
// pages per column being copied and the column buffers of two row group
// writers; the compressed pages of a row group wait for its commit in
// unlinked files, not on the heap: flat in the input's size, and the same
// for a file of one huge row group as for many small ones.
func runParquet(ctx context.Context, job Job, out, rejects *Temp, lin *lineage, res *Result) error {
	schema, meta, err := pqInputSchema(job.Inputs)
	if err != nil {
		return err
	}
	// Two tasks in flight: one decided and copied while the one before
	// it is committed (and the next is hashed). Each holds a row group
	// writer, whose buffers are the bulk of the memory in flight.
	inflight := 2
	spill := &pqSpill{dir: filepath.Dir(out.f.Name())}
	defer spill.close()
	p := &pqPipeline{
		job:    &job,
		schema: schema,
		layout: newPQLayout(schema),
		pw:     parquet.NewGenericWriter[any](out, pqWriterOptions(schema, meta, spill)...),
		rgws:   make(chan *parquet.ConcurrentRowGroupWriter, inflight),
		slots:  make(chan struct{}, inflight),
	}
	defer p.closeInputs()
	stopProgress := startProgress(job, &p.progress)
	defer stopProgress()

	g, ctx := errgroup.WithContext(ctx)
	work := make(chan *pqTask, inflight)
	done := make(chan *pqTask, inflight)
	g.Go(func() error {
		defer close(work)
		seq := 0
		for _, path := range job.Inputs {
			info, err := p.readFile(ctx, path, &seq, work)
			if err != nil {
				return err
			}
			res.Inputs = append(res.Inputs, info)
		}
		return nil
	})
	// One task at a time, spread over job.Workers goroutines within it:
	// the memory in flight is that of one row group being decided and
	// copied and one being committed, whatever the number of cores.
	g.Go(func() error {
		defer close(done)
		w := newPQWorker(&job, p.layout, schema, rejects != nil)
		for t := range work {
			if err := ctx.Err(); err != nil {
				return err
			}
			t.rgw = p.rowGroupWriter()
			if err := w.process(t); err != nil {
				return fmt.Errorf("%s: %w", t.in.path, err)
			}
			select {
			case done <- t:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error { return p.write(ctx, done, rejects, lin, res) })
	return g.Wait()
}

// pqInputSchema reads the footer of every input before any work starts, so
// that inputs that cannot be written into one file fail the job at once.
func pqInputSchema(paths []string) (*parquet.Schema, *format.FileMetaData, error) {
	var schema *parquet.Schema
	var meta *format.FileMetaData
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		pf, err := openParquet(f, path)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		if schema == nil {
			schema, meta = pf.Schema(), pf.Metadata()
			continue
		}
		if !parquet.EqualNodes(schema, pf.Schema()) {
			return nil, nil, fmt.Errorf("%s: its schema differs from that of %s, and the output is one file with one schema:\n%s\nversus\n%s",
				path, paths[0], pf.Schema(), schema)
		}
	}
	return schema, meta, nil
}

func openParquet(f *os.File, path string) (*parquet.File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return openParquetAt(f, st.Size(), path)
}

// openParquetAt reads the footer of a Parquet file of size bytes read
// through r; a footer that makes the library panic is an error.
func openParquetAt(r io.ReaderAt, size int64, path string) (pf *parquet.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			pf, err = nil, fmt.Errorf("%s: not a readable Parquet file: %w: %v", path, errCorrupt, r)
		}
	}()
	pf, err = parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	return pf, nil
}

// readFile cuts one input into tasks and sends them, hashing the whole
// file front to back on the way.
func (p *pqPipeline) readFile(ctx context.Context, path string, seq *int, work chan<- *pqTask) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	in := &pqInput{path: path, f: f}
	p.mu.Lock()
	p.inputs = append(p.inputs, in)
	p.mu.Unlock()
	if in.stat, err = f.Stat(); err != nil {
		return FileInfo{}, err
	}
	pf, err := openParquet(f, path)
	if err != nil {
		return FileInfo{}, err
	}
	size := pf.Size()
	p.progress.total.Add(size)
	if !parquet.EqualNodes(p.schema, pf.Schema()) {
		return FileInfo{}, fmt.Errorf("%s: its schema changed while the job ran", path)
	}
	h := &fileHash{f: f, h: p.job.Digest.New(), scratch: make([]byte, 1<<20)}
	var pending *pqTask // sent once the next is known, to mark the last
	send := func(t *pqTask) error {
		if pending != nil {
			if err := p.send(ctx, pending, h, seq, work); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		pending = t
		return nil
	}
	meta := pf.Metadata()
	var t *pqTask
	var firstRow int64
	for i, rg := range pf.RowGroups() {
		n := rg.NumRows()
		if n == 0 {
			continue
		}
		start, end, err := rowGroupSpan(&meta.RowGroups[i], size)
		if err != nil {
			return FileInfo{}, fmt.Errorf("%s: row group %d: %w", path, i, err)
		}
		rgSize := max(meta.RowGroups[i].TotalByteSize, end-start)
		if t != nil && t.size+rgSize > pqTaskBytes {
			if err := send(t); err != nil {
				return FileInfo{}, err
			}
			t = nil
		}
		if t == nil {
			t = &pqTask{in: in}
		}
		frg, ok := rg.(*parquet.FileRowGroup)
		if !ok {
			return FileInfo{}, fmt.Errorf("%s: row group %d is not read from the file", path, i)
		}
		t.parts = append(t.parts, pqPart{rg: frg, meta: &meta.RowGroups[i], firstRow: firstRow})
		t.end = max(t.end, end)
		t.size += rgSize
		firstRow += n
	}
	if t != nil {
		if err := send(t); err != nil {
			return FileInfo{}, err
		}
	}
	// The whole file is hashed before its last task is handed over: the
	// writer closes the file once that task is written, which may be before
	// this goroutine would reach the footer (all rows excluded, say).
	if err := h.upTo(size); err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	if pending != nil {
		pending.last = true
		if err := p.send(ctx, pending, h, seq, work); err != nil {
			return FileInfo{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	if pending == nil {
		in.close() // no rows: no worker reads it
	}
	p.progress.read.Add(size - h.reported)
	return NewFileInfo(path, Parquet, size, p.job.Digest, h.h.Sum(nil)), nil
}

// send waits for room in the pipeline, hashes the file up to the end of
// the task and hands it to the workers.
func (p *pqPipeline) send(ctx context.Context, t *pqTask, h *fileHash, seq *int, work chan<- *pqTask) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := h.upTo(t.end); err != nil {
		<-p.slots
		return err
	}
	p.progress.read.Add(h.pos - h.reported)
	h.reported = h.pos
	t.seq = *seq
	*seq++
	select {
	case work <- t:
		return nil
	case <-ctx.Done():
		<-p.slots
		return ctx.Err()
	}
}

func (p *pqPipeline) closeInputs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, in := range p.inputs {
		in.close()
	}
}

// rowGroupSpan returns the bytes of a row group's column chunks, the way
// the page reader finds them.
func rowGroupSpan(rg *format.RowGroup, size int64) (start, end int64, err error) {
	start, end = size, 0
	for j := range rg.Columns {
		md := &rg.Columns[j].MetaData
		base := md.DataPageOffset
		if md.DictionaryPageOffset != 0 {
			base = md.DictionaryPageOffset
		}
		if base < 0 || md.TotalCompressedSize < 0 || base > size || md.TotalCompressedSize > size-base {
			return 0, 0, fmt.Errorf("%w: column chunk %d lies outside the file", errCorrupt, j)
		}
		start, end = min(start, base), max(end, base+md.TotalCompressedSize)
	}
	if start > end {
		return 0, 0, fmt.Errorf("%w: no column chunks", errCorrupt)
	}
	return start, end, nil
}

func (p *pqPipeline) rowGroupWriter() *parquet.ConcurrentRowGroupWriter {
	select {
	case w := <-p.rgws:
		return w
	default:
		return p.pw.BeginRowGroup()
	}
}

// write commits the workers' row groups in input order, then the footer.
func (p *pqPipeline) write(ctx context.Context, done <-chan *pqTask, rejects *Temp, lin *lineage, res *Result) error {
	err := inOrder(ctx, done, func(t *pqTask) int { return t.seq }, func(t *pqTask) error {
		if t.kept > 0 {
			if _, err := t.rgw.Commit(); err != nil {
				return fmt.Errorf("write %s: %w", p.job.Output, err)
			}
		}
		select {
		case p.rgws <- t.rgw:
		default:
		}
		if err := t.part.deliver(rejects, lin, &p.progress, res); err != nil {
			return err
		}
		if t.last {
			if err := t.in.unchanged(); err != nil {
				return err
			}
			t.in.close()
		}
		<-p.slots
		return nil
	})
	if err != nil {
		return err
	}
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p.job.Output, err)
	}
	return nil
}

// fileHash hashes a file front to back while parts of it are read.
type fileHash struct {
	f        *os.File
	h        hash.Hash
	pos      int64 // bytes before pos are hashed
	reported int64 // bytes before this count as read for the progress line
	scratch  []byte
}

// upTo hashes the bytes from pos to off without keeping them.
func (fh *fileHash) upTo(off int64) error {
	if off <= fh.pos {
		return nil
	}
	n, err := io.CopyBuffer(fh.h, io.NewSectionReader(fh.f, fh.pos, off-fh.pos), fh.scratch)
	fh.pos += n
	if err == nil && fh.pos != off {
		err = io.ErrUnexpectedEOF
	}
	return err
}
