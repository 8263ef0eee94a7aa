package filter

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/record"
	"github.com/notrain/notrain/internal/signal"
)

// copyBatch is how many kept values a column writer receives at once:
// enough to amortise the call, few enough that pages keep their size.
const copyBatch = 256

const (
	// batchRows rows are decided at a time: the rule columns of a batch,
	// not of a row group, are in memory.
	batchRows = 32 << 10
	// decideSpan is the fewest rows decided by one goroutine.
	decideSpan = 8 << 10
)

// pqWorker decides and copies row groups. Its buffers are reused from one
// row group to the next, so one worker serves one task at a time. Within a
// row group it spreads the work over up to job.Workers goroutines — the
// columns are read, the rows decided, the columns copied independently — so
// that a file of one large row group, as pyarrow writes them, still keeps
// every core busy.
type pqWorker struct {
	job         *Job
	layout      *pqLayout
	schema      *parquet.Schema
	wantRejects bool

	id, product, author, kind, visibility, text pqStrings
	created                                     pqTimes
	mentions, tags                              pqLists
	keep                                        []bool
	spans                                       []pqSpan
	scratch                                     chan *pqScratch
	rec                                         pqRecords
	recordFn                                    func() (map[string]any, error)
	// signals: the file has a column of creators' reservations and the
	// policy honours them, so every row is read whole for them (rare
	// columns, any shape: see rowSignals). wantRecord: rows are read whole,
	// for rules or signals.
	signals, wantRecord bool
}

// pqSpan is the outcome for a run of rows decided by one goroutine.
type pqSpan struct {
	from, to int
	kept     int
	counts   Counts
	authors  []int32
	rejects  []byte
	batch    pqBatch
}

// pqBatch is a run of rows decided together: their accounts are looked up
// ahead (Engine.Prefetch) so that the cache misses overlap.
type pqBatch struct {
	n     int
	items [64]eligibility.Item
	why   [64]string
	row   [64]int
	refs  [][]byte // the batch's mentions and tags
}

// pqScratch is what copying one column needs.
type pqScratch struct {
	values, out []parquet.Value
	held        []parquet.Page
	pipe        []pqPipeBatch // the buffers of a piped copy
}

func newPQWorker(job *Job, layout *pqLayout, schema *parquet.Schema, wantRejects bool) *pqWorker {
	w := &pqWorker{job: job, layout: layout, schema: schema, wantRejects: wantRejects,
		scratch: make(chan *pqScratch, job.Workers)}
	for range job.Workers {
		w.scratch <- &pqScratch{values: make([]parquet.Value, 1024), out: make([]parquet.Value, 0, 2*copyBatch)}
	}
	w.rec.schema = schema
	w.recordFn = w.rec.record
	w.signals = job.Engine.HonoursSignals() && layout.signals
	w.wantRecord = job.WantText || w.signals
	return w
}

// rowSignals fills it's reservations from the row being decided, as the
// JSON its columns hold (a group reads as an object, a byte array as a
// string).
func (w *pqWorker) rowSignals(it *eligibility.Item) error {
	m, err := w.recordFn()
	if err != nil {
		return err
	}
	raw := func(name string) ([]byte, error) {
		v, ok := m[name]
		if !ok || v == nil {
			return nil, nil
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		return json.Marshal(v)
	}
	if it.ContentUsage, err = raw(signal.FieldAIPref); err != nil {
		return err
	}
	if it.TDMReservation, err = raw(signal.FieldTDMRep); err != nil {
		return err
	}
	it.TrainingMining, err = raw(signal.FieldC2PA)
	return err
}

// spread runs fn(0) … fn(n-1) on up to job.Workers goroutines. A panic in
// the Parquet library on a corrupt file becomes an error: the job fails,
// the process does not.
func (w *pqWorker) spread(n int, fn func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(w.job.Workers)
	for i := range n {
		g.Go(func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("%w: %v", errCorrupt, r)
				}
			}()
			return fn(i)
		})
	}
	return g.Wait()
}

// process decides every row of a task and copies the kept ones into the
// task's row group writer.
func (w *pqWorker) process(t *pqTask) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errCorrupt, r)
		}
	}()
	for _, part := range t.parts {
		kept, err := w.part(t, part, part.rg.ColumnChunks())
		if err != nil {
			return err
		}
		t.kept += int64(kept)
	}
	if t.kept == 0 {
		return nil
	}
	// Encode and compress the last pages here, in parallel, rather than in
	// the writer's Commit, which runs one row group at a time.
	cols := t.rgw.ColumnWriters()
	return w.spread(len(cols), func(j int) error { return cols[j].Flush() })
}

// part decides one row group and copies its kept rows, the largest columns
// first so that they do not finish last.
func (w *pqWorker) part(t *pqTask, part pqPart, chunks []parquet.ColumnChunk) (int, error) {
	kept, err := w.decide(t, part, chunks)
	if err != nil || kept == 0 {
		return kept, err
	}
	order := make([]int, len(chunks))
	for j := range order {
		order[j] = j
	}
	md := part.meta
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(md.Columns[b].MetaData.TotalCompressedSize, md.Columns[a].MetaData.TotalCompressedSize)
	})
	writers := t.rgw.ColumnWriters()
	err = w.spread(len(order), func(k int) error {
		j := order[k]
		sc := <-w.scratch
		defer func() { w.scratch <- sc }()
		// The largest column (the text, in most exports) is most of the
		// work: its pages are decoded here while another goroutine
		// encodes and compresses the kept values, so that it does not
		// keep one core busy alone after the others are done.
		if err := w.copyColumn(sc, chunks[j], writers[j], w.layout.maxRep[j] > 0, k == 0 && w.job.Workers > 1); err != nil {
			return fmt.Errorf("column %s: %w", columnName(w.schema, j), err)
		}
		return nil
	})
	return kept, err
}

func columnName(schema *parquet.Schema, leaf int) string {
	cols := schema.Columns()
	if leaf < len(cols) {
		return fmt.Sprint(cols[leaf])
	}
	return strconv.Itoa(leaf)
}

// decide reads the columns the rules need and decides every row of one row
// group, leaving w.keep set for the rows that stay.
func (w *pqWorker) decide(t *pqTask, part pqPart, chunks []parquet.ColumnChunk) (int, error) {
	l := w.layout
	n := int(part.rg.NumRows())
	// One reader per column the rules read, each filling its part of a
	// batch; absent columns fill nulls.
	type column struct {
		name  string
		read  func(rows int) error
		rest  func() error
		close func()
	}
	var columns []column
	strs := func(name string, col pqString, dst *pqStrings) {
		c := column{name: name, rest: func() error { return nil }, close: func() {}}
		if col.leaf < 0 {
			c.read = func(rows int) error {
				dst.reset()
				for range rows {
					dst.null()
				}
				return dst.check()
			}
		} else {
			cur := newStringCursor(chunks[col.leaf], col.maxDef)
			c.read = func(rows int) error { dst.reset(); return cur.read(rows, dst) }
			c.rest, c.close = cur.rest, cur.close
		}
		columns = append(columns, c)
	}
	lists := func(name string, col pqList, dst *pqLists) {
		c := column{name: name, rest: func() error { return nil }, close: func() {}}
		if col.leaf < 0 {
			c.read = func(rows int) error {
				dst.reset()
				for range rows {
					dst.rowEnd = append(dst.rowEnd, 0)
					dst.bad = append(dst.bad, false)
				}
				return dst.vals.check()
			}
		} else {
			cur := newListCursor(chunks[col.leaf], col)
			c.read = func(rows int) error { dst.reset(); return cur.read(rows, dst) }
			c.rest, c.close = cur.rest, cur.close
		}
		columns = append(columns, c)
	}
	strs("id", l.id, &w.id)
	strs("product", l.product, &w.product)
	strs("author_id", l.author, &w.author)
	strs("kind", l.kind, &w.kind)
	strs("visibility", l.visibility, &w.visibility)
	lists("mentions", l.mentions, &w.mentions)
	lists("tags", l.tags, &w.tags)
	if w.job.WantText {
		strs("text", l.text, &w.text)
	}
	if l.created.leaf >= 0 {
		cur := newTimeCursor(chunks[l.created.leaf], l.created)
		columns = append(columns, column{name: "created_at", read: func(rows int) error {
			w.created.reset()
			return cur.read(rows, &w.created)
		}, rest: cur.rest, close: cur.close})
	}
	defer func() {
		for _, c := range columns {
			c.close()
		}
	}()

	if cap(w.keep) < n {
		w.keep = make([]bool, n)
	}
	w.keep = w.keep[:n]
	if w.wantRecord {
		w.rec.reset(part.rg)
		defer w.rec.close()
	}
	kept := 0
	for a := 0; a < n; a += batchRows {
		rows := min(batchRows, n-a)
		err := w.spread(len(columns), func(i int) error {
			if err := columns[i].read(rows); err != nil {
				return fmt.Errorf("column %s: %w", columns[i].name, err)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		k, err := w.decideBatch(t, part, a, rows)
		if err != nil {
			return 0, err
		}
		kept += k
	}
	for _, c := range columns {
		if err := c.rest(); err != nil {
			return 0, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return kept, nil
}

// decideBatch decides rows a … a+rows-1, whose rule columns are read.
// Rules that read the record read the row group forward, in one pass: then
// the rows are decided in one run.
func (w *pqWorker) decideBatch(t *pqTask, part pqPart, a, rows int) (int, error) {
	spans := 1
	if !w.wantRecord {
		spans = max(1, min(w.job.Workers, rows/decideSpan))
	}
	for len(w.spans) < spans {
		w.spans = append(w.spans, pqSpan{})
	}
	for i := range spans {
		s := &w.spans[i]
		s.from, s.to = i*rows/spans, (i+1)*rows/spans
		s.kept, s.counts, s.authors, s.rejects = 0, Counts{}, s.authors[:0], s.rejects[:0]
	}
	err := w.spread(spans, func(k int) error {
		return w.decideSpan(&w.spans[k], t.in.path, part.firstRow, a)
	})
	if err != nil {
		return 0, err
	}
	kept := 0
	for i := range spans {
		s := &w.spans[i]
		kept += s.kept
		t.counts.merge(&s.counts)
		t.authors = append(t.authors, s.authors...)
		t.rejects = append(t.rejects, s.rejects...)
	}
	return kept, nil
}

// decideSpan decides rows s.from … s.to-1 of the batch that starts at row a.
func (w *pqWorker) decideSpan(s *pqSpan, file string, firstRow int64, a int) error {
	b := &s.batch
	flush := func() error {
		w.job.Engine.Prefetch(b.items[:b.n])
		for k := range b.n {
			j := b.row[k]
			if w.wantRecord {
				w.rec.cur = a + j // one span only: see decideBatch
			}
			if w.signals && b.why[k] == "" {
				if err := w.rowSignals(&b.items[k]); err != nil {
					return err
				}
			}
			d := w.job.Engine.Decide(&b.items[k])
			s.counts.add(d)
			keep := d.Reason == eligibility.Keep
			w.keep[a+j] = keep
			if keep {
				s.kept++
				if d.Author >= 0 {
					s.authors = append(s.authors, d.Author)
				}
			} else if b.why[k] != "" && w.wantRejects {
				s.rejects = appendReject(s.rejects, file, firstRow+int64(a+j)+1, b.why[k], w.keyColumns(j))
			}
		}
		b.n, b.refs = 0, b.refs[:0]
		return nil
	}
	for j := s.from; j < s.to; j++ {
		k := b.n
		it := &b.items[k]
		b.why[k], b.row[k] = w.item(j, it, &b.refs), j
		if b.why[k] == "" && w.job.WantText {
			it.Text = w.text.at(j)
		}
		if b.why[k] == "" && w.wantRecord {
			it.Record = w.recordFn
		}
		if b.n++; b.n == len(b.items) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// item fills it from row i of the batch and returns why the row is
// malformed, or "".
// The checks follow the JSON Lines reader's order: lists, encoding, the
// required fields, the time.
func (w *pqWorker) item(i int, it *eligibility.Item, refs *[][]byte) string {
	*it = eligibility.Item{}
	l := w.layout
	mentions, badM := w.mentions.at(i, refs)
	tags, badT := w.tags.at(i, refs)
	id, product, author := w.id.at(i), w.product.at(i), w.author.at(i)
	kind, visibility := w.kind.at(i), w.visibility.at(i)
	var state uint8
	if l.created.leaf >= 0 {
		state = w.created.state[i]
	}
	why := ""
	switch {
	case badM || badT:
		why = record.WhyBadList
	case !w.id.validAt(i) || !w.product.validAt(i) || !w.author.validAt(i) || !w.kind.validAt(i) ||
		!w.visibility.validAt(i) || (state == tsText && !utf8.Valid(w.created.bad[i])) ||
		(!w.mentions.vals.ascii && !allUTF8(mentions)) || (!w.tags.vals.ascii && !allUTF8(tags)):
		why = record.WhyInvalidUTF8
	case len(id) == 0 || len(product) == 0 || len(author) == 0 || !l.created.present:
		why = record.WhyMissingField
	case l.created.leaf < 0:
		why = whyTimeType
	case state == tsOK:
		it.CreatedAt = w.created.us[i]
	case state == tsNull:
		why = record.WhyMissingField
	case state == tsText:
		why = record.WhyBadTime
	default:
		why = whyBadTS
	}
	if why != "" {
		it.Malformed = true
		return why
	}
	it.ID, it.Product, it.AuthorID, it.Kind, it.Visibility = id, product, author, kind, visibility
	it.Mentions, it.Tags = mentions, tags
	return ""
}

func allUTF8(bs [][]byte) bool {
	for _, b := range bs {
		if !utf8.Valid(b) {
			return false
		}
	}
	return true
}

// keyColumns renders what a rejects line shows of row i of the batch, a
// malformed one: the fields that identify it, as a JSON object.
func (w *pqWorker) keyColumns(i int) []byte {
	b := []byte{'{'}
	field := func(name string, v []byte) {
		if v == nil {
			return
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, name)
		b = append(b, ':')
		b = appendJSONString(b, string(v))
	}
	field("id", w.id.at(i))
	field("product", w.product.at(i))
	field("author_id", w.author.at(i))
	field("kind", w.kind.at(i))
	field("visibility", w.visibility.at(i))
	if c := w.layout.created; c.leaf >= 0 {
		switch w.created.state[i] {
		case tsText:
			field("created_at", w.created.bad[i])
		case tsOK:
			// Parsed: the moment in RFC 3339, UTC.
			field("created_at", []byte(time.UnixMicro(w.created.us[i]).UTC().Format(time.RFC3339Nano)))
		}
	}
	return append(b, '}')
}

// copyColumn writes the values of the kept rows of one column chunk. A
// column writer takes whole rows only, so values are handed over at row
// boundaries; a page is released once none of its values is pending. With
// piped, the values go to the column writer on a goroutine of their own, a
// few batches behind; the sequence of writes is the same either way, and
// so are the pages written.
func (w *pqWorker) copyColumn(sc *pqScratch, cc parquet.ColumnChunk, col *parquet.ColumnWriter, repeated, piped bool) (err error) {
	pages := cc.Pages()
	defer pages.Close()
	keep := w.keep
	out := sc.out[:0]
	held := sc.held[:0]
	var pipe *pqPipe
	if piped {
		pipe = sc.startPipe(col)
		out, held = pipe.next()
	}
	defer func() {
		if pipe != nil {
			// Queued batches may point into the pages still held here, and
			// dictionary values live as long as pages: the writer is done
			// with them before they are released and pages closed.
			if perr := pipe.stop(); perr != nil && (err == nil || errors.Is(err, errPipe)) {
				err = perr
			}
		}
		releasePages(held)
		clear(out[:cap(out)])
		if pipe == nil {
			sc.out, sc.held = out[:0], held[:0]
		}
	}()
	flush := func() error {
		if pipe != nil {
			if len(out) == 0 && len(held) == 0 {
				return nil
			}
			var err error
			out, held, err = pipe.send(out, held)
			return err
		}
		if len(out) > 0 {
			if _, err := col.WriteRowValues(out); err != nil {
				return err
			}
			out = out[:0]
		}
		releasePages(held)
		held = held[:0]
		return nil
	}
	row := -1
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		held = append(held, p)
		if !repeated {
			// Skip pages none of whose rows is kept without decoding values.
			nr := int(p.NumRows())
			if row+1+nr > len(keep) {
				return fmt.Errorf("%w: more rows than the row group has", errCorrupt)
			}
			if !anyTrue(keep[row+1 : row+1+nr]) {
				row += nr
				if err := flush(); err != nil {
					return err
				}
				continue
			}
		}
		vr := p.Values()
		for {
			n, err := vr.ReadValues(sc.values)
			for _, v := range sc.values[:n] {
				if !repeated || v.RepetitionLevel() == 0 {
					row++
					if row >= len(keep) {
						return fmt.Errorf("%w: more rows than the row group has", errCorrupt)
					}
					if len(out) >= copyBatch || len(held) > 1 {
						// A row boundary: hand over what is pending and let
						// go of the pages before this one.
						last := held[len(held)-1]
						held = held[:len(held)-1]
						if err := flush(); err != nil {
							return err
						}
						held = append(held, last)
					}
				} else if row < 0 {
					return fmt.Errorf("%w: a row continues before it starts", errCorrupt)
				}
				if keep[row] {
					out = append(out, v)
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		if !repeated {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if row+1 != len(keep) {
		return fmt.Errorf("%w: %d rows in a row group of %d", errCorrupt, row+1, len(keep))
	}
	return nil
}

// pipeDepth batches may wait for the column writer: enough to smooth the
// uneven cost of a batch (a page is compressed every few), few enough that
// the pages they hold stay a handful.
const pipeDepth = 2

// pqPipe hands batches of kept values, with the pages they point into, to
// a goroutine that writes them to a column writer in order and then
// releases the pages. A page held by a later batch outlives the earlier
// batches that may point into it, since batches are written in order.
type pqPipe struct {
	todo, free chan pqPipeBatch
	done       chan error
	failed     chan struct{} // closed when the writer stops on an error
}

type pqPipeBatch struct {
	vals []parquet.Value
	held []parquet.Page
}

func (sc *pqScratch) startPipe(col *parquet.ColumnWriter) *pqPipe {
	p := &pqPipe{todo: make(chan pqPipeBatch, pipeDepth), free: make(chan pqPipeBatch, pipeDepth+1),
		done: make(chan error, 1), failed: make(chan struct{})}
	for len(sc.pipe) < pipeDepth+1 {
		sc.pipe = append(sc.pipe, pqPipeBatch{vals: make([]parquet.Value, 0, 2*copyBatch)})
	}
	for _, b := range sc.pipe {
		p.free <- pqPipeBatch{vals: b.vals[:0], held: b.held[:0]}
	}
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", errCorrupt, r)
			}
			if err != nil {
				close(p.failed)
				// Let go of what is still queued; the reader stops at its
				// next send.
				for b := range p.todo {
					releasePages(b.held)
				}
			}
			p.done <- err
		}()
		for b := range p.todo {
			if len(b.vals) > 0 {
				if _, err = col.WriteRowValues(b.vals); err != nil {
					releasePages(b.held)
					return
				}
			}
			releasePages(b.held)
			clear(b.vals)
			p.free <- pqPipeBatch{vals: b.vals[:0], held: b.held[:0]}
		}
	}()
	return p
}

// next returns an empty batch's buffers.
func (p *pqPipe) next() ([]parquet.Value, []parquet.Page) {
	b := <-p.free
	return b.vals, b.held
}

// send queues a batch and returns the buffers of an empty one.
func (p *pqPipe) send(vals []parquet.Value, held []parquet.Page) ([]parquet.Value, []parquet.Page, error) {
	select {
	case p.todo <- pqPipeBatch{vals: vals, held: held}:
	case <-p.failed:
		return vals, held, errPipe
	}
	select {
	case b := <-p.free:
		return b.vals, b.held, nil
	case <-p.failed:
		// vals and held were queued: the writer releases them.
		return nil, nil, errPipe
	}
}

var errPipe = errors.New("column writer failed")

// stop waits for the writer to finish what is queued and returns its error.
func (p *pqPipe) stop() error {
	close(p.todo)
	return <-p.done
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}
