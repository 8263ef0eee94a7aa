package consent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// authored is one account's items: who wrote them, on which product.
type authored struct{ product, author string }

// boundaries collects items written at every change (a microsecond
// before, at and after it) and as-of times around every change, and checks
// the filter over the store's eligibility against want, an independent
// statement of the rule.
type boundaries struct {
	t       *testing.T
	p       *portal
	pol     *policy.Policy
	authors []authored
	items   []item
	asOfs   []time.Time
}

func newBoundaries(t *testing.T, p *portal, authors ...authored) *boundaries {
	t.Helper()
	pol, err := policy.Parse([]byte("version: 1\nmode: consent\n"), "consent test")
	if err != nil {
		t.Fatal(err)
	}
	return &boundaries{t: t, p: p, pol: pol, authors: authors}
}

// mark adds items and as-of times around the clock's now.
func (b *boundaries) mark() {
	now := b.p.Clock.Now()
	for _, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
		c := now.Add(d)
		for _, a := range b.authors {
			b.items = append(b.items, item{id: fmt.Sprintf("%s:%s:%d", a.product, a.author, len(b.items)), product: a.product,
				author: a.author, created: c})
		}
		b.asOfs = append(b.asOfs, c)
	}
}

// check runs the filter at every as-of over every item; want says whether
// an item is eligible as of s. Every exclusion must be counted no_consent.
func (b *boundaries) check(what string, want func(it item, s time.Time) bool) {
	t := b.t
	t.Helper()
	snap, err := snapshot.BuildEligibility(context.Background(), b.p.DB)
	if err != nil {
		t.Fatal(err)
	}
	in := writeItems(t, b.items)
	for _, s := range b.asOfs {
		kept, counts := runFilter(t, b.pol, snap, s, in)
		for _, it := range b.items {
			if got, w := kept[it.id], want(it, s); got != w {
				t.Errorf("after %s, as of %s: item %s (%s/%s) created %s: eligible %v, want %v", what, s.Format(time.RFC3339Nano),
					it.id, it.product, it.author, it.created.Format(time.RFC3339Nano), got, w)
			}
		}
		if int64(len(b.items)-len(kept)) != counts["no_consent"] {
			t.Errorf("after %s, as of %s: %d excluded, %d counted no_consent (%v)", what, s, len(b.items)-len(kept),
				counts["no_consent"], counts)
		}
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// entryOf reads a ledger entry through a receipt: it is in the signed log.
func (p *portal) entryOf(t *testing.T, seq int64, body any) ledger.Entry {
	t.Helper()
	rc, err := receipt.Make(context.Background(), p.DB.RecentLog(), seq)
	if err != nil {
		t.Fatal(err)
	}
	got, err := receipt.Verify(rc, p.LogKey.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got.Entry.Body, body); err != nil {
		t.Fatal(err)
	}
	return got.Entry
}

// A withdrawal for some products ends consent for those products at W and
// only for them: anna's other accounts are covered without a gap (the
// ended consent until W, its remainder from W), so their items created
// before, at and after W stay eligible, while the withdrawn product's
// items are eligible only when created and read before W. Each step is
// checked at its boundaries, with the steps before it.
func TestConsentWithdrawalPerProduct(t *testing.T) {
	dbtest.Each(t, testPerProduct)
}

func testPerProduct(t *testing.T, dsn string) {
	p := newPortal(t, dsn)
	ctx := context.Background()
	fb, ig, th, benIG := authored{"facebook", "u1"}, authored{"instagram", "ig1"}, authored{"threads", "th1"}, authored{"instagram", "ig2"}
	b := newBoundaries(t, p, fb, ig, th, benIG)
	// When consent changed for each account, as the test did it.
	tl := map[authored]timeline{}
	want := func(it item, s time.Time) bool {
		a := tl[authored{it.product, it.author}]
		return a.inForce(s) && a.inForce(it.created)
	}

	p.Clock.Advance(time.Hour)
	v := p.confirm(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	given := v["reference"].(string)
	tl[fb], tl[ig], tl[th] = timeline{p.Clock.Now()}, timeline{p.Clock.Now()}, timeline{p.Clock.Now()}
	b.mark()
	b.check("the consent", want)

	// Withdrawn for instagram.
	p.Clock.Advance(time.Hour)
	w := p.Clock.Now()
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","scope":["instagram"],"lang":"en"}`)
	tl[ig] = append(tl[ig], w)
	if v["status"] != "withdrawn" || v["withdrawn_at"] != w.Format(time.RFC3339Nano) || v["consents_ended"] != 1.0 ||
		v["scope"] != "instagram" || !slices.Equal(strs(v["products_ended"]), []string{"instagram"}) ||
		!slices.Equal(strs(v["products_kept"]), []string{"facebook", "threads"}) {
		t.Fatalf("withdrawal for instagram: %v", v)
	}
	var wb ledger.ConsentWithdrawn
	e := p.checkReceipt(t, v, ledger.KindConsentWithdrawn)
	if err := json.Unmarshal(e.Body, &wb); err != nil {
		t.Fatal(err)
	}
	wdSeq := e.Seq
	if wb.Scope != "instagram" || !slices.Equal(wb.Consents, []string{given}) || len(wb.Remainders) != 1 || e.At != w.UnixMicro() {
		t.Fatalf("consent.withdrawn entry: %+v at %d", wb, e.At)
	}
	old, err := p.DB.Consent(ctx, given)
	if err != nil || !old.WithdrawnAt.Equal(w) || old.WithdrawalRef != v["reference"] || len(old.Accounts) != 3 {
		t.Fatalf("the ended consent: %+v %v", old, err)
	}
	rem, err := p.DB.Consent(ctx, wb.Remainders[0])
	if err != nil || !rem.GivenAt.Equal(w) || !rem.WithdrawnAt.IsZero() || rem.RemainderOf != given || rem.Scope != "facebook,threads" ||
		!slices.Equal(rem.Accounts, []store.AccountKey{{Product: "facebook", AccountID: "u1"}, {Product: "threads", AccountID: "th1"}}) {
		t.Fatalf("the remainder: %+v %v", rem, err)
	}
	var gb ledger.ConsentGiven
	if e := p.entryOf(t, rem.LedgerSeq, &gb); e.Kind != ledger.KindConsentGiven || e.At != w.UnixMicro() || gb.Reference != rem.ID ||
		gb.RemainderOf != given || len(gb.Accounts) != 2 || gb.Scope != "facebook,threads" || e.Seq <= wdSeq {
		t.Fatalf("the remainder's entry: %s %+v", e.Kind, gb)
	}
	// The evidence for the withdrawal holds the consent it ended, itself
	// and the remainder it recorded.
	ev, err := p.DB.ReadEvidence(ctx, v["reference"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var evKinds []string
	for _, x := range ev.Entries {
		evKinds = append(evKinds, x.Kind)
	}
	if !slices.Equal(evKinds, []string{ledger.KindConsentGiven, ledger.KindConsentWithdrawn, ledger.KindConsentGiven}) ||
		ev.Entries[2].Seq != rem.LedgerSeq {
		t.Fatalf("evidence of the withdrawal: %v", evKinds)
	}
	var m store.Mail
	for _, x := range p.MailsTo(t, "anna@example.de") {
		if x.Kind == mail.KindConsentWithdrawn && strings.Contains(x.Text, v["reference"].(string)) {
			m = x
		}
	}
	for _, s := range []string{"Consent has ended for: Instagram", "Consent is still in force for: Facebook, Threads"} {
		if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
			t.Fatalf("the withdrawal mail lacks %q:\n%s\n%s", s, m.Text, m.HTML)
		}
	}
	b.mark()
	b.check("the withdrawal for instagram", want)

	// Withdrawn for instagram again: nothing covers it, nothing ends.
	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","scope":["instagram"],"lang":"en"}`)
	if v["consents_ended"] != 0.0 || len(strs(v["products_ended"])) != 0 || !slices.Equal(strs(v["products_kept"]), []string{"facebook", "threads"}) {
		t.Fatalf("the second withdrawal for instagram: %v", v)
	}
	if c, _ := p.DB.Consent(ctx, rem.ID); !c.WithdrawnAt.IsZero() {
		t.Fatalf("a withdrawal for instagram ended the remainder: %+v", c)
	}
	b.mark()
	b.check("the second withdrawal for instagram", want)

	// Withdrawn for facebook from anna's threads address: the consent it
	// matches (through the threads account) ends for facebook; threads
	// keeps consent through a remainder of the remainder.
	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna.threads@example.de","scope":["facebook"],"lang":"de"}`)
	tl[fb] = append(tl[fb], p.Clock.Now())
	if v["consents_ended"] != 1.0 || !slices.Equal(strs(v["products_ended"]), []string{"facebook"}) ||
		!slices.Equal(strs(v["products_kept"]), []string{"threads"}) {
		t.Fatalf("the withdrawal for facebook: %v", v)
	}
	b.mark()
	b.check("the withdrawal for facebook", want)

	// Withdrawn for everything: the last remainder ends, none is made.
	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	tl[th] = append(tl[th], p.Clock.Now())
	if v["consents_ended"] != 1.0 || v["scope"] != "all" || !slices.Equal(strs(v["products_ended"]), []string{"threads"}) ||
		len(strs(v["products_kept"])) != 0 {
		t.Fatalf("the withdrawal for all: %v", v)
	}
	b.mark()
	b.check("the withdrawal for all", want)

	var inForce int
	if err := p.DB.ReadEligibility(ctx, func(r *store.EligibilityRead) error {
		return r.Consents(func(g store.GrantRow) error {
			if g.To == 0 {
				inForce++
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if inForce != 0 {
		t.Fatalf("%d consents still in force", inForce)
	}
	// The dashboard counts the consent anna gave, not its remainders, and
	// every withdrawal.
	for series, want := range map[store.DailySeries]int{store.SeriesConsents: 1, store.SeriesConsentsRevoke: 4} {
		days, err := p.DB.Daily(ctx, series, p.Clock.Now().Add(-7*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for _, d := range days {
			n += d.Count
		}
		if n != want {
			t.Errorf("dashboard %s: %d, want %d", series, n, want)
		}
	}
	if _, err := p.DB.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

// objected is DESIGN.md's rule 6 for one objection, written from the
// times the test recorded: effective at from, withdrawn at to (zero: not
// withdrawn); it keeps out, as of s, everything while in force and, once
// withdrawn, what was created before the withdrawal.
func objected(from, to, c, s time.Time) bool {
	if from.IsZero() || s.Before(from) {
		return false
	}
	return to.IsZero() || s.Before(to) || c.Before(to)
}

// In consent mode an objection still keeps content out: anna consented for
// all her accounts, then objected through the portal, then withdrew the
// objection. While the objection is in force nothing of hers is eligible,
// what she created before or while it was in force stays out after the
// withdrawal, and what she creates after it (her consent still in force)
// is eligible again; ben's consent is untouched. Every exclusion is
// no_consent. Checked at every boundary, with the filter.
func TestConsentModeWithObjections(t *testing.T) {
	dbtest.Each(t, testConsentWithObjections)
}

func testConsentWithObjections(t *testing.T, dsn string) {
	p := newPortal(t, dsn)
	ctx := context.Background()
	fb, ig, th, benIG, carl := authored{"facebook", "u1"}, authored{"instagram", "ig1"}, authored{"threads", "th1"},
		authored{"instagram", "ig2"}, authored{"facebook", "u3"}
	b := newBoundaries(t, p, fb, ig, th, benIG, carl)
	var given, objFrom, objTo time.Time
	want := func(it item, s time.Time) bool {
		switch (authored{it.product, it.author}) {
		case benIG:
			return timeline{given}.inForce(s) && timeline{given}.inForce(it.created)
		case carl:
			return false
		}
		return timeline{given}.inForce(s) && timeline{given}.inForce(it.created) && !objected(objFrom, objTo, it.created, s)
	}

	p.Clock.Advance(time.Hour)
	p.confirm(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	p.confirm(t, "/api/v1/consents", `{"email":"ben@example.com","scope":["instagram"],"lang":"en"}`)
	given = p.Clock.Now()
	b.mark()
	b.check("the consents", want)

	p.Clock.Advance(time.Hour)
	v := p.confirm(t, "/api/v1/objections", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	objFrom = p.Clock.Now()
	if v["status"] != "accepted" || v["effective_at"] != objFrom.Format(time.RFC3339Nano) {
		t.Fatalf("objection: %v", v)
	}
	b.mark()
	b.check("the objection", want)
	// Stated outright: as of after the objection, anna's items from
	// before and after it are out, ben's are in.
	p.Clock.Advance(time.Hour)
	b.mark()
	s := p.Clock.Now()
	for _, it := range b.items {
		a := authored{it.product, it.author}
		if a != benIG && a != carl && want(it, s) {
			t.Fatalf("the reference keeps %s while anna objects", it.id)
		}
	}
	b.check("an hour into the objection", want)

	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/withdrawals", `{"email":"anna@example.de","lang":"en"}`)
	objTo = p.Clock.Now()
	if v["objections_ended"] != 1.0 {
		t.Fatalf("objection withdrawal: %v", v)
	}
	b.mark()
	b.check("the objection's withdrawal", want)

	p.Clock.Advance(time.Hour)
	b.mark()
	b.check("an hour after the objection's withdrawal", want)
	// Stated outright, as of now: created while the objection was in force
	// is out; created after its withdrawal is in.
	s = p.Clock.Now()
	var during, after int
	for _, it := range b.items {
		if it.author != "u1" {
			continue
		}
		switch {
		case !it.created.Before(objFrom) && it.created.Before(objTo):
			during++
			if want(it, s) {
				t.Fatalf("the reference keeps %s, created while the objection was in force", it.id)
			}
		case !it.created.Before(objTo):
			after++
			if !want(it, s) {
				t.Fatalf("the reference leaves out %s, created after the objection's withdrawal", it.id)
			}
		}
	}
	if during == 0 || after == 0 {
		t.Fatalf("%d items during the objection, %d after", during, after)
	}
	if _, err := p.DB.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

// A consent covers the accounts it named when given. An account that
// joined anna's link group afterwards was never covered: a withdrawal
// from its address ends nothing (anna's consent stays in force), and its
// items are no_consent before and after, while anna's are eligible.
func TestConsentWithdrawalFromAnAccountLinkedLater(t *testing.T) {
	dbtest.Each(t, testLinkedLater)
}

func testLinkedLater(t *testing.T, dsn string) {
	p := newPortal(t, dsn)
	ctx := context.Background()
	fb, later := authored{"facebook", "u1"}, authored{"threads", "th9"}
	b := newBoundaries(t, p, fb, later)
	var given time.Time
	want := func(it item, s time.Time) bool {
		return it.author == "u1" && timeline{given}.inForce(s) && timeline{given}.inForce(it.created)
	}

	p.Clock.Advance(time.Hour)
	v := p.confirm(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	ref := v["reference"].(string)
	given = p.Clock.Now()
	b.mark()

	p.Clock.Advance(time.Hour)
	p.Import(t, `{"product":"threads","account_id":"th9","email":"anna.later@example.de","birthdate":"1990-05-01","handle":"anna.later","group":"g-anna"}`+"\n")
	b.mark()
	b.check("the account joined the link group", want)

	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna.later@example.de","scope":"all","lang":"en"}`)
	if v["status"] != "withdrawn" || v["consents_ended"] != 0.0 || len(strs(v["products_ended"])) != 0 {
		t.Fatalf("the withdrawal from the later account's address: %v", v)
	}
	p.checkReceipt(t, v, ledger.KindConsentWithdrawn)
	if c, err := p.DB.Consent(ctx, ref); err != nil || !c.WithdrawnAt.IsZero() || len(c.Accounts) != 3 {
		t.Fatalf("anna's consent: %+v %v", c, err)
	}
	b.mark()
	b.check("the withdrawal from the later account's address", want)
	var th9 int
	for _, it := range b.items {
		if it.author == "th9" {
			th9++
		}
	}
	if th9 == 0 {
		t.Fatal("no items of the later account")
	}
}

// A withdrawal ends what was in force when it was asked for, and a
// remainder continues a consent that was: a withdrawal for all accounts
// asked for before one for some products, and confirmed after it, ends the
// remainder too.
func TestConsentWithdrawalAskedBeforeOneForSomeProducts(t *testing.T) {
	p := newPortal(t, "")
	ctx := context.Background()
	p.Clock.Advance(time.Hour)
	p.confirm(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	p.Clock.Advance(time.Minute)
	st, v := p.post(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	if st != 202 {
		t.Fatalf("%d %v", st, v)
	}
	rid := v["request_id"].(string)
	code := p.CodeFor(t, rid)
	p.Clock.Advance(time.Minute)
	if v := p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","scope":["instagram"],"lang":"en"}`); v["consents_ended"] != 1.0 {
		t.Fatalf("the withdrawal for instagram: %v", v)
	}
	p.Clock.Advance(time.Minute)
	st, v = p.post(t, "/api/v1/consent-withdrawals/verify", fmt.Sprintf(`{"request_id":%q,"code":%q}`, rid, code))
	if st != 200 || v["consents_ended"] != 1.0 || !slices.Equal(strs(v["products_ended"]), []string{"facebook", "threads"}) ||
		len(strs(v["products_kept"])) != 0 {
		t.Fatalf("the withdrawal asked for first: %d %v", st, v)
	}
	var inForce int
	if err := p.DB.ReadEligibility(ctx, func(r *store.EligibilityRead) error {
		return r.Consents(func(g store.GrantRow) error {
			if g.To == 0 {
				inForce++
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if inForce != 0 {
		t.Fatalf("%d consents still in force", inForce)
	}
}
