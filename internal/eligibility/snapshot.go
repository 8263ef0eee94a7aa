package eligibility

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/notrain/notrain/internal/ledger"
)

// Interval is when an objection or consent was in force: from its effective
// moment to its withdrawal (To = 0: not withdrawn). Unix microseconds, UTC.
type Interval struct {
	From, To int64
}

// Account flags.
const (
	flagInDirectory = 1 << iota
	flagObjection   // has objection intervals: look in the map
	flagConsent     // has consent intervals
)

// Snapshot is the immutable state the rules need, read at one ledger head:
// the directory (who exists, born when), the objections and consents per
// account after e-mail, link-group and scope expansion, and the store's
// item exclusions. It does not depend on the as-of time or the policy.
type Snapshot struct {
	keys *keyTable // accounts with their birthdates (packed YYYYMMDD, 0 unknown) and flags
	// The objection and consent intervals of the account whose entry holds
	// grant slot g are grants[grantStart[g-1]:grantStart[g]]: flat arrays,
	// a few bytes per objector instead of a map of small slices.
	grantStart []uint32
	grants     []grant
	items      map[string]struct{}
	Head       ledger.Head
	Stats      Stats
}

// grant is one interval of an account's objection or consent.
type grant struct {
	Interval
	consent bool
}

// intervals returns an account's intervals of one kind, for a slot.
func (s *Snapshot) intervals(slot uint32, consent bool) []Interval {
	if slot == 0 {
		return nil
	}
	var out []Interval
	for _, g := range s.grants[s.grantStart[slot-1]:s.grantStart[slot]] {
		if g.consent == consent {
			out = append(out, g.Interval)
		}
	}
	return out
}

// attach gives each account with grants its slot and lays the grants out
// flat, in account order.
// keyedGrant is a grant on its way to the account (index) it belongs to.
type keyedGrant struct {
	idx int32
	grant
}

// attach gives each account its grants, in the order pending lists them
// per account. A flat list rather than a map of lists: reading a store's
// snapshot of 100 k objections, the map's buckets and small lists took
// some 20 MB more at the peak than the grants themselves.
func (s *Snapshot) attach(pending []keyedGrant) {
	slices.SortStableFunc(pending, func(a, b keyedGrant) int { return cmp.Compare(a.idx, b.idx) })
	s.grantStart = make([]uint32, 1, len(pending)+1)
	s.grants = make([]grant, 0, len(pending))
	for i := 0; i < len(pending); {
		idx := pending[i].idx
		for ; i < len(pending) && pending[i].idx == idx; i++ {
			s.grants = append(s.grants, pending[i].grant)
		}
		s.grantStart = append(s.grantStart, uint32(len(s.grants)))
		s.keys.setGrants(s.keys.entry(idx), uint32(len(s.grantStart)-1))
	}
}

// Stats describe a snapshot for manifests.
type Stats struct {
	Accounts       int `json:"accounts"`
	Objections     int `json:"objections"`
	ObjectionKeys  int `json:"accounts_with_objections"`
	Consents       int `json:"consents"`
	ConsentKeys    int `json:"accounts_with_consent"`
	ItemExclusions int `json:"item_exclusions"`
}

// AccountRow is one directory account as the store reads it.
type AccountRow struct {
	Product, AccountID, EmailHash, Birthdate, Group string
}

// Key names an account.
type Key struct {
	Product, AccountID string
}

// Grant is an accepted objection or a given consent before expansion.
type Grant struct {
	EmailHash string   // "" when the grant names accounts only
	Accounts  []Key    // accounts named explicitly (at acceptance, or by import)
	Products  []string // scope; empty = all products
	Interval
}

func (g *Grant) covers(product string) bool {
	return len(g.Products) == 0 || slices.Contains(g.Products, product)
}

// Source is a consistent read of the store at one ledger head.
type Source interface {
	Head() ledger.Head
	// Accounts streams the directory. Build calls it twice.
	Accounts(fn func(AccountRow) error) error
	Objections(fn func(Grant) error) error
	Consents(fn func(Grant) error) error
	ItemExclusions(fn func(id string) error) error
}

// Build reads a Source into a Snapshot. Who an objection covers (DESIGN.md):
// the accounts whose e-mail matches or that it names, plus every account in
// their link groups; a scope that lists products keeps only those. A consent
// covers only the accounts it names (those the intake found when it was
// given): when in doubt, exclude. Memory
// beyond the compact directory is proportional to the grants, not the
// directory: a first pass finds the matched accounts and their groups, a
// second adds the rest of those groups.
//
// accounts and idBytes (the directory's size and the total length of its
// account ids) size the tables; 0 means unknown.
func Build(src Source, accounts, idBytes int) (*Snapshot, error) {
	b := &builder{
		snap:    &Snapshot{keys: newKeyTable(accounts, idBytes), items: map[string]struct{}{}, Head: src.Head()},
		byEmail: map[string][]int32{}, byKey: map[Key][]int32{}, byGroup: map[string][]int32{},
		pending: map[int32][]grant{},
	}
	if err := src.Objections(func(g Grant) error { b.addGrant(g, false); return nil }); err != nil {
		return nil, fmt.Errorf("eligibility: objections: %w", err)
	}
	if err := src.Consents(func(g Grant) error { b.addGrant(g, true); return nil }); err != nil {
		return nil, fmt.Errorf("eligibility: consents: %w", err)
	}
	if err := src.ItemExclusions(func(id string) error { b.snap.items[id] = struct{}{}; return nil }); err != nil {
		return nil, fmt.Errorf("eligibility: item exclusions: %w", err)
	}
	if err := src.Accounts(b.firstPass); err != nil {
		return nil, fmt.Errorf("eligibility: accounts: %w", err)
	}
	b.addUndirected()
	b.snap.keys.build()
	if len(b.byGroup) > 0 {
		if err := src.Accounts(b.secondPass); err != nil {
			return nil, fmt.Errorf("eligibility: accounts: %w", err)
		}
	}
	return b.finish(), nil
}

type builder struct {
	snap    *Snapshot
	grants  []Grant
	consent []bool
	byEmail map[string][]int32
	byKey   map[Key][]int32
	byGroup map[string][]int32 // link group → grants that reach it
	seen    map[Key]bool
	pending map[int32][]grant // account index → its intervals, until attach
}

func (b *builder) addGrant(g Grant, consent bool) {
	i := int32(len(b.grants))
	b.grants = append(b.grants, g)
	b.consent = append(b.consent, consent)
	if consent {
		b.snap.Stats.Consents++
	} else {
		b.snap.Stats.Objections++
	}
	// A consent covers exactly the accounts it named when it was given: an
	// account that takes the address or joins a link group later never
	// said yes (an objection reaching further only keeps more out).
	if g.EmailHash != "" && !consent {
		b.byEmail[g.EmailHash] = append(b.byEmail[g.EmailHash], i)
	}
	for _, k := range g.Accounts {
		b.byKey[k] = append(b.byKey[k], i)
	}
}

func (b *builder) firstPass(a AccountRow) error {
	pc := productCode([]byte(a.Product))
	if pc == 0 {
		return fmt.Errorf("account %s/%s: unknown product", a.Product, a.AccountID)
	}
	birth, _ := PackDate(a.Birthdate)
	idx := b.snap.keys.add(pc, []byte(a.AccountID), birth, flagInDirectory)
	b.snap.Stats.Accounts++
	k := Key{a.Product, a.AccountID}
	var matched []int32
	if a.EmailHash != "" {
		matched = append(matched, b.byEmail[a.EmailHash]...)
	}
	matched = append(matched, b.byKey[k]...)
	for _, gi := range matched {
		b.grant(idx, gi, a.Product)
		if a.Group != "" && !b.consent[gi] && !slices.Contains(b.byGroup[a.Group], gi) {
			b.byGroup[a.Group] = append(b.byGroup[a.Group], gi)
		}
	}
	if b.seen == nil {
		b.seen = map[Key]bool{}
	}
	if len(b.byKey[k]) > 0 {
		b.seen[k] = true
	}
	return nil
}

// addUndirected adds accounts that grants name but the directory lacks:
// a post may still mention them, and their objection must still count.
func (b *builder) addUndirected() {
	keys := make([]Key, 0, len(b.byKey))
	for k := range b.byKey {
		if !b.seen[k] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y Key) int {
		if c := cmp.Compare(x.Product, y.Product); c != 0 {
			return c
		}
		return cmp.Compare(x.AccountID, y.AccountID)
	})
	for _, k := range keys {
		pc := productCode([]byte(k.Product))
		if pc == 0 {
			continue // validated on import; an unknown product can match no record
		}
		idx := b.snap.keys.add(pc, []byte(k.AccountID), unknownBirth, 0)
		for _, gi := range b.byKey[k] {
			b.grant(idx, gi, k.Product)
		}
	}
}

func (b *builder) secondPass(a AccountRow) error {
	gs := b.byGroup[a.Group]
	if a.Group == "" || len(gs) == 0 {
		return nil
	}
	e, ok := b.snap.keys.lookup(productCode([]byte(a.Product)), []byte(a.AccountID))
	if !ok {
		return fmt.Errorf("account %s/%s changed between two reads of one snapshot", a.Product, a.AccountID)
	}
	idx := b.snap.keys.index(e)
	for _, gi := range gs {
		b.grant(idx, gi, a.Product)
	}
	return nil
}

// grant records that grant gi covers account idx, if its scope allows.
func (b *builder) grant(idx, gi int32, product string) {
	g := &b.grants[gi]
	if !g.covers(product) {
		return
	}
	ng := grant{Interval: g.Interval, consent: b.consent[gi]}
	if slices.Contains(b.pending[idx], ng) {
		return
	}
	b.pending[idx] = append(b.pending[idx], ng)
	flag := uint8(flagObjection)
	if ng.consent {
		flag = flagConsent
	}
	e := b.snap.keys.entry(idx)
	b.snap.keys.setFlags(e, b.snap.keys.flags(e)|flag)
}

func (b *builder) finish() *Snapshot {
	s := b.snap
	var flat []keyedGrant
	for idx, gs := range b.pending {
		for _, g := range gs {
			flat = append(flat, keyedGrant{idx: idx, grant: g})
		}
	}
	s.attach(flat)
	for _, gs := range b.pending {
		var obj, cons bool
		for _, g := range gs {
			obj, cons = obj || !g.consent, cons || g.consent
		}
		if obj {
			s.Stats.ObjectionKeys++
		}
		if cons {
			s.Stats.ConsentKeys++
		}
	}
	s.Stats.ItemExclusions = len(s.items)
	return s
}

// Key returns the product and account id of an index.
func (s *Snapshot) Key(idx int32) Key {
	p, id := s.keys.key(idx)
	return Key{Product: productNames[p-1], AccountID: string(id)}
}

// Len is the number of keys (directory accounts and accounts only named by grants).
func (s *Snapshot) Len() int { return s.keys.len() }

// LatestChange is the latest moment, not after now (Unix microseconds), at
// which one of the snapshot's objections or consents began or ended: the
// eligibility head time as far as the snapshot can tell (item exclusions
// carry no time in it). Zero when there is none.
func (s *Snapshot) LatestChange(now int64) int64 {
	var latest int64
	for _, g := range s.grants {
		for _, t := range [2]int64{g.From, g.To} {
			if t != 0 && t <= now && t > latest {
				latest = t
			}
		}
	}
	return latest
}
