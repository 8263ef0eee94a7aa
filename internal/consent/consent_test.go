package consent_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

// portal is a consent-mode portal over a real store, its clock the test's.
type portal struct {
	*fixture.Fixture
	URL string
}

func newPortal(t *testing.T, dsn string) *portal {
	t.Helper()
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	consent.Register(f.Svc, f.DB, f.Keys)
	srv, err := web.New(f.Svc, f.DB, f.Cat, f.Metrics, f.Reg, web.Config{Now: f.Clock.Now, Log: fixture.Quiet(),
		Composer: f.Composer, Keys: f.Keys, LogKey: f.LogKey, Consent: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &portal{Fixture: f, URL: ts.URL}
}

func (p *portal) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(p.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, v
}

// confirm runs a code flow through the API: start, read the code from the
// mail, verify. It returns the verify answer.
func (p *portal) confirm(t *testing.T, api, start string) map[string]any {
	t.Helper()
	st, v := p.post(t, api, start)
	if st != http.StatusAccepted || v["status"] != "code_sent" {
		t.Fatalf("POST %s: %d %v", api, st, v)
	}
	rid := v["request_id"].(string)
	code := p.CodeFor(t, rid)
	if code == "" {
		t.Fatalf("no code mailed for %s", rid)
	}
	st, v = p.post(t, api+"/verify", fmt.Sprintf(`{"request_id":%q,"code":%q}`, rid, code))
	if st != http.StatusOK {
		t.Fatalf("POST %s/verify: %d %v", api, st, v)
	}
	return v
}

// checkReceipt verifies an answer's receipt against the log's key and
// returns the entry it proves.
func (p *portal) checkReceipt(t *testing.T, v map[string]any, kind string) ledger.Entry {
	t.Helper()
	rc, _ := v["receipt"].(string)
	got, err := receipt.Verify([]byte(rc), p.LogKey.Verifier())
	if err != nil {
		t.Fatalf("receipt does not verify: %v\n%s", err, rc)
	}
	if got.Entry.Kind != kind || receipt.Reference(got.Entry) != v["reference"] {
		t.Fatalf("receipt proves %s %s, want %s %v", got.Entry.Kind, receipt.Reference(got.Entry), kind, v["reference"])
	}
	return got.Entry
}

// timeline is when consent changed for one person, as the test recorded
// it: gives and withdrawals alternate, starting with a give.
type timeline []time.Time

// inForce is DESIGN.md's "consent in force at t", written from the
// timeline alone: at or after a give, before the withdrawal that follows.
func (tl timeline) inForce(t time.Time) bool {
	for i := 0; i < len(tl); i += 2 {
		if !t.Before(tl[i]) && (i+1 >= len(tl) || t.Before(tl[i+1])) {
			return true
		}
	}
	return false
}

type item struct {
	id, product, author string
	created             time.Time
	// person whose consent decides: "anna" (all her linked accounts),
	// "ben-ig" (ben consented for instagram only), "" (nobody consented).
	person string
}

// An item is eligible only when consent is in force at the as-of time and
// was in force when the item was created: given, withdrawn and given again
// through the portal's API, each change tested at every boundary (items
// created a microsecond before, at and after it; as-of a microsecond
// before, at and after it), by the filter over the store's eligibility.
func TestConsentRuleAtEveryBoundary(t *testing.T) {
	dbtest.Each(t, testBoundaries)
}

func testBoundaries(t *testing.T, dsn string) {
	t.Helper()
	p := newPortal(t, dsn)
	ctx := context.Background()
	pol, err := policy.Parse([]byte("version: 1\nmode: consent\n"), "consent test")
	if err != nil {
		t.Fatal(err)
	}
	var anna, benIG timeline
	var items []item
	boundaryItems := func(at time.Time) {
		for _, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
			c := at.Add(d)
			n := len(items)
			items = append(items,
				item{fmt.Sprintf("fb:%d", n), "facebook", "u1", c, "anna"},
				item{fmt.Sprintf("ig:%d", n), "instagram", "ig1", c, "anna"},
				item{fmt.Sprintf("th:%d", n), "threads", "th1", c, "anna"},
				item{fmt.Sprintf("ig:b%d", n), "instagram", "ig2", c, "ben-ig"},
				item{fmt.Sprintf("fb:b%d", n), "facebook", "u2", c, ""},
				item{fmt.Sprintf("fb:c%d", n), "facebook", "u3", c, ""})
		}
	}
	var asOfs []time.Time
	step := func(what string) {
		now := p.Clock.Now()
		boundaryItems(now)
		asOfs = append(asOfs, now.Add(-time.Microsecond), now, now.Add(time.Microsecond))
		// Everything known so far, at every as-of known so far.
		snap, err := snapshot.BuildEligibility(ctx, p.DB)
		if err != nil {
			t.Fatal(err)
		}
		in := writeItems(t, items)
		for _, s := range asOfs {
			kept, counts := runFilter(t, pol, snap, s, in)
			for _, it := range items {
				tl := map[string]timeline{"anna": anna, "ben-ig": benIG}[it.person]
				want := tl.inForce(s) && tl.inForce(it.created)
				if got := kept[it.id]; got != want {
					t.Errorf("after %s, as of %s: item %s (%s) created %s: eligible %v, want %v", what,
						s.Format(time.RFC3339Nano), it.id, it.author, it.created.Format(time.RFC3339Nano), got, want)
				}
			}
			if int64(len(items)-len(kept)) != counts["no_consent"] {
				t.Errorf("after %s, as of %s: %d excluded, %d counted no_consent", what, s, len(items)-len(kept), counts["no_consent"])
			}
		}
	}

	p.Clock.Advance(time.Hour)
	v := p.confirm(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	anna = append(anna, p.Clock.Now())
	if v["status"] != "given" || v["given_at"] != p.Clock.Now().Format(time.RFC3339Nano) || len(v["accounts"].([]any)) != 3 {
		t.Fatalf("give: %v", v)
	}
	p.checkReceipt(t, v, ledger.KindConsentGiven)
	v = p.confirm(t, "/api/v1/consents", `{"email":"ben@example.com","scope":["instagram"],"lang":"de"}`)
	benIG = append(benIG, p.Clock.Now())
	if v["scope"] != "instagram" || len(v["accounts"].([]any)) != 1 {
		t.Fatalf("ben's give: %v", v)
	}
	step("the first consent")

	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","lang":"en"}`)
	anna = append(anna, p.Clock.Now())
	if v["status"] != "withdrawn" || v["withdrawn_at"] != p.Clock.Now().Format(time.RFC3339Nano) || v["consents_ended"] != 1.0 {
		t.Fatalf("withdraw: %v", v)
	}
	p.checkReceipt(t, v, ledger.KindConsentWithdrawn)
	step("the withdrawal")

	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	anna = append(anna, p.Clock.Now())
	p.checkReceipt(t, v, ledger.KindConsentGiven)
	step("consent given again")

	// A second withdrawal ends only the consent in force; nothing else.
	p.Clock.Advance(time.Hour)
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","lang":"en"}`)
	anna = append(anna, p.Clock.Now())
	if v["consents_ended"] != 1.0 {
		t.Fatalf("second withdrawal: %v", v)
	}
	step("the second withdrawal")

	// The snapshot a data engineer builds now (the whole filter, through
	// the store, registered) agrees.
	p.Clock.Advance(time.Minute)
	dir := t.TempDir()
	res, err := snapshot.Build(ctx, snapshot.Options{Inputs: []string{writeItems(t, items)}, Output: filepath.Join(dir, "out.jsonl"),
		Manifest: filepath.Join(dir, "manifest.json"), Policy: writePolicy(t), DB: p.DB, Now: p.Clock.Now, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Clock.Now()
	var want int64
	for _, it := range items {
		tl := map[string]timeline{"anna": anna, "ben-ig": benIG}[it.person]
		if tl.inForce(s) && tl.inForce(it.created) {
			want++
		}
	}
	if res.Filter.Counts.Eligible != want || res.Filter.Counts.Excluded[eligibility.NoConsent] != int64(len(items))-want {
		t.Fatalf("snapshot: %d eligible, %d no_consent; want %d eligible of %d", res.Filter.Counts.Eligible,
			res.Filter.Counts.Excluded[eligibility.NoConsent], want, len(items))
	}
	if want == 0 {
		t.Fatal("the final snapshot keeps nothing: ben's instagram items must stay in")
	}

	// Each change mailed a confirmation that explains consent, with its receipt.
	var kinds []string
	for _, m := range p.MailsTo(t, "anna@example.de") {
		if m.Kind != mail.KindCode {
			kinds = append(kinds, m.Kind)
		}
		if m.Kind == mail.KindConsentGiven && !strings.Contains(m.Text, "What your consent means") {
			t.Errorf("the consent mail does not explain consent:\n%s", m.Text)
		}
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{mail.KindConsentGiven, mail.KindConsentGiven, mail.KindConsentWithdrawn, mail.KindConsentWithdrawn}) {
		t.Fatalf("anna's confirmations: %v", kinds)
	}
	if _, err := p.DB.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

func writePolicy(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nmode: consent\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeItems(t *testing.T, items []item) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "items.jsonl")
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, `{"id":%q,"product":%q,"author_id":%q,"kind":"post","visibility":"public","created_at":%q}`+"\n",
			it.id, it.product, it.author, it.created.UTC().Format(time.RFC3339Nano))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runFilter filters in as of s with the store's eligibility and returns
// the ids kept and the counts per reason.
func runFilter(t *testing.T, pol *policy.Policy, snap *eligibility.Snapshot, s time.Time, in string) (map[string]bool, map[string]int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	res, err := filter.Run(context.Background(), filter.Job{Inputs: []string{in}, Output: out, Engine: eligibility.NewEngine(pol, snap, s), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kept := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		kept[r.ID] = true
	}
	return kept, res.Counts.ExcludedByReason()
}

// A withdrawal from any address of the person ends the consent given from
// another (the accounts it covers are matched, as for objections); one
// from an address whose accounts have no consent ends nothing and is still
// recorded. A resent code replaces the first.
func TestConsentWithdrawalFromALinkedAddressAndResend(t *testing.T) {
	p := newPortal(t, "")
	st, v := p.post(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	if st != http.StatusAccepted {
		t.Fatalf("%d %v", st, v)
	}
	rid := v["request_id"].(string)
	first := p.CodeFor(t, rid)
	p.Clock.Advance(61 * time.Second)
	if st, v := p.post(t, "/api/v1/consents/resend", `{"request_id":"`+rid+`"}`); st != http.StatusAccepted {
		t.Fatalf("resend: %d %v", st, v)
	}
	second := p.CodeFor(t, rid)
	if first == second {
		t.Skip("the resent code happens to equal the first")
	}
	if st, v := p.post(t, "/api/v1/consents/verify", `{"request_id":"`+rid+`","code":"`+first+`"}`); st != http.StatusBadRequest {
		t.Fatalf("the replaced code: %d %v", st, v)
	}
	if st, v := p.post(t, "/api/v1/consents/verify", `{"request_id":"`+rid+`","code":"`+second+`"}`); st != http.StatusOK || v["status"] != "given" {
		t.Fatalf("the resent code: %d %v", st, v)
	}
	p.Clock.Advance(time.Minute)
	if v := p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"carl@example.net","lang":"en"}`); v["consents_ended"] != 0.0 {
		t.Fatalf("carl's withdrawal: %v", v)
	} else {
		p.checkReceipt(t, v, ledger.KindConsentWithdrawn)
	}
	v = p.confirm(t, "/api/v1/consent-withdrawals", `{"email":"anna.threads@example.de","lang":"de"}`)
	if v["consents_ended"] != 1.0 {
		t.Fatalf("withdrawal from the linked address: %v", v)
	}
	var n int
	if err := p.DB.ReadEligibility(context.Background(), func(r *store.EligibilityRead) error {
		return r.Consents(func(g store.GrantRow) error {
			if g.To == 0 {
				n++
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d consents still in force", n)
	}
}
