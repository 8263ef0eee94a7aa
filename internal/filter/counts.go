package filter

import (
	"encoding/json"
	"sort"
	"sync"

	"github.com/notrain/notrain/internal/eligibility"
)

// Counts tally what the filter decided.
type Counts struct {
	Read       int64
	Eligible   int64
	Blank      int64 // empty lines: not records, not counted as read
	Excluded   [eligibility.NumReasons]int64
	Rules      map[string]int64
	RuleErrors map[string]int64
}

func (c *Counts) add(d eligibility.Decision) {
	c.Read++
	if d.Reason == eligibility.Keep {
		c.Eligible++
		return
	}
	c.Excluded[d.Reason]++
	if d.Reason == eligibility.RuleMatch {
		if c.Rules == nil {
			c.Rules = map[string]int64{}
		}
		c.Rules[d.Rule]++
		if d.RuleError {
			if c.RuleErrors == nil {
				c.RuleErrors = map[string]int64{}
			}
			c.RuleErrors[d.Rule]++
		}
	}
}

func (c *Counts) merge(o *Counts) {
	c.Read += o.Read
	c.Eligible += o.Eligible
	c.Blank += o.Blank
	for i := range c.Excluded {
		c.Excluded[i] += o.Excluded[i]
	}
	for k, v := range o.Rules {
		if c.Rules == nil {
			c.Rules = map[string]int64{}
		}
		c.Rules[k] += v
	}
	for k, v := range o.RuleErrors {
		if c.RuleErrors == nil {
			c.RuleErrors = map[string]int64{}
		}
		c.RuleErrors[k] += v
	}
}

// ExcludedByReason lists every reason with its count (zeros included, so a
// manifest shows that a rule was applied and found nothing), rules as "rule:<name>".
func (c *Counts) ExcludedByReason() map[string]int64 {
	out := map[string]int64{}
	for r := eligibility.Malformed; int(r) < eligibility.NumReasons; r++ {
		if r != eligibility.RuleMatch {
			out[r.String()] = c.Excluded[r]
		}
	}
	for k, v := range c.Rules {
		out["rule:"+k] = v
	}
	return out
}

// MarshalJSON renders the counts as the manifest's "counts" object.
func (c *Counts) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0)
	ex := c.ExcludedByReason()
	for k := range ex {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return json.Marshal(struct {
		Read       int64            `json:"read"`
		Eligible   int64            `json:"eligible"`
		Excluded   map[string]int64 `json:"excluded"`
		RuleErrors map[string]int64 `json:"rule_errors,omitempty"`
		Blank      int64            `json:"blank_lines,omitempty"`
	}{c.Read, c.Eligible, ex, c.RuleErrors, c.Blank})
}

// lineage counts, per account, the records a snapshot kept.
type lineage struct {
	mu     sync.Mutex
	counts []uint32
}

func newLineage(n int) *lineage { return &lineage{counts: make([]uint32, n)} }

// addAll merges a worker's per-chunk tallies.
func (l *lineage) addAll(idx []int32) {
	l.mu.Lock()
	for _, i := range idx {
		l.counts[i]++
	}
	l.mu.Unlock()
}
