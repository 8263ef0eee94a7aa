package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

// decisionsEnv serves the portal in consent mode with reports, over a
// fixture with accounts.
func decisionsEnv(t *testing.T) (*env, *report.Queue) {
	t.Helper()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	consent.Register(f.Svc, f.DB, f.Keys)
	pats, err := report.ParsePatterns(strings.NewReader(itemURLs))
	if err != nil {
		t.Fatal(err)
	}
	e := serveFixture(t, f, web.Config{Consent: true, Reports: report.New(f.Svc, f.DB, f.Keys, pats)})
	return e, report.NewQueue(f.DB, f.Svc, f.Keys, pats, f.Clock.Now)
}

// flow starts a code flow over the API and confirms it; it returns the
// verify answer's reference.
func (e *env) flow(t *testing.T, path, body string) string {
	t.Helper()
	resp, b := postJSON(t, e.URL+path, body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	rid := ridRE.FindString(b)
	resp, b = postJSON(t, e.URL+path+"/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s verify: %d %s", path, resp.StatusCode, b)
	}
	var done struct{ Reference string }
	json.Unmarshal([]byte(b), &done)
	if done.Reference == "" {
		t.Fatalf("%s verify: no reference in %s", path, b)
	}
	// Past the per-address hourly limit on codes, for the next flow.
	e.Clock.Advance(15 * time.Minute)
	return done.Reference
}

// report files and confirms a report, then moves past the code limit.
func (e *env) report(t *testing.T, body string) string {
	t.Helper()
	ref := apiReport(t, e, body)
	e.Clock.Advance(15 * time.Minute)
	return ref
}

type meConsent struct {
	Reference   string  `json:"reference"`
	GivenAt     string  `json:"given_at"`
	WithdrawnAt *string `json:"withdrawn_at"`
	Scope       string  `json:"scope"`
	Accounts    []struct {
		Product   string `json:"product"`
		AccountID string `json:"account_id"`
	} `json:"accounts"`
	Receipt string `json:"receipt"`
}

type meReport struct {
	Reference  string   `json:"reference"`
	ReceivedAt string   `json:"received_at"`
	Status     string   `json:"status"`
	Items      []string `json:"items"`
	DecidedAt  *string  `json:"decided_at"`
	Receipt    string   `json:"receipt"`
}

// me reads GET /api/v1/me for the address.
func (e *env) me(t *testing.T, addr string) (raw map[string]json.RawMessage, consents []meConsent, reports []meReport, body string) {
	t.Helper()
	tok, _ := e.access(t, addr)
	resp, body := getBearer(t, e.URL+"/api/v1/me", tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("me %s: %d %s", addr, resp.StatusCode, body)
	}
	var out struct {
		Consents []meConsent `json:"consents"`
		Reports  []meReport  `json:"reports"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return raw, out.Consents, out.Reports, body
}

// verifiedReceipt checks a receipt against the log's key and returns the
// entry it proves.
func verifiedReceipt(t *testing.T, e *env, rc string) ledger.Entry {
	t.Helper()
	v, err := receipt.Verify([]byte(rc), e.LogKey.Verifier())
	if err != nil {
		t.Fatalf("receipt: %v\n%s", err, rc)
	}
	return v.Entry
}

// GDPR Art. 15 covers every decision: "my data" lists the consents the
// address gave (with the withdrawal that ended one) and the reports it
// filed, decided or not, each with a receipt that proves its own entry;
// an address with none gets the same shape with empty lists; nothing
// another address gave or filed shows, not even one of the same link
// group, and a report filed without any account is still the filer's.
func TestMyDataListsConsentsAndReports(t *testing.T) {
	e, queue := decisionsEnv(t)
	first := e.flow(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	e.flow(t, "/api/v1/consent-withdrawals", `{"email":"anna@example.de","lang":"en"}`)
	second := e.flow(t, "/api/v1/consents", `{"email":"anna@example.de","scope":["instagram"],"lang":"en"}`)
	decided := e.report(t, `{"email":"anna@example.de","items":["fb:1001","fb:1002"],"relation":"me","lang":"en"}`)
	e.Clock.Advance(time.Minute)
	if _, err := queue.Decide(t.Context(), decided, review.Decision{Decision: review.Approve, Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	open := e.report(t, `{"email":"anna@example.de","items":["fb:2001"],"relation":"me","lang":"en"}`)
	// Others: an address of anna's link group, another person, and an
	// address no account uses.
	sibling := e.flow(t, "/api/v1/consents", `{"email":"anna.threads@example.de","scope":"all","lang":"en"}`)
	siblingReport := e.report(t, `{"email":"anna.threads@example.de","items":["fb:3001"],"relation":"me","lang":"en"}`)
	benConsent := e.flow(t, "/api/v1/consents", `{"email":"ben@example.com","scope":"all","lang":"en"}`)
	benReport := e.report(t, `{"email":"ben@example.com","items":["fb:4001"],"relation":"me","lang":"en"}`)
	strangerReport := e.report(t, `{"email":"nobody@example.org","items":["fb:5001"],"relation":"other","lang":"en"}`)

	raw, consents, reports, body := e.me(t, "anna@example.de")
	for _, other := range []string{sibling, siblingReport, benConsent, benReport, strangerReport, "fb:3001", "fb:4001", "fb:5001"} {
		if strings.Contains(body, other) {
			t.Fatalf("anna's data shows %s of another address:\n%s", other, body)
		}
	}
	if len(consents) != 2 || consents[0].Reference != first || consents[1].Reference != second {
		t.Fatalf("consents: %s", body)
	}
	c0, c1 := consents[0], consents[1]
	if c0.Scope != "all" || c0.WithdrawnAt == nil || c0.GivenAt == "" || *c0.WithdrawnAt <= c0.GivenAt || len(c0.Accounts) < 2 {
		t.Fatalf("the withdrawn consent: %+v", c0)
	}
	if c1.Scope != "instagram" || c1.WithdrawnAt != nil || len(c1.Accounts) != 1 || c1.Accounts[0].Product != "instagram" || c1.Accounts[0].AccountID != "ig1" {
		t.Fatalf("the consent in force: %+v", c1)
	}
	for _, c := range consents {
		if en := verifiedReceipt(t, e, c.Receipt); en.Kind != ledger.KindConsentGiven || receipt.Reference(en) != c.Reference {
			t.Fatalf("consent %s: receipt proves %s %s", c.Reference, en.Kind, receipt.Reference(en))
		}
	}
	if len(reports) != 2 || reports[0].Reference != decided || reports[1].Reference != open {
		t.Fatalf("reports: %s", body)
	}
	r0, r1 := reports[0], reports[1]
	if r0.Status != "approved" || r0.DecidedAt == nil || *r0.DecidedAt <= r0.ReceivedAt || !slices.Equal(r0.Items, []string{"fb:1001", "fb:1002"}) {
		t.Fatalf("the decided report: %+v", r0)
	}
	if r1.Status != "in_review" || r1.DecidedAt != nil || !slices.Equal(r1.Items, []string{"fb:2001"}) {
		t.Fatalf("the open report: %+v", r1)
	}
	for _, r := range reports {
		if en := verifiedReceipt(t, e, r.Receipt); en.Kind != ledger.KindReportReceived || receipt.Reference(en) != r.Reference {
			t.Fatalf("report %s: receipt proves %s %s", r.Reference, en.Kind, receipt.Reference(en))
		}
	}
	if strings.Contains(string(raw["reports"]), "anna@example.de") {
		t.Fatalf("a report lists the address: %s", raw["reports"])
	}

	// The filer without an account sees their report, and nothing else.
	_, cs, rs, body := e.me(t, "nobody@example.org")
	if len(cs) != 0 || len(rs) != 1 || rs[0].Reference != strangerReport {
		t.Fatalf("nobody@example.org: %s", body)
	}

	// An address with nothing: the same fields, every list present and empty.
	unknown, cs, rs, body := e.me(t, "nobody@example.de")
	if len(cs) != 0 || len(rs) != 0 || string(unknown["consents"]) != "[]" || string(unknown["reports"]) != "[]" {
		t.Fatalf("unknown address: %s", body)
	}
	var keys, unknownKeys []string
	for k := range raw {
		keys = append(keys, k)
	}
	for k, v := range unknown {
		unknownKeys = append(unknownKeys, k)
		if string(v) != "[]" {
			t.Fatalf("unknown address: %s is %s", k, v)
		}
	}
	slices.Sort(keys)
	slices.Sort(unknownKeys)
	if want := []string{"accounts", "consents", "models", "objections", "reports", "snapshots", "withdrawals"}; !slices.Equal(keys, want) || !slices.Equal(unknownKeys, want) {
		t.Fatalf("fields: %v / %v", keys, unknownKeys)
	}
}

// signIn runs the page's access flow and returns the cookie it sets.
func (e *env) signIn(t *testing.T, addr string) *http.Cookie {
	t.Helper()
	loc := postRedirect(t, e.URL+"/access", url.Values{"email": {addr}, "lang": {"en"}})
	rid := ridRE.FindString(loc)
	req, _ := http.NewRequest(http.MethodPost, e.URL+loc, strings.NewReader(url.Values{"code": {e.CodeFor(t, rid)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "notrain_me" {
			return c
		}
	}
	t.Fatalf("no cookie: %d %v", resp.StatusCode, resp.Header)
	return nil
}

func cookieGet(t *testing.T, u, lang string, c *http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.AddCookie(c)
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The page shows the consents and reports in German and English, their
// receipts download from /me/receipt/{ref}, another address's reference
// does not, and an address with none sees the empty-list sentences.
func TestMyDataPageShowsConsentsAndReports(t *testing.T) {
	e, _ := decisionsEnv(t)
	ref := e.flow(t, "/api/v1/consents", `{"email":"anna@example.de","scope":"all","lang":"en"}`)
	rep := e.report(t, `{"email":"anna@example.de","items":["fb:1001"],"relation":"me","lang":"en"}`)
	ben := e.report(t, `{"email":"ben@example.com","items":["fb:4001"],"relation":"me","lang":"en"}`)
	c := e.signIn(t, "anna@example.de")
	for lang, want := range map[string][]string{
		"en": {`<html lang="en"`, `<h2 id="consents">Consents to training</h2>`, `<h2 id="reports">Reports of content that shows you</h2>`, "in review", "Facebook: u1"},
		"de": {`<html lang="de"`, `<h2 id="consents">Einwilligungen in das Training</h2>`, `<h2 id="reports">Meldungen von Inhalten, die Sie zeigen</h2>`, "in Prüfung", "Facebook: u1"},
	} {
		status, page := cookieGet(t, e.URL+"/me", lang, c)
		want = append(want, ref, rep, "fb:1001", `href="/me/receipt/`+ref+`"`, `href="/me/receipt/`+rep+`"`)
		for _, w := range want {
			if status != http.StatusOK || !strings.Contains(page, w) {
				t.Fatalf("%s: the page lacks %q (%d):\n%s", lang, w, status, page)
			}
		}
		if strings.Contains(page, ben) || strings.Contains(page, "fb:4001") {
			t.Fatalf("%s: the page shows ben's report:\n%s", lang, page)
		}
	}
	for _, r := range []string{ref, rep} {
		status, rc := cookieGet(t, e.URL+"/me/receipt/"+r, "en", c)
		if status != http.StatusOK || receipt.Reference(verifiedReceipt(t, e, rc)) != r {
			t.Fatalf("receipt of %s: %d %s", r, status, rc)
		}
	}
	if status, _ := cookieGet(t, e.URL+"/me/receipt/"+ben, "en", c); status != http.StatusNotFound {
		t.Fatalf("ben's receipt through anna's cookie: %d", status)
	}
	if status, data := cookieGet(t, e.URL+"/me/data.json", "en", c); status != http.StatusOK ||
		!strings.Contains(data, `"consents": [`) || !strings.Contains(data, `"reference": "`+rep+`"`) {
		t.Fatalf("download: %d %s", status, data)
	}

	empty := e.signIn(t, "nobody@example.de")
	for lang, want := range map[string][]string{
		"en": {"No consent given with this address.", "No report filed with this address."},
		"de": {"Mit dieser Adresse wurde keine Einwilligung erteilt.", "Mit dieser Adresse wurde keine Meldung eingereicht."},
	} {
		_, page := cookieGet(t, e.URL+"/me", lang, empty)
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Fatalf("%s: the empty page lacks %q:\n%s", lang, w, page)
			}
		}
		if strings.Contains(page, ref) || strings.Contains(page, rep) {
			t.Fatalf("%s: the empty page shows anna's data", lang)
		}
	}
}
