// Package record reads content records (DESIGN.md "Contracts") into the
// fields the eligibility rules need, deciding on the way whether a record is
// well-formed. Records themselves are never re-encoded: the filter copies
// the original bytes.
package record

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	asmutf8 "github.com/segmentio/asm/utf8"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/signal"
)

// Why a record is malformed, for the rejects file.
const (
	WhyNotObject     = "not a JSON object"
	WhyInvalidJSON   = "invalid JSON"
	WhyInvalidUTF8   = "invalid UTF-8"
	WhyTooDeep       = "nested too deeply"
	WhyDuplicate     = "a field appears twice"
	WhyMissingField  = "id, product, author_id or created_at missing, empty or not a string"
	WhyBadTime       = "created_at is not an RFC 3339 time"
	WhyBadList       = "mentions or tags is not a list of strings"
	maxDepth         = 512
	fieldCount       = 12
	fieldNone        = -1
	fID, fProduct    = 0, 1
	fAuthor, fKind   = 2, 3
	fVisibility      = 4
	fCreated, fText  = 5, 6
	fMentions, fTags = 7, 8
	// Creators' reservations, kept as raw JSON for internal/signal.
	fContentUsage, fTDMReservation, fTrainingMining = 9, 10, 11
)

var fieldNames = [fieldCount]string{"id", "product", "author_id", "kind", "visibility", "created_at", "text", "mentions", "tags",
	signal.FieldAIPref, signal.FieldTDMRep, signal.FieldC2PA}

// Parser turns JSON Lines records into eligibility items. It reuses its
// buffers, so one Parser serves one goroutine.
type Parser struct {
	// WantText decodes the text field (needed only by policy rules).
	WantText bool
	// KnownUTF8 says the caller has checked that every line it passes is
	// valid UTF-8 (the filter checks a whole chunk of lines at once, which
	// is several times faster than line by line; newlines are ASCII, so a
	// valid chunk holds only valid lines).
	KnownUTF8 bool

	seen      [fieldCount]bool
	strings   [fieldCount][]byte // decoded values of string fields; the signals' raw JSON
	lists     [2][][]byte        // mentions, tags
	listStart [2]int             // where this record's lists begin
	scratch   []byte             // decoded escapes live here
	batch     bool               // keep decoded values until ResetBatch
	line      []byte
	pos       int
	depth     int
	why       string
}

// Parse fills it from one line (without its newline). It returns "" for a
// well-formed record, else why it is malformed (it.Malformed is then set).
// The item's byte slices point into line or into the parser's buffers and
// are valid until the next Parse.
func (p *Parser) Parse(line []byte, it *eligibility.Item) string {
	*it = eligibility.Item{}
	p.reset(line)
	p.object()
	if p.why == "" {
		p.skipSpace()
		if p.pos != len(p.line) {
			p.fail(WhyInvalidJSON)
		}
	}
	if p.why == "" && !p.KnownUTF8 && !ValidUTF8(line) {
		p.fail(WhyInvalidUTF8)
	}
	if p.why == "" {
		p.fill(it)
	}
	if p.why != "" {
		it.Malformed = true
		return p.why
	}
	return ""
}

// ValidUTF8 reports whether b is valid UTF-8, exactly as unicode/utf8.Valid
// does, with the vector instructions the CPU has (segmentio/asm): on the
// benchmark's text it is more than twice as fast.
func ValidUTF8(b []byte) bool { return asmutf8.Valid(b) }

// StartBatch makes the items of the following Parse calls stay valid until
// ResetBatch, so a batch of records can be decided together.
func (p *Parser) StartBatch() {
	p.batch = true
	p.ResetBatch()
}

// ResetBatch releases the decoded values of the batch.
func (p *Parser) ResetBatch() {
	p.lists[0], p.lists[1] = p.lists[0][:0], p.lists[1][:0]
	p.scratch = p.scratch[:0]
}

func (p *Parser) reset(line []byte) {
	p.line, p.pos, p.depth, p.why = line, 0, 0, ""
	p.seen = [fieldCount]bool{}
	for i := range p.strings {
		p.strings[i] = nil
	}
	if !p.batch {
		p.ResetBatch()
	}
	p.listStart = [2]int{len(p.lists[0]), len(p.lists[1])}
}

func (p *Parser) fail(why string) {
	if p.why == "" {
		p.why = why
	}
}

// fill checks the required fields and copies them into the item.
func (p *Parser) fill(it *eligibility.Item) {
	for _, f := range [...]int{fID, fProduct, fAuthor, fCreated} {
		if len(p.strings[f]) == 0 {
			p.fail(WhyMissingField)
			return
		}
	}
	c, ok := ParseTime(p.strings[fCreated])
	if !ok {
		p.fail(WhyBadTime)
		return
	}
	it.ID, it.Product, it.AuthorID = p.strings[fID], p.strings[fProduct], p.strings[fAuthor]
	it.Kind, it.Visibility, it.Text = p.strings[fKind], p.strings[fVisibility], p.strings[fText]
	it.CreatedAt = c
	it.ContentUsage, it.TDMReservation, it.TrainingMining = p.strings[fContentUsage], p.strings[fTDMReservation], p.strings[fTrainingMining]
	// Full slice expressions: a later record's appends never show here.
	it.Mentions = p.lists[0][p.listStart[0]:len(p.lists[0]):len(p.lists[0])]
	it.Tags = p.lists[1][p.listStart[1]:len(p.lists[1]):len(p.lists[1])]
	if len(it.Mentions) == 0 {
		it.Mentions = nil
	}
	if len(it.Tags) == 0 {
		it.Tags = nil
	}
	it.Raw = p.line
}

func (p *Parser) skipSpace() {
	// Compact JSON has no white space between tokens: check once, cheaply.
	if p.pos < len(p.line) && p.line[p.pos] > ' ' {
		return
	}
	for p.pos < len(p.line) {
		switch p.line[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

// object parses the top-level object, picking out the known fields.
func (p *Parser) object() {
	p.skipSpace()
	if p.pos >= len(p.line) || p.line[p.pos] != '{' {
		p.fail(WhyNotObject)
		return
	}
	p.pos++
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		return
	}
	for p.why == "" {
		p.skipSpace()
		key, ok := p.str()
		if !ok {
			return
		}
		p.skipSpace()
		if p.peek() != ':' {
			p.fail(WhyInvalidJSON)
			return
		}
		p.pos++
		p.skipSpace()
		f := field(key)
		if f != fieldNone {
			if p.seen[f] {
				// Which of two author_ids would a reader believe? Neither.
				p.fail(WhyDuplicate)
				return
			}
			p.seen[f] = true
		}
		switch {
		case f == fMentions || f == fTags:
			p.list(f - fMentions)
		case f >= fContentUsage:
			start := p.pos
			p.value()
			p.strings[f] = p.line[start:p.pos]
		case f != fieldNone && p.peek() == '"':
			if f == fText && !p.WantText {
				p.skipString()
			} else if v, ok := p.str(); ok {
				p.strings[f] = v
			}
		default:
			// Another field, or a known one that is not a string: a non-string
			// kind or visibility is simply not an allowed value.
			p.value()
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return
		default:
			p.fail(WhyInvalidJSON)
			return
		}
	}
}

func field(key []byte) int {
	var f int
	switch len(key) {
	case 2:
		f = fID
	case 4:
		switch key[0] {
		case 'k':
			f = fKind
		case 't':
			f = fText
			if key[1] == 'a' {
				f = fTags
			}
		default:
			return fieldNone
		}
	case 7:
		f = fProduct
	case 8:
		f = fMentions
	case 9:
		f = fAuthor
	case 10:
		f = fVisibility
		if key[0] == 'c' {
			f = fCreated
		}
	case 13:
		f = fContentUsage
	case 15:
		f = fTDMReservation
		if key[1] == 'r' {
			f = fTrainingMining
		}
	default:
		return fieldNone
	}
	if string(key) != fieldNames[f] {
		return fieldNone
	}
	return f
}

func (p *Parser) peek() byte {
	if p.pos < len(p.line) {
		return p.line[p.pos]
	}
	return 0
}

// list reads mentions or tags: null (absent) or an array of strings.
func (p *Parser) list(which int) {
	switch p.peek() {
	case 'n':
		p.literal("null")
		return
	case '[':
	default:
		p.value()
		p.fail(WhyBadList)
		return
	}
	p.pos++
	p.skipSpace()
	if p.peek() == ']' {
		p.pos++
		return
	}
	for p.why == "" {
		p.skipSpace()
		if p.peek() != '"' {
			p.value()
			p.fail(WhyBadList)
			return
		}
		v, ok := p.str()
		if !ok {
			return
		}
		p.lists[which] = append(p.lists[which], v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return
		default:
			p.fail(WhyInvalidJSON)
			return
		}
	}
}

// value validates any JSON value without keeping it.
func (p *Parser) value() {
	switch c := p.peek(); {
	case c == '"':
		p.skipString()
	case c == '{' || c == '[':
		p.depth++
		if p.depth > maxDepth {
			p.fail(WhyTooDeep)
			return
		}
		p.container(c)
		p.depth--
	case c == 't':
		p.literal("true")
	case c == 'f':
		p.literal("false")
	case c == 'n':
		p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		p.number()
	default:
		p.fail(WhyInvalidJSON)
	}
}

func (p *Parser) container(open byte) {
	close := byte(']')
	if open == '{' {
		close = '}'
	}
	p.pos++
	p.skipSpace()
	if p.peek() == close {
		p.pos++
		return
	}
	for p.why == "" {
		p.skipSpace()
		if open == '{' {
			if p.peek() != '"' {
				p.fail(WhyInvalidJSON)
				return
			}
			p.skipString()
			p.skipSpace()
			if p.peek() != ':' {
				p.fail(WhyInvalidJSON)
				return
			}
			p.pos++
			p.skipSpace()
		}
		p.value()
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case close:
			p.pos++
			return
		default:
			p.fail(WhyInvalidJSON)
			return
		}
	}
}

func (p *Parser) literal(lit string) {
	if len(p.line)-p.pos >= len(lit) && string(p.line[p.pos:p.pos+len(lit)]) == lit {
		p.pos += len(lit)
		return
	}
	p.fail(WhyInvalidJSON)
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *Parser) number() {
	b, i := p.line, p.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		p.fail(WhyInvalidJSON)
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			p.fail(WhyInvalidJSON)
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			p.fail(WhyInvalidJSON)
			return
		}
	}
	p.pos = i
}

const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// special finds the first '"', '\\' or control byte at or after i, eight
// bytes at a time in one pass: string scanning is most of the filter's
// work. (Searching for the quote with bytes.IndexByte and then checking
// the span before it for escapes and control bytes read long strings three
// times and took a call for every key.)
func special(b []byte, i int) int {
	for ; i+16 <= len(b); i += 16 {
		x := stopMask(binary.LittleEndian.Uint64(b[i:]))
		y := stopMask(binary.LittleEndian.Uint64(b[i+8:]))
		if x|y != 0 {
			if x != 0 {
				return i + bits.TrailingZeros64(x)/8
			}
			return i + 8 + bits.TrailingZeros64(y)/8
		}
	}
	if i+8 <= len(b) {
		if m := stopMask(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	// The line's last few bytes.
	for ; i < len(b); i++ {
		if stop[b[i]] {
			return i
		}
	}
	return i
}

// stop marks the bytes that end a run of plain string content.
var stop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// stopMask marks, in the high bit of each byte of x, the bytes that are '"',
// '\\' or below 0x20 (bytes of UTF-8 sequences, 0x80 and up, never are). A
// byte above a marked one may be marked wrongly (a borrow), so only the
// lowest mark is an answer.
func stopMask(x uint64) uint64 {
	q := x ^ (lo * '"')
	s := x ^ (lo * '\\')
	return ((q-lo)&^q | (s-lo)&^s | (x-lo*0x20)&^x) & hi
}

// skipString validates a string without decoding it.
func (p *Parser) skipString() {
	b := p.line
	i := p.pos + 1
	for {
		i = special(b, i)
		if i >= len(b) || b[i] < 0x20 {
			p.fail(WhyInvalidJSON)
			return
		}
		if b[i] == '"' {
			p.pos = i + 1
			return
		}
		n := escapeLen(b, i)
		if n == 0 {
			p.fail(WhyInvalidJSON)
			return
		}
		i += n
	}
}

// str reads a string, decoding escapes only when there are any.
func (p *Parser) str() ([]byte, bool) {
	b := p.line
	if p.peek() != '"' {
		p.fail(WhyInvalidJSON)
		return nil, false
	}
	start := p.pos + 1
	i := special(b, start)
	if i < len(b) && b[i] == '"' {
		p.pos = i + 1
		return b[start:i:i], true
	}
	// Escapes: decode into scratch.
	mark := len(p.scratch)
	p.scratch = append(p.scratch, b[start:i]...)
	for {
		if i >= len(b) || b[i] < 0x20 {
			p.fail(WhyInvalidJSON)
			return nil, false
		}
		if b[i] == '"' {
			p.pos = i + 1
			return p.scratch[mark:len(p.scratch):len(p.scratch)], true
		}
		n := escapeLen(b, i)
		if n == 0 {
			p.fail(WhyInvalidJSON)
			return nil, false
		}
		var used int
		p.scratch, used = appendEscape(p.scratch, b, i)
		i += used
		j := special(b, i)
		p.scratch = append(p.scratch, b[i:j]...)
		i = j
	}
}

// escapeLen validates the escape at b[i] ('\\') and returns its length, 0 if invalid.
func escapeLen(b []byte, i int) int {
	if i+1 >= len(b) {
		return 0
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if i+6 > len(b) {
			return 0
		}
		for _, c := range b[i+2 : i+6] {
			if !isHex(c) {
				return 0
			}
		}
		return 6
	}
	return 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	}
	return rune(c-'A') + 10
}

// appendEscape decodes the (validated) escape at b[i] as encoding/json
// does: a surrogate pair becomes one character, a lone surrogate U+FFFD.
// It returns how many bytes it consumed.
func appendEscape(dst, b []byte, i int) ([]byte, int) {
	switch b[i+1] {
	case 'b':
		return append(dst, '\b'), 2
	case 'f':
		return append(dst, '\f'), 2
	case 'n':
		return append(dst, '\n'), 2
	case 'r':
		return append(dst, '\r'), 2
	case 't':
		return append(dst, '\t'), 2
	case 'u':
		r := hex4(b[i+2 : i+6])
		if utf16.IsSurrogate(r) && escapeLen(b, i+6) == 6 && b[i+7] == 'u' {
			if pair := utf16.DecodeRune(r, hex4(b[i+8:i+12])); pair != utf8.RuneError {
				return utf8.AppendRune(dst, pair), 12
			}
		}
		return utf8.AppendRune(dst, r), 6
	}
	return append(dst, b[i+1]), 2
}

func hex4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}
