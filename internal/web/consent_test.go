package web_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/web"
)

// newConsentEnv is a portal whose policy is in mode consent.
func newConsentEnv(t *testing.T) *env {
	t.Helper()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	consent.Register(f.Svc, f.DB, f.Keys)
	return serveFixture(t, f, web.Config{Consent: true})
}

// consentRoutes is every consent route, with a body for the POSTs.
var consentRoutes = []struct{ method, path, body string }{
	{"GET", "/consent", ""},
	{"POST", "/consent", "email=anna%40example.de&scope=all"},
	{"GET", "/consent/" + strings.Repeat("a", 32), ""},
	{"POST", "/consent/" + strings.Repeat("a", 32), "code=123456"},
	{"POST", "/consent/" + strings.Repeat("a", 32) + "/resend", ""},
	{"GET", "/consent/" + strings.Repeat("a", 32) + "/done", ""},
	{"GET", "/consent/" + strings.Repeat("a", 32) + "/receipt", ""},
	{"GET", "/consent/withdraw", ""},
	{"POST", "/consent-withdrawal", "email=anna%40example.de"},
	{"GET", "/consent-withdrawal/" + strings.Repeat("a", 32), ""},
	{"POST", "/consent-withdrawal/" + strings.Repeat("a", 32), "code=123456"},
	{"POST", "/consent-withdrawal/" + strings.Repeat("a", 32) + "/resend", ""},
	{"GET", "/consent-withdrawal/" + strings.Repeat("a", 32) + "/done", ""},
	{"POST", "/api/v1/consents", `{"email":"anna@example.de","scope":"all"}`},
	{"POST", "/api/v1/consents/verify", `{"request_id":"` + strings.Repeat("a", 32) + `","code":"123456"}`},
	{"POST", "/api/v1/consents/resend", `{"request_id":"` + strings.Repeat("a", 32) + `"}`},
	{"POST", "/api/v1/consent-withdrawals", `{"email":"anna@example.de"}`},
	{"POST", "/api/v1/consent-withdrawals/verify", `{"request_id":"` + strings.Repeat("a", 32) + `","code":"123456"}`},
	{"POST", "/api/v1/consent-withdrawals/resend", `{"request_id":"` + strings.Repeat("a", 32) + `"}`},
}

func send(t *testing.T, base, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	switch {
	case strings.HasPrefix(path, "/api/"):
		req.Header.Set("Content-Type", "application/json")
	case method == "POST":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// In objection mode the consent routes do not exist: every one answers
// 404 and records nothing; in consent mode the same requests reach a
// handler (the forms start a flow, unknown requests are the flows' own 404).
func TestConsentRoutesExistOnlyInConsentMode(t *testing.T) {
	e := newEnv(t, web.Config{})
	for _, r := range consentRoutes {
		resp, body := send(t, e.URL, r.method, r.path, r.body)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("objection mode: %s %s: %d", r.method, r.path, resp.StatusCode)
		}
		if strings.HasPrefix(r.path, "/api/") && errorCode(t, body) != "not_found" {
			t.Errorf("objection mode: %s %s: %s", r.method, r.path, body)
		}
	}
	if n := len(e.Mails(t)); n != 0 {
		t.Fatalf("objection mode: the consent routes queued %d mails", n)
	}
	c := newConsentEnv(t)
	for _, r := range consentRoutes {
		resp, body := send(t, c.URL, r.method, r.path, r.body)
		unknown := strings.Contains(r.path+r.body, strings.Repeat("a", 32)) // names a request that does not exist
		switch {
		case !unknown && r.method == "GET":
			if resp.StatusCode != http.StatusOK {
				t.Errorf("consent mode: %s %s: %d", r.method, r.path, resp.StatusCode)
			}
		case !unknown:
			if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusAccepted {
				t.Errorf("consent mode: %s %s: %d %s", r.method, r.path, resp.StatusCode, body)
			}
		case strings.HasPrefix(r.path, "/api/"):
			if resp.StatusCode != http.StatusNotFound || errorCode(t, body) != "request_not_found" {
				t.Errorf("consent mode: %s %s: %d %s", r.method, r.path, resp.StatusCode, body)
			}
		default:
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "<html") {
				t.Errorf("consent mode: %s %s: %d", r.method, r.path, resp.StatusCode)
			}
		}
	}
}

// A person gives consent with the form (for instagram only), confirms the
// code, sees the reference and what consent means, downloads a receipt
// that verifies; then withdraws it the same way.
func TestConsentPages(t *testing.T) {
	e := newConsentEnv(t)
	page := get(t, e.URL+"/consent", "de")
	for _, want := range []string{`<html lang="de"`, "Was Ihre Einwilligung bedeutet", `action="/consent"`, `<label for="email">`, `href="/consent/withdraw"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the consent form lacks %q:\n%s", want, page)
		}
	}
	loc := postRedirect(t, e.URL+"/consent", url.Values{"email": {"anna@example.de"}, "scope": {"some"}, "product": {"instagram"}, "lang": {"en"}})
	if !strings.HasPrefix(loc, "/consent/") {
		t.Fatalf("redirect to %q", loc)
	}
	rid := strings.TrimPrefix(loc, "/consent/")
	check := get(t, e.URL+loc, "en")
	if !strings.Contains(check, `action="/consent/`+rid+`"`) || !strings.Contains(check, "Confirm my consent") {
		t.Fatalf("check page:\n%s", check)
	}
	done := postRedirect(t, e.URL+loc, url.Values{"code": {e.CodeFor(t, rid)}})
	if done != loc+"/done" {
		t.Fatalf("verify redirected to %q", done)
	}
	page = get(t, e.URL+done, "en")
	for _, want := range []string{"Your consent is recorded", "What your consent means", "Instagram", `href="` + loc + `/receipt"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the done page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Facebook") {
		t.Fatalf("a consent for instagram lists facebook:\n%s", page)
	}
	_, rc := fetchURL(t, e.URL+loc+"/receipt")
	v, err := receipt.Verify([]byte(rc), e.LogKey.Verifier())
	if err != nil || v.Entry.Kind != ledger.KindConsentGiven || !strings.Contains(page, receipt.Reference(v.Entry)) {
		t.Fatalf("receipt: %v %+v", err, v.Entry)
	}
	c, err := e.DB.Consent(t.Context(), receipt.Reference(v.Entry))
	if err != nil || c.Scope != "instagram" || len(c.Accounts) != 1 || c.Accounts[0].AccountID != "ig1" {
		t.Fatalf("stored consent: %+v %v", c, err)
	}

	wloc := postRedirect(t, e.URL+"/consent-withdrawal", url.Values{"email": {"anna@example.de"}, "lang": {"en"}})
	if !strings.HasPrefix(wloc, "/consent-withdrawal/") {
		t.Fatalf("withdrawal redirect to %q", wloc)
	}
	wrid := strings.TrimPrefix(wloc, "/consent-withdrawal/")
	if check := get(t, e.URL+wloc, "en"); !strings.Contains(check, `action="/consent-withdrawal/`+wrid+`/resend"`) {
		t.Fatalf("withdrawal check page:\n%s", check)
	}
	wdone := postRedirect(t, e.URL+wloc, url.Values{"code": {e.CodeFor(t, wrid)}})
	page = get(t, e.URL+wdone, "en")
	if !strings.Contains(page, "Your consent has been withdrawn") || !strings.Contains(page, "1 consent has ended") {
		t.Fatalf("withdrawal done page:\n%s", page)
	}
	if c, _ := e.DB.Consent(t.Context(), c.ID); c.WithdrawnAt.IsZero() || c.WithdrawalRef == "" {
		t.Fatalf("the consent was not ended: %+v", c)
	}
	e.deliver(t)
	var kinds []string
	for _, m := range e.MailsTo(t, "anna@example.de") {
		kinds = append(kinds, m.Kind)
	}
	if strings.Join(kinds, ",") != strings.Join([]string{mail.KindConsentWithdrawn, mail.KindCode, mail.KindConsentGiven, mail.KindCode}, ",") {
		t.Fatalf("mails: %v", kinds)
	}
}

// The consent API refuses what it does not take, with stable codes.
func TestConsentAPIErrors(t *testing.T) {
	e := newConsentEnv(t)
	for _, tt := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/api/v1/consents", `{"email":"a@b.de","scope":["myspace"]}`, 400, "scope_invalid"},
		{"/api/v1/consents", `{"email":"a@b.de","scope":"all","reason":"because"}`, 400, "invalid_request"},
		{"/api/v1/consents", `{"email":"nope","scope":"all"}`, 400, "email_invalid"},
		{"/api/v1/consents", `{"email":"a@b.de","scope":"all","lang":"ja"}`, 400, "lang_invalid"},
		// Consent covers only what the person chose: nothing is assumed.
		{"/api/v1/consents", `{"email":"a@b.de"}`, 400, "scope_required"},
		{"/api/v1/consents", `{"email":"a@b.de","scope":null}`, 400, "scope_required"},
		{"/api/v1/consent-withdrawals", `{"email":"a@b.de","scope":["myspace"]}`, 400, "scope_invalid"},
		{"/api/v1/consent-withdrawals", `{"email":"a@b.de","scope":[]}`, 400, "scope_invalid"},
		{"/api/v1/consent-withdrawals", `{"email":"a@b.de","scope":"some"}`, 400, "scope_invalid"},
		{"/api/v1/consent-withdrawals", `{"email":"a@b.de","reason":"because"}`, 400, "invalid_request"},
		{"/api/v1/consents/verify", `{"request_id":"x","code":"123456"}`, 404, "request_not_found"},
	} {
		resp, b := postJSON(t, e.URL+tt.path, tt.body)
		if resp.StatusCode != tt.status || errorCode(t, b) != tt.code {
			t.Errorf("%s %s: %d %s, want %d %s", tt.path, tt.body, resp.StatusCode, b, tt.status, tt.code)
		}
	}
	// A consent request's id does not verify a withdrawal (nor the reverse).
	_, b := postJSON(t, e.URL+"/api/v1/consents", `{"email":"anna@example.de","scope":"all"}`)
	rid := ridRE.FindString(b)
	resp, b := postJSON(t, e.URL+"/api/v1/consent-withdrawals/verify", `{"request_id":"`+rid+`","code":"`+e.CodeFor(t, rid)+`"}`)
	if resp.StatusCode != http.StatusNotFound || errorCode(t, b) != "request_not_found" {
		t.Fatalf("cross-flow verify: %d %s", resp.StatusCode, b)
	}
}

// The withdrawal form offers all linked accounts or some products; a
// withdrawal for some products says on its page what ended and what still
// has consent, and one that ticks no product is refused beside the field.
func TestConsentWithdrawalFormPerProduct(t *testing.T) {
	e := newConsentEnv(t)
	for lang, legend := range map[string]string{"de": "Für welche Konten?", "en": "Which accounts?"} {
		page := get(t, e.URL+"/consent/withdraw", lang)
		for _, want := range []string{`<html lang="` + lang + `"`, "<legend>" + legend + "</legend>", `name="scope" value="all" checked`,
			`<label for="product-instagram">`, `aria-describedby="scope-some-hint"`} {
			if !strings.Contains(page, want) {
				t.Fatalf("the %s withdrawal form lacks %q:\n%s", lang, want, page)
			}
		}
	}
	loc := postRedirect(t, e.URL+"/consent", url.Values{"email": {"anna@example.de"}, "scope": {"all"}, "lang": {"en"}})
	rid := strings.TrimPrefix(loc, "/consent/")
	postRedirect(t, e.URL+loc, url.Values{"code": {e.CodeFor(t, rid)}})

	resp, err := http.PostForm(e.URL+"/consent-withdrawal", url.Values{"email": {"anna@example.de"}, "scope": {"some"}, "lang": {"en"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `id="scope-error"`) || !strings.Contains(string(b), `value="anna@example.de"`) {
		t.Fatalf("a withdrawal for no product: %d\n%s", resp.StatusCode, b)
	}

	wloc := postRedirect(t, e.URL+"/consent-withdrawal", url.Values{"email": {"anna@example.de"}, "scope": {"some"},
		"product": {"instagram", "threads"}, "lang": {"en"}})
	wrid := strings.TrimPrefix(wloc, "/consent-withdrawal/")
	wdone := postRedirect(t, e.URL+wloc, url.Values{"code": {e.CodeFor(t, wrid)}})
	page := get(t, e.URL+wdone, "en")
	for _, want := range []string{"1 consent has ended", `<p id="products-ended">Consent has ended for: Instagram, Threads</p>`,
		`<p id="products-kept">Consent is still in force for: Facebook</p>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the done page lacks %q:\n%s", want, page)
		}
	}
	w, err := e.DB.ConsentWithdrawal(t.Context(), ridRef(t, page))
	if err != nil || w.Scope != "instagram,threads" || w.Ended != 1 {
		t.Fatalf("stored withdrawal: %+v %v", w, err)
	}
}

var consentWithdrawalRefRE = regexp.MustCompile(`NTCW-[0-9A-Z-]+`)

// ridRef is the withdrawal reference a done page shows.
func ridRef(t *testing.T, page string) string {
	t.Helper()
	ref := consentWithdrawalRefRE.FindString(page)
	if ref == "" {
		t.Fatalf("no reference on the page:\n%s", page)
	}
	return ref
}

// The consent form chooses nothing for the person (a pre-selected "all"
// is no unambiguous act of consent): neither choice is ticked, and a form
// sent without one is refused beside the field, nothing queued.
func TestConsentFormPreSelectsNothing(t *testing.T) {
	e := newConsentEnv(t)
	page := get(t, e.URL+"/consent", "en")
	if strings.Contains(page, "checked") {
		t.Fatalf("the consent form has something ticked:\n%s", page)
	}
	resp, err := noRedirect().PostForm(e.URL+"/consent", url.Values{"email": {"anna@example.de"}, "lang": {"en"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `id="scope-error"`) ||
		!strings.Contains(string(b), "Choose what your consent covers") || strings.Contains(string(b), "checked") {
		t.Fatalf("consent without a choice: %d\n%s", resp.StatusCode, b)
	}
	if n := len(e.Mails(t)); n != 0 {
		t.Fatalf("%d mails queued", n)
	}
}
