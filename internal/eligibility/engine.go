package eligibility

import (
	"encoding/json"
	"math"
	"time"

	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/signal"
)

// Item is what the rules read of one record. Byte slices point into the
// record itself; nil means the field is absent.
type Item struct {
	Malformed  bool
	ID         []byte
	Product    []byte
	AuthorID   []byte
	Kind       []byte
	Visibility []byte
	CreatedAt  int64 // Unix microseconds, UTC
	Mentions   [][]byte
	Tags       [][]byte
	Text       []byte
	// Creators' reservations: the raw JSON values of content_usage,
	// tdm_reservation and training_mining (nil: absent).
	ContentUsage, TDMReservation, TrainingMining []byte
	// Raw is the record as JSON, decoded only for rules that read `record`.
	Raw []byte
	// Record, when set, builds the record for rules instead (formats that
	// are not JSON).
	Record func() (map[string]any, error)
}

// Decision is the outcome for one item.
type Decision struct {
	Reason    Reason
	Rule      string // for RuleMatch
	RuleError bool   // the rule failed to evaluate and so counted as a match
	Author    int32  // the author's account index when in the directory, else -1
}

// Engine applies one policy to one snapshot as of one moment. It is
// immutable and safe for concurrent use.
type Engine struct {
	pol      *policy.Policy
	snap     *Snapshot
	asOf     int64
	asOfTime time.Time

	visibility [][]byte
	kindOK     [maxCodes]bool // by kind code; 0 = unknown kind
	productOK  [maxCodes][maxCodes]bool

	// objectionUntil[g]: content of the account with grant slot g created
	// before this moment is excluded (math.MaxInt64: an objection is in
	// force at the as-of time; 0: none applies).
	objectionUntil []int64
	consentAtAsOf  []bool
	items          map[string]struct{}

	consentMode      bool
	excludeUnknown   bool
	excludeNoBirth   bool
	excludeThirdPart bool
	minAge           int
}

// maxCodes bounds the product and kind codes (1-based; 0 = unknown).
const maxCodes = 32

var kindNames = platform.Kinds()

func init() {
	if len(kindNames) >= maxCodes || len(productNames) >= maxCodes {
		panic("eligibility: more kinds or products than codes")
	}
}

func kindCode(k []byte) int {
	for i, name := range kindNames {
		if string(k) == name {
			return i + 1
		}
	}
	return 0
}

// NewEngine prepares the rules of pol over snap as of asOf.
func NewEngine(pol *policy.Policy, snap *Snapshot, asOf time.Time) *Engine {
	e := &Engine{
		pol: pol, snap: snap, asOf: asOf.UnixMicro(), asOfTime: asOf.UTC(),
		objectionUntil:   make([]int64, len(snap.grantStart)),
		consentAtAsOf:    make([]bool, len(snap.grantStart)),
		items:            make(map[string]struct{}, len(snap.items)+len(pol.ExcludeItems)),
		consentMode:      pol.Mode == policy.ModeConsent,
		excludeUnknown:   pol.UnknownAuthor == policy.Exclude,
		excludeNoBirth:   pol.UnknownBirthdate == policy.Exclude,
		excludeThirdPart: pol.ThirdParty == policy.Exclude,
		minAge:           pol.MinimumAge,
	}
	for _, v := range pol.Visibilities {
		e.visibility = append(e.visibility, []byte(v))
	}
	for ki, k := range kindNames {
		e.kindOK[ki+1] = pol.AllowsKind(k)
		for pi, p := range productNames {
			e.productOK[pi+1][ki+1] = pol.AllowsProduct(p, k)
		}
	}
	// Rule 6 over intervals, folded into one threshold per account: an
	// objection effective at or before S that is not withdrawn at S excludes
	// everything; one withdrawn at W <= S excludes content created before W.
	for slot := 1; slot < len(snap.grantStart); slot++ {
		var until int64
		for _, g := range snap.grants[snap.grantStart[slot-1]:snap.grantStart[slot]] {
			if g.From > e.asOf {
				continue
			}
			if g.consent {
				if g.To == 0 || g.To > e.asOf {
					e.consentAtAsOf[slot] = true
				}
				continue
			}
			if g.To == 0 || g.To > e.asOf {
				until = math.MaxInt64
			} else {
				until = max(until, g.To)
			}
		}
		e.objectionUntil[slot] = until
	}
	for id := range snap.items {
		e.items[id] = struct{}{}
	}
	for _, id := range pol.ExcludeItems {
		e.items[id] = struct{}{}
	}
	return e
}

// InForce reports whether some interval covers t: the one rule for "an
// objection or consent was in force at t", also used by "my data".
func InForce(ivs []Interval, t int64) bool {
	for _, iv := range ivs {
		if iv.From <= t && (iv.To == 0 || iv.To > t) {
			return true
		}
	}
	return false
}

// Snapshot is the eligibility snapshot the engine reads.
func (e *Engine) Snapshot() *Snapshot { return e.snap }

// Decide returns the first exclusion reason that applies to it, in
// DESIGN.md's order, or Keep.
func (e *Engine) Decide(it *Item) Decision {
	d := Decision{Author: -1}
	// 1. malformed: decided by the reader.
	if it.Malformed {
		d.Reason = Malformed
		return d
	}
	// 2. visibility.
	if !e.visible(it.Visibility) {
		d.Reason = NotPublic
		return d
	}
	// 3. kind, then product (and the per-product kind rule).
	kc := kindCode(it.Kind)
	if !e.kindOK[kc] {
		d.Reason = KindExcluded
		return d
	}
	pc := productCode(it.Product)
	if !e.productOK[pc][kc] {
		d.Reason = ProductExcluded
		return d
	}
	// 4. the author must be in the directory.
	keys := e.snap.keys
	entry, found := keys.lookup(pc, it.AuthorID)
	var flags uint8
	var slot uint32
	author := int32(-1)
	if found {
		author, flags, slot = keys.index(entry), keys.flags(entry), keys.grants(entry)
	}
	inDir := flags&flagInDirectory != 0
	if inDir {
		d.Author = author
	} else if e.excludeUnknown {
		d.Reason = UnknownAuthor
		return d
	}
	c := it.CreatedAt
	// 5. minors: under the minimum age at c; an unknown birthdate counts as minor.
	birth := int32(unknownBirth)
	if inDir {
		birth = keys.birth(entry)
	}
	if birth == unknownBirth {
		if e.excludeNoBirth {
			d.Reason = Minor
			return d
		}
	} else if c < AdultFrom(birth, e.minAge) {
		d.Reason = Minor
		return d
	}
	// 6. the author's objection, or missing consent.
	if e.consentMode {
		if e.refused(slot, c) {
			d.Reason = NoConsent
			return d
		}
	} else if e.objected(slot, c) {
		d.Reason = Objection
		return d
	}
	// 7. third parties: a tagged or mentioned person excluded by rule 6.
	if e.excludeThirdPart && (e.anyExcluded(pc, it.Mentions, c) || e.anyExcluded(pc, it.Tags, c)) {
		d.Reason = ThirdParty
		return d
	}
	// 8. the item exclusion list.
	if _, ok := e.items[string(it.ID)]; ok {
		d.Reason = ItemExcluded
		return d
	}
	// 9. extra rules.
	if rules := e.pol.Compiled; rules != nil && rules.Len() > 0 {
		v := &policy.Vars{ID: string(it.ID), Product: string(it.Product), AuthorID: string(it.AuthorID),
			Kind: string(it.Kind), Visibility: string(it.Visibility), Text: string(it.Text),
			CreatedAt: time.UnixMicro(c).UTC(), AsOf: e.asOfTime, Mentions: toStrings(it.Mentions), Tags: toStrings(it.Tags),
			Record: it.Record}
		if v.Record == nil && it.Raw != nil {
			raw := it.Raw
			v.Record = func() (map[string]any, error) {
				var m map[string]any
				err := json.Unmarshal(raw, &m)
				return m, err
			}
		}
		if name, matched, errored := rules.Match(v); matched {
			d.Reason, d.Rule, d.RuleError = RuleMatch, name, errored
			return d
		}
	}
	// 10–12. creators' reservations carried on the content.
	sig := e.pol.Signals
	switch {
	case sig.AIPref && it.ContentUsage != nil && signal.AIPref(it.ContentUsage):
		d.Reason = SignalAIPref
	case sig.TDMRep && it.TDMReservation != nil && signal.TDMRep(it.TDMReservation):
		d.Reason = SignalTDMRep
	case sig.C2PA && it.TrainingMining != nil && signal.C2PA(it.TrainingMining):
		d.Reason = SignalC2PA
	}
	return d
}

// HonoursSignals reports whether the policy honours any creators'
// reservation, so a reader knows to fill Item's signal fields.
func (e *Engine) HonoursSignals() bool {
	s := e.pol.Signals
	return s.AIPref || s.TDMRep || s.C2PA
}

// Prefetch touches the accounts a batch of items will look up, in two
// tight loops of independent loads (slots, then entries), so their cache
// misses overlap instead of stalling Decide one after another. It changes
// nothing; Decide gives the same answers with or without it.
func (e *Engine) Prefetch(items []Item) uint32 {
	keys := e.snap.keys
	if len(keys.slots) == 0 {
		return 0
	}
	var slots [256]uint32
	n := 0
	var sink uint32
	add := func(pc uint8, id []byte) {
		if n < len(slots) {
			s := keys.slots[keys.start(pc, id)]
			slots[n] = s
			n++
		}
	}
	for i := range items {
		it := &items[i]
		if it.Malformed {
			continue
		}
		pc := productCode(it.Product)
		if pc == 0 {
			continue
		}
		add(pc, it.AuthorID)
		for _, m := range it.Mentions {
			add(pc, m)
		}
		for _, t := range it.Tags {
			add(pc, t)
		}
	}
	for _, s := range slots[:n] {
		if s != 0 {
			sink += uint32(keys.arena[s-1])
		}
	}
	return sink
}

func (e *Engine) visible(v []byte) bool {
	if v == nil {
		return false
	}
	for _, ok := range e.visibility {
		if string(v) == string(ok) {
			return true
		}
	}
	return false
}

// objected applies rule 6 in objection mode to the account with grant
// slot (0: none, or not in the snapshot).
func (e *Engine) objected(slot uint32, c int64) bool {
	return slot != 0 && c < e.objectionUntil[slot]
}

// consented applies rule 6 in consent mode: consent in force at S and at c.
func (e *Engine) consented(slot uint32, c int64) bool {
	return slot != 0 && e.consentAtAsOf[slot] && InForce(e.snap.intervals(slot, true), c)
}

// refused applies rule 6 in consent mode: no consent in force at S and at
// c, or an objection that keeps c's content out as it would in objection
// mode — an objection takes back any consent (Art. 7(3), 21 GDPR), and the
// portal takes objections in both modes.
func (e *Engine) refused(slot uint32, c int64) bool {
	return !e.consented(slot, c) || e.objected(slot, c)
}

func (e *Engine) anyExcluded(pc uint8, ids [][]byte, c int64) bool {
	keys := e.snap.keys
	for _, id := range ids {
		var slot uint32
		if entry, ok := keys.lookup(pc, id); ok {
			slot = keys.grants(entry)
		}
		if e.consentMode {
			if e.refused(slot, c) {
				return true
			}
		} else if e.objected(slot, c) {
			return true
		}
	}
	return false
}

func toStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}
