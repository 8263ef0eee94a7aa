package eligibility

import (
	"testing"
	"time"

	"github.com/notrain/notrain/internal/policy"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func us(s string) int64 { return ts(s).UnixMicro() }

// The as-of moment of most cases.
const asOf = "2026-06-01T12:00:00Z"

func directory() *memSource {
	return &memSource{
		accounts: []AccountRow{
			{Product: "facebook", AccountID: "anna", EmailHash: "h-anna", Birthdate: "1990-05-01", Group: "g-anna"},
			{Product: "instagram", AccountID: "anna.ig", EmailHash: "h-anna-ig", Birthdate: "1990-05-01", Group: "g-anna"},
			{Product: "threads", AccountID: "anna.th", Birthdate: "1990-05-01", Group: "g-anna"},
			{Product: "facebook", AccountID: "ben", EmailHash: "h-ben", Birthdate: "1985-11-30"},
			{Product: "facebook", AccountID: "leap", Birthdate: "2008-02-29"},
			{Product: "facebook", AccountID: "leap24", Birthdate: "2000-02-29"},
			{Product: "facebook", AccountID: "teen", Birthdate: "2010-03-04"},
			{Product: "facebook", AccountID: "nobirth"},
			{Product: "facebook", AccountID: "obj", EmailHash: "h-obj", Birthdate: "1980-01-01"},
			{Product: "facebook", AccountID: "late", EmailHash: "h-late", Birthdate: "1980-01-01"},
			{Product: "facebook", AccountID: "wd", EmailHash: "h-wd", Birthdate: "1980-01-01"},
			{Product: "facebook", AccountID: "wdlate", EmailHash: "h-wdlate", Birthdate: "1980-01-01"},
			{Product: "facebook", AccountID: "twice", EmailHash: "h-twice", Birthdate: "1980-01-01"},
			{Product: "instagram", AccountID: "obj", Birthdate: "1980-01-01"},
			{Product: "whatsapp", AccountID: "wa", Birthdate: "1980-01-01"},
			{Product: "messenger", AccountID: "ms", Birthdate: "1980-01-01"},
			{Product: "facebook", AccountID: "scoped", EmailHash: "h-scoped", Birthdate: "1980-01-01", Group: "g-scoped"},
			{Product: "instagram", AccountID: "scoped.ig", Birthdate: "1980-01-01", Group: "g-scoped"},
		},
		objections: []Grant{
			{EmailHash: "h-anna", Interval: Interval{From: us("2026-05-01T00:00:00Z")}},
			{EmailHash: "h-obj", Interval: Interval{From: us("2026-01-01T00:00:00Z")}},
			// Effective exactly at the as-of moment.
			{EmailHash: "h-late", Interval: Interval{From: us(asOf)}},
			// Withdrawn before the as-of moment.
			{EmailHash: "h-wd", Interval: Interval{From: us("2025-01-01T00:00:00Z"), To: us("2026-03-01T00:00:00Z")}},
			// Withdrawn after the as-of moment: still in force at S.
			{EmailHash: "h-wdlate", Interval: Interval{From: us("2025-01-01T00:00:00Z"), To: us("2026-07-01T00:00:00Z")}},
			// Objected, withdrew, objected again.
			{EmailHash: "h-twice", Interval: Interval{From: us("2025-01-01T00:00:00Z"), To: us("2025-02-01T00:00:00Z")}},
			{EmailHash: "h-twice", Interval: Interval{From: us("2026-04-01T00:00:00Z")}},
			// Only Instagram: the linked Instagram account, not Facebook.
			{EmailHash: "h-scoped", Products: []string{"instagram"}, Interval: Interval{From: us("2026-01-01T00:00:00Z")}},
			// Named by account: someone without a directory entry.
			{Accounts: []Key{{"facebook", "ghost"}}, Interval: Interval{From: us("2026-01-01T00:00:00Z")}},
		},
		items: []string{"taken-down"},
	}
}

func engine(t *testing.T, src *memSource, pol string, at string) *Engine {
	t.Helper()
	p, err := policy.Parse([]byte(pol), "test")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Build(src, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(p, snap, ts(at))
}

// item is a well-formed public post by author on facebook.
func item(author, created string) *Item {
	return &Item{ID: []byte("i1"), Product: []byte("facebook"), AuthorID: []byte(author), Kind: []byte("post"),
		Visibility: []byte("public"), CreatedAt: us(created)}
}

func with(it *Item, f func(*Item)) *Item { f(it); return it }

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		asOf   string
		it     *Item
		want   Reason
		rule   string
	}{
		{name: "adult public post", it: item("ben", "2026-01-01T00:00:00Z"), want: Keep},
		{name: "malformed first", it: with(item("teen", "2026-01-01T00:00:00Z"), func(i *Item) { i.Malformed = true; i.Visibility = nil }), want: Malformed},

		// 2. visibility.
		{name: "friends", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Visibility = []byte("friends") }), want: NotPublic},
		{name: "private", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Visibility = []byte("private") }), want: NotPublic},
		{name: "unknown visibility", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Visibility = []byte("everyone") }), want: NotPublic},
		{name: "missing visibility", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Visibility = nil }), want: NotPublic},
		{name: "visibility case matters", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Visibility = []byte("Public") }), want: NotPublic},
		{name: "policy allows friends", policy: "visibilities: [public, friends]", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Visibility = []byte("friends") }), want: Keep},
		// Visibility is checked before kind and product.
		{name: "private message on unknown product", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.Visibility, i.Kind, i.Product = []byte("private"), []byte("message"), []byte("myspace")
		}), want: NotPublic},

		// 3. kind and product.
		{name: "message", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Kind = []byte("message") }), want: KindExcluded},
		{name: "unknown kind", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Kind = []byte("tweet") }), want: KindExcluded},
		{name: "missing kind", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Kind = nil }), want: KindExcluded},
		{name: "unknown kind on unknown product", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Kind, i.Product = []byte("tweet"), []byte("myspace") }), want: KindExcluded},
		{name: "unknown product", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product = []byte("myspace") }), want: ProductExcluded},
		{name: "whatsapp post", it: with(item("wa", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product = []byte("whatsapp") }), want: ProductExcluded},
		{name: "whatsapp ai_chat", it: with(item("wa", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product, i.Kind = []byte("whatsapp"), []byte("ai_chat") }), want: Keep},
		{name: "messenger photo", it: with(item("ms", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product, i.Kind = []byte("messenger"), []byte("photo") }), want: ProductExcluded},
		{name: "messenger ai_chat", it: with(item("ms", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product, i.Kind = []byte("messenger"), []byte("ai_chat") }), want: Keep},
		{name: "messenger message", it: with(item("ms", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product, i.Kind = []byte("messenger"), []byte("message") }), want: KindExcluded},
		{name: "ai_chat on facebook", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Kind = []byte("ai_chat") }), want: Keep},

		// 4. unknown author.
		{name: "unknown author", it: item("nobody", "2026-01-01T00:00:00Z"), want: UnknownAuthor},
		{name: "author known on another product only", it: with(item("anna.ig", "2026-01-01T00:00:00Z"), func(i *Item) {}), want: UnknownAuthor},
		{name: "author only named by an objection", it: item("ghost", "2026-01-01T00:00:00Z"), want: UnknownAuthor},
		{name: "unknown author allowed, birthdate unknown", policy: "unknown_author: include", it: item("nobody", "2026-01-01T00:00:00Z"), want: Minor},
		{name: "unknown author allowed fully", policy: "unknown_author: include\nunknown_birthdate: include", it: item("nobody", "2026-01-01T00:00:00Z"), want: Keep},
		{name: "unknown author allowed, objection still counts", policy: "unknown_author: include\nunknown_birthdate: include", it: item("ghost", "2026-01-01T00:00:00Z"), want: Objection},

		// 5. minors: the 18th birthday begins at 00:00 UTC.
		{name: "teen", it: item("teen", "2026-01-01T00:00:00Z"), want: Minor},
		{name: "the moment before the 18th birthday", it: item("leap", "2026-02-28T23:59:59.999999Z"), want: Minor},
		{name: "29 February: adult on 1 March", it: item("leap", "2026-03-01T00:00:00Z"), want: Keep},
		{name: "29 February into a leap year", policy: "minimum_age: 24", it: item("leap24", "2024-02-28T23:59:59Z"), want: Minor},
		{name: "29 February into a leap year, on the day", policy: "minimum_age: 24", it: item("leap24", "2024-02-29T00:00:00Z"), want: Keep},
		{name: "exactly 18 at 00:00 UTC", it: item("ben", "2003-11-30T00:00:00Z"), want: Keep},
		{name: "one second before 18", it: item("ben", "2003-11-29T23:59:59Z"), want: Minor},
		{name: "posted as a minor stays out after 18", asOf: "2040-01-01T00:00:00Z", it: item("teen", "2027-12-31T00:00:00Z"), want: Minor},
		{name: "unknown birthdate", it: item("nobirth", "2026-01-01T00:00:00Z"), want: Minor},
		{name: "unknown birthdate allowed", policy: "unknown_birthdate: include", it: item("nobirth", "2026-01-01T00:00:00Z"), want: Keep},
		{name: "minimum age 21", policy: "minimum_age: 21", it: item("ben", "2006-11-29T00:00:00Z"), want: Minor},
		// Minors before objections: the first reason that applies counts.
		{name: "minor who objected", it: with(item("teen", "2020-01-01T00:00:00Z"), func(i *Item) {}), want: Minor},

		// 6. objections.
		{name: "objector, old content", it: item("obj", "2020-01-01T00:00:00Z"), want: Objection},
		{name: "objector, content after S", it: item("obj", "2027-01-01T00:00:00Z"), want: Objection},
		{name: "objection effective exactly at S", it: item("late", "2020-01-01T00:00:00Z"), want: Objection},
		{name: "objection effective just after S", asOf: "2026-06-01T11:59:59.999999Z", it: item("late", "2020-01-01T00:00:00Z"), want: Keep},
		{name: "before the objection existed", asOf: "2025-12-31T23:59:59Z", it: item("obj", "2020-01-01T00:00:00Z"), want: Keep},
		{name: "withdrawn: content created before withdrawal", it: item("wd", "2026-02-28T23:59:59Z"), want: Objection},
		{name: "withdrawn: content created at the withdrawal", it: item("wd", "2026-03-01T00:00:00Z"), want: Keep},
		{name: "withdrawn: content created after", it: item("wd", "2026-04-01T00:00:00Z"), want: Keep},
		{name: "withdrawn: content older than the objection stays out", it: item("wd", "2024-06-01T00:00:00Z"), want: Objection},
		{name: "withdrawal after S: in force at S", it: item("wdlate", "2026-06-15T00:00:00Z"), want: Objection},
		{name: "withdrawal exactly at S", asOf: "2026-07-01T00:00:00Z", it: item("wdlate", "2026-06-30T00:00:00Z"), want: Objection},
		{name: "withdrawal exactly at S, content at S", asOf: "2026-07-01T00:00:00Z", it: item("wdlate", "2026-07-01T00:00:00Z"), want: Keep},
		{name: "objected again", it: item("twice", "2025-06-01T00:00:00Z"), want: Objection},
		{name: "objected again, as of between", asOf: "2025-06-01T00:00:00Z", it: item("twice", "2025-03-01T00:00:00Z"), want: Keep},
		{name: "objected again, as of between, content in first interval", asOf: "2025-06-01T00:00:00Z", it: item("twice", "2025-01-15T00:00:00Z"), want: Objection},
		{name: "link group: linked Instagram", it: with(item("anna.ig", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product = []byte("instagram") }), want: Objection},
		{name: "link group: Threads without e-mail", it: with(item("anna.th", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product = []byte("threads") }), want: Objection},
		{name: "objection covers the product it names", it: with(item("obj", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product = []byte("instagram") }), want: Keep},
		{name: "scope instagram: linked Instagram excluded", it: with(item("scoped.ig", "2026-01-01T00:00:00Z"), func(i *Item) { i.Product = []byte("instagram") }), want: Objection},
		{name: "scope instagram: Facebook kept", it: item("scoped", "2026-01-01T00:00:00Z"), want: Keep},

		// 7. third parties.
		{name: "mentions an objector", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("x", "obj") }), want: ThirdParty},
		{name: "tags an objector", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Tags = bs("anna") }), want: ThirdParty},
		{name: "tags a linked account", it: with(item("anna.ig", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.Product, i.AuthorID, i.Tags = []byte("instagram"), []byte("scoped.ig"), bs("anna.ig")
		}), want: Objection},
		{name: "mention resolves on the item's product", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("anna.ig") }), want: Keep},
		{name: "mentions someone without an account who objected", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("ghost") }), want: ThirdParty},
		{name: "mentions a withdrawn objector, content before withdrawal", it: with(item("ben", "2026-02-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("wd") }), want: ThirdParty},
		{name: "mentions a withdrawn objector, content after withdrawal", it: with(item("ben", "2026-04-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("wd") }), want: Keep},
		{name: "mentions an unknown person", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("stranger") }), want: Keep},
		{name: "policy keeps third parties", policy: "third_party: keep", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("obj") }), want: Keep},
		{name: "author objection before third party", it: with(item("obj", "2026-01-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("anna") }), want: Objection},

		// 8. item exclusions: the store's and the policy's.
		{name: "taken down", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ID = []byte("taken-down") }), want: ItemExcluded},
		{name: "policy list", policy: "exclude_items: [i1]", it: item("ben", "2026-01-01T00:00:00Z"), want: ItemExcluded},
		{name: "third party before item exclusion", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ID, i.Mentions = []byte("taken-down"), bs("obj") }), want: ThirdParty},

		// 9. extra rules, after everything else.
		{name: "rule", policy: "rules: [{name: short, expr: 'size(text) < 3'}]", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Text = []byte("hi") }), want: RuleMatch, rule: "short"},
		{name: "rule not matching", policy: "rules: [{name: short, expr: 'size(text) < 3'}]", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.Text = []byte("hello") }), want: Keep},
		{name: "item exclusion before rule", policy: "rules: [{name: all, expr: 'true'}]", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ID = []byte("taken-down") }), want: ItemExcluded},

		// 10–12. creators' reservations, after every other reason, in this order.
		{name: "aipref train-ai=n", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ContentUsage = []byte(`"train-ai=n"`) }), want: SignalAIPref},
		{name: "aipref train-ai=y", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ContentUsage = []byte(`"train-ai=y"`) }), want: Keep},
		{name: "aipref null", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ContentUsage = []byte(`null`) }), want: Keep},
		{name: "aipref unreadable", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ContentUsage = []byte(`"train-ai=?"`) }), want: SignalAIPref},
		{name: "aipref not honoured", policy: "signals: {aipref: false}", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ContentUsage = []byte(`"train-ai=n"`) }), want: Keep},
		{name: "tdmrep 1", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.TDMReservation = []byte(`1`) }), want: SignalTDMRep},
		{name: "tdmrep 0", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.TDMReservation = []byte(`0`) }), want: Keep},
		{name: "tdmrep not honoured", policy: "signals: {tdmrep: false}", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.TDMReservation = []byte(`1`) }), want: Keep},
		{name: "c2pa notAllowed", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.TrainingMining = []byte(`{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}`)
		}), want: SignalC2PA},
		{name: "c2pa allowed", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.TrainingMining = []byte(`{"entries":{"cawg.ai_training":{"use":"allowed"}}}`)
		}), want: Keep},
		{name: "c2pa not honoured", policy: "signals: {c2pa: false}", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.TrainingMining = []byte(`{"entries":{"c2pa.ai_training":{"use":"constrained"}}}`)
		}), want: Keep},
		{name: "all three: aipref counts", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.ContentUsage, i.TDMReservation, i.TrainingMining = []byte(`"train-ai=n"`), []byte(`1`), []byte(`{"cawg.ai_training":{"use":"notAllowed"}}`)
		}), want: SignalAIPref},
		{name: "tdmrep before c2pa", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) {
			i.TDMReservation, i.TrainingMining = []byte(`1`), []byte(`{"cawg.ai_training":{"use":"notAllowed"}}`)
		}), want: SignalTDMRep},
		{name: "objection before signal", it: with(item("obj", "2026-05-01T00:00:00Z"), func(i *Item) { i.ContentUsage = []byte(`"train-ai=n"`) }), want: Objection},
		{name: "minor before signal", it: with(item("teen", "2026-01-01T00:00:00Z"), func(i *Item) { i.TDMReservation = []byte(`1`) }), want: Minor},
		{name: "item exclusion before signal", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.ID, i.TDMReservation = []byte("taken-down"), []byte(`1`) }), want: ItemExcluded},
		{name: "rule before signal", policy: "rules: [{name: all, expr: 'true'}]", it: with(item("ben", "2026-01-01T00:00:00Z"), func(i *Item) { i.TDMReservation = []byte(`1`) }), want: RuleMatch, rule: "all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.asOf
			if at == "" {
				at = asOf
			}
			d := engine(t, directory(), tt.policy, at).Decide(tt.it)
			if d.Reason != tt.want || d.Rule != tt.rule {
				t.Fatalf("Decide = %s %q, want %s %q", d.Reason, d.Rule, tt.want, tt.rule)
			}
		})
	}
}

func TestConsentMode(t *testing.T) {
	src := directory()
	src.objections = nil
	// A consent covers the accounts it named when it was given (the intake
	// lists the address's accounts and their link groups then), as if
	// given for each: its e-mail hash and link groups do not reach further.
	src.consents = []Grant{
		{EmailHash: "h-ben", Accounts: []Key{{"facebook", "ben"}}, Interval: Interval{From: us("2025-01-01T00:00:00Z")}},
		{EmailHash: "h-anna", Accounts: []Key{{"facebook", "anna"}, {"instagram", "anna.ig"}},
			Interval: Interval{From: us("2025-01-01T00:00:00Z"), To: us("2026-03-01T00:00:00Z")}},
		{EmailHash: "h-obj", Accounts: []Key{{"facebook", "obj"}}, Interval: Interval{From: us("2024-01-01T00:00:00Z"), To: us("2024-06-01T00:00:00Z")}},
		{EmailHash: "h-obj", Accounts: []Key{{"facebook", "obj"}}, Interval: Interval{From: us("2025-01-01T00:00:00Z")}},
		// Given for Scoped's Facebook account while it was alone; its
		// Instagram account joined the link group later.
		{EmailHash: "h-scoped", Accounts: []Key{{"facebook", "scoped"}}, Interval: Interval{From: us("2025-01-01T00:00:00Z")}},
		// Given by address only, naming no account: covers nobody.
		{EmailHash: "h-late", Interval: Interval{From: us("2025-01-01T00:00:00Z")}},
	}
	tests := []struct {
		name string
		it   *Item
		want Reason
	}{
		{"consent in force at S and at c", item("ben", "2025-06-01T00:00:00Z"), Keep},
		{"content before consent", item("ben", "2024-12-31T23:59:59Z"), NoConsent},
		{"consent given exactly at c", item("ben", "2025-01-01T00:00:00Z"), Keep},
		{"consent withdrawn before S", item("anna", "2025-06-01T00:00:00Z"), NoConsent},
		{"linked account withdrawn too", with(item("anna.ig", "2025-06-01T00:00:00Z"), func(i *Item) { i.Product = []byte("instagram") }), NoConsent},
		{"no consent at all", item("wd", "2025-06-01T00:00:00Z"), NoConsent},
		{"consent at S and at c from different grants", item("obj", "2024-03-01T00:00:00Z"), Keep},
		{"gap between consents", item("obj", "2024-08-01T00:00:00Z"), NoConsent},
		{"tags someone without consent", with(item("ben", "2025-06-01T00:00:00Z"), func(i *Item) { i.Tags = bs("wd") }), ThirdParty},
		{"mentions an unknown person", with(item("ben", "2025-06-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("stranger") }), ThirdParty},
		{"mentions someone with consent", with(item("ben", "2025-06-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("obj") }), Keep},
		{"named account", item("scoped", "2025-06-01T00:00:00Z"), Keep},
		{"account linked after consent", with(item("scoped.ig", "2025-06-01T00:00:00Z"), func(i *Item) { i.Product = []byte("instagram") }), NoConsent},
		{"the address's other product, not named", with(item("obj", "2025-06-01T00:00:00Z"), func(i *Item) { i.Product = []byte("instagram") }), NoConsent},
		{"consent naming no account", item("late", "2025-06-01T00:00:00Z"), NoConsent},
	}
	e := engine(t, src, "mode: consent", asOf)
	for _, tt := range tests {
		if d := e.Decide(tt.it); d.Reason != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, d.Reason, tt.want)
		}
	}
}

// An objection is the person's "no" in consent mode too (it takes back any
// consent, Art. 7(3) and 21 GDPR): what it keeps out in objection mode stays
// out, counted under consent mode's reason.
func TestObjectionInConsentMode(t *testing.T) {
	src := directory() // Anna objected on 2026-05-01; Wd objected and withdrew on 2026-03-01.
	all := Interval{From: us("2020-01-01T00:00:00Z")}
	src.consents = []Grant{
		{Accounts: []Key{{"facebook", "anna"}}, Interval: all},
		{Accounts: []Key{{"facebook", "wd"}}, Interval: all},
		{Accounts: []Key{{"facebook", "ben"}}, Interval: all},
	}
	tests := []struct {
		name string
		it   *Item
		want Reason
	}{
		{"consent, then an objection in force", item("anna", "2025-06-01T00:00:00Z"), NoConsent},
		{"posted while an objection was in force, withdrawn since", item("wd", "2025-06-01T00:00:00Z"), NoConsent},
		{"posted after the objection was withdrawn", item("wd", "2026-04-01T00:00:00Z"), Keep},
		{"consent and no objection", item("ben", "2025-06-01T00:00:00Z"), Keep},
		{"mentions an objector who had consented", with(item("ben", "2025-06-01T00:00:00Z"), func(i *Item) { i.Mentions = bs("anna") }), ThirdParty},
	}
	e := engine(t, src, "mode: consent", asOf)
	for _, tt := range tests {
		if d := e.Decide(tt.it); d.Reason != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, d.Reason, tt.want)
		}
	}
}

func TestAdultFrom(t *testing.T) {
	for _, c := range []struct {
		birth string
		age   int
		want  string
	}{
		{"1990-05-01", 18, "2008-05-01T00:00:00Z"},
		{"2008-02-29", 18, "2026-03-01T00:00:00Z"},
		{"2000-02-29", 24, "2024-02-29T00:00:00Z"},
		{"1900-03-01", 18, "1918-03-01T00:00:00Z"},
		{"1952-12-31", 18, "1970-12-31T00:00:00Z"},
		{"1940-01-01", 18, "1958-01-01T00:00:00Z"},
	} {
		b, ok := PackDate(c.birth)
		if !ok {
			t.Fatalf("PackDate(%s)", c.birth)
		}
		if got := time.UnixMicro(AdultFrom(b, c.age)).UTC(); !got.Equal(ts(c.want)) {
			t.Errorf("AdultFrom(%s, %d) = %s, want %s", c.birth, c.age, got, c.want)
		}
	}
}

func TestDecisionNamesTheAuthor(t *testing.T) {
	e := engine(t, directory(), "", asOf)
	d := e.Decide(item("ben", "2026-01-01T00:00:00Z"))
	if d.Author < 0 || e.Snapshot().Key(d.Author) != (Key{"facebook", "ben"}) {
		t.Fatalf("author %d", d.Author)
	}
	if d := e.Decide(item("nobody", "2026-01-01T00:00:00Z")); d.Author != -1 {
		t.Fatalf("unknown author index %d", d.Author)
	}
}
