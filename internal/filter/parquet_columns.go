package filter

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"

	"github.com/notrain/notrain/internal/record"
)

// errCorrupt marks page contents that contradict themselves (more values
// than levels say, dictionary indexes out of range).
var errCorrupt = errors.New("parquet: corrupt page")

// pqCursor walks a column chunk level by level (value by value for a
// required column that has no levels), a page at a time, so a row group is
// decided in batches of rows with one page per column in memory.
type pqCursor struct {
	pages      parquet.Pages
	page       parquet.Page
	defs, reps []byte
	n          int // levels in the page
	pos        int // the next level
	k          int // the next non-null value
	load       func(parquet.Page)
}

func newCursor(cc parquet.ColumnChunk, load func(parquet.Page)) *pqCursor {
	return &pqCursor{pages: cc.Pages(), load: load}
}

// ready stands the cursor on a level, reading the next page if need be;
// false at the end of the chunk.
func (c *pqCursor) ready() (bool, error) {
	for c.page == nil || c.pos >= c.n {
		if c.page != nil {
			parquet.Release(c.page)
			c.page = nil
		}
		p, err := c.pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		c.page, c.pos, c.k = p, 0, 0
		c.defs, c.reps = p.DefinitionLevels(), p.RepetitionLevels()
		c.n = len(c.defs)
		if c.defs == nil {
			c.n = int(p.NumValues())
		}
		c.load(p)
	}
	return true, nil
}

// def is the definition level under the cursor (maxDef without levels).
func (c *pqCursor) def(maxDef byte) byte {
	if c.defs == nil {
		return maxDef
	}
	return c.defs[c.pos]
}

// rowStart reports whether the level under the cursor begins a row.
func (c *pqCursor) rowStart() bool { return c.reps == nil || c.reps[c.pos] == 0 }

// rest checks that the chunk has no rows beyond those taken.
func (c *pqCursor) rest() error {
	ok, err := c.ready()
	if err == nil && ok {
		err = fmt.Errorf("%w: more rows than the row group has", errCorrupt)
	}
	return err
}

func (c *pqCursor) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	c.pages.Close()
}

var errShort = fmt.Errorf("%w: fewer rows than the row group has", errCorrupt)

func releasePages(pages []parquet.Page) {
	for i, p := range pages {
		parquet.Release(p)
		pages[i] = nil
	}
}

// pqBytes gives access to the byte-array values of one page, looking up
// dictionary indexes where the page has them.
type pqBytes struct {
	data []byte
	offs []uint32
	idx  []int32
	dict bool
}

func pageBytes(p parquet.Page) pqBytes {
	if d := p.Dictionary(); d != nil {
		data, offs := byteArrays(d.Page())
		return pqBytes{data: data, offs: offs, idx: int32s(p), dict: true}
	}
	data, offs := byteArrays(p)
	return pqBytes{data: data, offs: offs}
}

// The typed views of a page's values; each panics on a page of another type.
func byteArrays(p parquet.Page) ([]byte, []uint32) { v := p.Data(); return v.ByteArray() }
func int32s(p parquet.Page) []int32                { v := p.Data(); return v.Int32() }
func int64s(p parquet.Page) []int64                { v := p.Data(); return v.Int64() }
func int96s(p parquet.Page) []deprecated.Int96     { v := p.Data(); return v.Int96() }

// at returns the k-th non-null value of the page.
func (v *pqBytes) at(k int) ([]byte, bool) {
	j := k
	if v.dict {
		if k >= len(v.idx) {
			return nil, false
		}
		j = int(v.idx[k])
	}
	if j < 0 || j+1 >= len(v.offs) {
		return nil, false
	}
	a, b := v.offs[j], v.offs[j+1]
	if a > b || int(b) > len(v.data) {
		return nil, false
	}
	return v.data[a:b:b], true
}

// pqStrings holds one string per row of a row group; null is empty.
type pqStrings struct {
	buf   []byte
	end   []uint32 // row i ends at buf[end[i]]: a row group's column is far below 4 GB
	ascii bool     // every value is ASCII, so valid UTF-8
}

func (s *pqStrings) reset() { s.buf, s.end, s.ascii = s.buf[:0], s.end[:0], false }
func (s *pqStrings) add(b []byte) {
	s.buf = append(s.buf, b...)
	s.end = append(s.end, uint32(len(s.buf)))
}
func (s *pqStrings) null()     { s.end = append(s.end, uint32(len(s.buf))) }
func (s *pqStrings) rows() int { return len(s.end) }

// check fails when the offsets wrapped around.
func (s *pqStrings) check() error {
	if len(s.buf) > math.MaxUint32 {
		return fmt.Errorf("parquet: more than 4 GB of strings in one column of one row group")
	}
	s.ascii = isASCII(s.buf)
	return nil
}

// validAt reports whether row i's value is valid UTF-8.
func (s *pqStrings) validAt(i int) bool { return s.ascii || utf8.Valid(s.at(i)) }

// isASCII looks at eight bytes at a time: most exports are ASCII in their
// ids and codes, and then no value needs a check of its own.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// at returns row i's value, nil when null or empty.
func (s *pqStrings) at(i int) []byte {
	var start uint32
	if i > 0 {
		start = s.end[i-1]
	}
	end := s.end[i]
	if start == end {
		return nil
	}
	return s.buf[start:end:end]
}

// pqStringCursor reads a top-level column of strings.
type pqStringCursor struct {
	*pqCursor
	vals   pqBytes
	maxDef byte
}

func newStringCursor(cc parquet.ColumnChunk, maxDef byte) *pqStringCursor {
	c := &pqStringCursor{maxDef: maxDef}
	c.pqCursor = newCursor(cc, func(p parquet.Page) { c.vals = pageBytes(p) })
	return c
}

// read appends n rows to dst.
func (c *pqStringCursor) read(n int, dst *pqStrings) error {
	for range n {
		if ok, err := c.ready(); !ok || err != nil {
			return cmp.Or(err, errShort)
		}
		if c.def(c.maxDef) != c.maxDef {
			dst.null()
			c.pos++
			continue
		}
		b, ok := c.vals.at(c.k)
		if !ok {
			return errCorrupt
		}
		c.k++
		c.pos++
		dst.add(b)
	}
	return dst.check()
}

// Time states of a row.
const (
	tsNull  uint8 = iota
	tsOK          // us holds the moment
	tsRange       // a TIMESTAMP not representable in Unix microseconds
	tsText        // a string that is not an RFC 3339 time
)

// pqTimes holds created_at per row, parsed as it is read.
type pqTimes struct {
	us    []int64
	state []uint8
	bad   map[int][]byte // the text of tsText rows, for the rejects file
}

func (t *pqTimes) reset() {
	t.us, t.state = t.us[:0], t.state[:0]
	clear(t.bad)
}

func (t *pqTimes) add(us int64, state uint8) {
	t.us = append(t.us, us)
	t.state = append(t.state, state)
}

func (t *pqTimes) addText(b []byte) {
	if len(b) == 0 {
		t.add(0, tsNull)
	} else if us, ok := record.ParseTime(b); ok {
		t.add(us, tsOK)
	} else {
		if t.bad == nil {
			t.bad = map[int][]byte{}
		}
		t.bad[len(t.state)] = bytes.Clone(b)
		t.add(0, tsText)
	}
}

// pqTimeCursor reads created_at.
type pqTimeCursor struct {
	*pqCursor
	col   pqTime
	bytes pqBytes
	i64   []int64
	i96   []deprecated.Int96
	idx   []int32 // dictionary indexes, nil for plain pages
}

func newTimeCursor(cc parquet.ColumnChunk, col pqTime) *pqTimeCursor {
	c := &pqTimeCursor{col: col}
	c.pqCursor = newCursor(cc, func(p parquet.Page) {
		c.idx = nil
		switch col.kind {
		case timeString:
			c.bytes = pageBytes(p)
		case timeInt96:
			if d := p.Dictionary(); d != nil {
				c.i96, c.idx = int96s(d.Page()), int32s(p)
			} else {
				c.i96 = int96s(p)
			}
		default:
			if d := p.Dictionary(); d != nil {
				c.i64, c.idx = int64s(d.Page()), int32s(p)
			} else {
				c.i64 = int64s(p)
			}
		}
	})
	return c
}

// read appends n rows to dst.
func (c *pqTimeCursor) read(n int, dst *pqTimes) error {
	for range n {
		if ok, err := c.ready(); !ok || err != nil {
			return cmp.Or(err, errShort)
		}
		if c.def(c.col.maxDef) != c.col.maxDef {
			dst.add(0, tsNull)
			c.pos++
			continue
		}
		switch c.col.kind {
		case timeString:
			b, ok := c.bytes.at(c.k)
			if !ok {
				return errCorrupt
			}
			dst.addText(b)
		case timeInt96:
			j, ok := index(c.k, c.idx, len(c.i96))
			if !ok {
				return errCorrupt
			}
			dst.add(int96Micros(c.i96[j]))
		default:
			j, ok := index(c.k, c.idx, len(c.i64))
			if !ok {
				return errCorrupt
			}
			dst.add(toMicros(c.i64[j], c.col.kind))
		}
		c.k++
		c.pos++
	}
	return nil
}

// index maps the k-th value of a page to its position in vals, through the
// dictionary indexes when there are some.
func index(k int, idx []int32, n int) (int, bool) {
	j := k
	if idx != nil {
		if k >= len(idx) {
			return 0, false
		}
		j = int(idx[k])
	}
	return j, j >= 0 && j < n
}

// toMicros converts a TIMESTAMP to Unix microseconds, truncating toward the
// past like record.ParseTime does with finer fractions.
func toMicros(v int64, kind timeKind) (int64, uint8) {
	switch kind {
	case timeMillis:
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return 0, tsRange
		}
		return v * 1000, tsOK
	case timeNanos:
		return floorDiv(v, 1000), tsOK
	}
	return v, tsOK
}

// int96Micros converts an INT96 timestamp: nanoseconds within the day in
// the low 8 bytes, the Julian day number in the high 4.
func int96Micros(v deprecated.Int96) (int64, uint8) {
	const unixEpochJulianDay = 2440588
	const dayMicros = 86400 * 1000 * 1000
	nanos := int64(uint64(v[1])<<32 | uint64(v[0]))
	days := int64(v[2]) - unixEpochJulianDay
	if nanos < 0 || nanos >= dayMicros*1000 || days > math.MaxInt64/dayMicros-1 || days < math.MinInt64/dayMicros+1 {
		return 0, tsRange
	}
	return days*dayMicros + nanos/1000, tsOK
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// pqLists holds mentions or tags per row.
type pqLists struct {
	vals   pqStrings // every element, in order
	rowEnd []uint32  // rowEnd[i]: elements of rows up to i
	bad    []bool    // not a list of strings
}

func (l *pqLists) reset() {
	l.vals.reset()
	l.rowEnd, l.bad = l.rowEnd[:0], l.bad[:0]
}

// at appends row i's elements to refs and returns them, nil when there are
// none, and reports whether the row's value is not a list of strings. The
// returned slice stays valid while refs grows.
func (l *pqLists) at(i int, refs *[][]byte) ([][]byte, bool) {
	if l.bad[i] {
		return nil, true
	}
	var start uint32
	if i > 0 {
		start = l.rowEnd[i-1]
	}
	end := l.rowEnd[i]
	if start == end {
		return nil, false
	}
	from := len(*refs)
	for k := start; k < end; k++ {
		*refs = append(*refs, l.vals.at(int(k)))
	}
	return (*refs)[from:len(*refs):len(*refs)], false
}

// pqListCursor reads mentions or tags.
type pqListCursor struct {
	*pqCursor
	col  pqList
	vals pqBytes
}

func newListCursor(cc parquet.ColumnChunk, col pqList) *pqListCursor {
	c := &pqListCursor{col: col}
	c.pqCursor = newCursor(cc, func(p parquet.Page) {
		if col.strings {
			c.vals = pageBytes(p)
		}
	})
	return c
}

// read appends n rows to dst. A row is the levels from one that starts a
// row to the next; the next batch's first row is left under the cursor.
func (c *pqListCursor) read(n int, dst *pqLists) error {
	rows := 0
	for {
		ok, err := c.ready()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if c.rowStart() {
			if rows == n {
				break
			}
			rows++
			dst.rowEnd = append(dst.rowEnd, uint32(dst.vals.rows()))
			dst.bad = append(dst.bad, false)
		} else if rows == 0 {
			return fmt.Errorf("%w: a row continues before it starts", errCorrupt)
		}
		row := len(dst.rowEnd) - 1
		switch def := c.def(c.col.maxDef); {
		case def < c.col.someDef:
			// null, or an empty list
		case !c.col.strings || def != c.col.maxDef:
			dst.bad[row] = true
		default:
			b, ok := c.vals.at(c.k)
			if !ok {
				return errCorrupt
			}
			c.k++
			dst.vals.add(b)
			dst.rowEnd[row] = uint32(dst.vals.rows())
		}
		c.pos++
	}
	if rows != n {
		return errShort
	}
	return dst.vals.check()
}
