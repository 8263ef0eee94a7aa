package filter

import (
	"strconv"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/record"
)

// Decider decides JSON Lines records one at a time, with the same parser,
// engine and counting as the filter's workers, for callers that receive
// records from elsewhere (the Beam pipeline reads its own byte ranges). It
// reuses buffers, so one Decider serves one goroutine.
type Decider struct {
	engine *eligibility.Engine
	p      record.Parser
	it     eligibility.Item
}

// NewDecider returns a Decider over the engine; wantText decodes the text
// field for policies whose rules read it.
func NewDecider(e *eligibility.Engine, wantText bool) *Decider {
	return &Decider{engine: e, p: record.Parser{WantText: wantText}}
}

// Line decides one line, given without its newline (a CR before it stays:
// the output keeps the record's bytes), and counts it in c. A blank line
// counts as blank, not as a record. It returns whether the record is kept
// and, for a kept record of a known author, the author's account index in
// the snapshot (else -1).
func (d *Decider) Line(line []byte, c *Counts) (keep bool, author int32) {
	if isBlank(line) {
		c.Blank++
		return false, -1
	}
	d.p.Parse(trimCR(line), &d.it)
	dec := d.engine.Decide(&d.it)
	c.add(dec)
	if dec.Reason != eligibility.Keep {
		return false, -1
	}
	return true, dec.Author
}

// Oversize counts a record longer than the reader's limit: malformed.
func (c *Counts) Oversize() { c.add(eligibility.Decision{Reason: eligibility.Malformed}) }

// Merge adds o's counts to c.
func (c *Counts) Merge(o *Counts) { c.merge(o) }

// AppendLineageLine appends the lineage sidecar's line for an account of
// which n records were kept.
func AppendLineageLine(dst []byte, k eligibility.Key, n uint64) []byte {
	dst = append(dst, `{"product":`...)
	dst = strconv.AppendQuote(dst, k.Product)
	dst = append(dst, `,"account_id":`...)
	dst = appendJSONString(dst, k.AccountID)
	dst = append(dst, `,"items":`...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, "}\n"...)
}
