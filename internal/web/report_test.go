package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
	"github.com/notrain/notrain/internal/web"
)

const itemURLs = "fb https://www.facebook.example/photo/{id}\n"

// reportEnv serves the portal with reports over a fixture with accounts.
func reportEnv(t *testing.T) (*env, *report.Queue) {
	t.Helper()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	pats, err := report.ParsePatterns(strings.NewReader(itemURLs))
	if err != nil {
		t.Fatal(err)
	}
	e := serveFixture(t, f, web.Config{Reports: report.New(f.Svc, f.DB, f.Keys, pats)})
	return e, report.NewQueue(f.DB, f.Svc, f.Keys, pats, f.Clock.Now)
}

// A person with an account and one without get the same answer and both a
// code; each code confirms a report in review, with a receipt.
func TestReportAPIForAddressesWithAndWithoutAccount(t *testing.T) {
	e, _ := reportEnv(t)
	var answers []string
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		resp, body := postJSON(t, e.URL+"/api/v1/reports", `{"email":"`+addr+`","items":["fb:1001","https://www.facebook.example/photo/1002","fb:1001"],"relation":"me","description":"left","lang":"de"}`)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", addr, resp.StatusCode, body)
		}
		answers = append(answers, resp.Status+"\n"+headerDump(resp.Header)+"\n"+normalize(body))
		var started struct{ RequestID, Status string }
		if err := json.Unmarshal([]byte(body), &struct {
			RequestID *string `json:"request_id"`
			Status    *string `json:"status"`
		}{&started.RequestID, &started.Status}); err != nil || started.Status != "code_sent" {
			t.Fatalf("%s: %s", addr, body)
		}
		code := e.CodeFor(t, started.RequestID)
		if code == "" {
			t.Fatalf("%s got no code", addr)
		}
		resp, body = postJSON(t, e.URL+"/api/v1/reports/verify", `{"request_id":"`+started.RequestID+`","code":"`+code+`"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s verify: %d %s", addr, resp.StatusCode, body)
		}
		var done struct {
			Reference, Status, Receipt string
			Items                      []string
		}
		if err := json.Unmarshal([]byte(body), &done); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(done.Reference, "NTR-") || done.Status != "in_review" || strings.Join(done.Items, ",") != "fb:1001,fb:1002" ||
			!strings.Contains(done.Receipt, "notrain.test/notrain") {
			t.Fatalf("%s verify: %s", addr, body)
		}
		if ms := e.MailsTo(t, addr); ms[0].Kind != mail.KindReportReceived || !strings.Contains(ms[0].Subject, done.Reference) {
			t.Fatalf("%s: confirmation %s %q", addr, ms[0].Kind, ms[0].Subject)
		}
		// The confirmation page and its receipt, for whoever holds the request id.
		page := getStatus(t, e.URL+"/report/"+started.RequestID+"/done", http.StatusOK)
		if !strings.Contains(page, `id="reference">`+done.Reference+`<`) || !strings.Contains(page, "fb:1002") ||
			!strings.Contains(page, `href="/report/`+started.RequestID+`/receipt"`) {
			t.Fatalf("%s: done page %s", addr, page)
		}
		if rc := getStatus(t, e.URL+"/report/"+started.RequestID+"/receipt", http.StatusOK); rc != done.Receipt {
			t.Fatalf("%s: downloaded receipt differs from the verify answer's", addr)
		}
	}
	if answers[0] != answers[1] {
		t.Fatalf("answers differ:\nknown:   %q\nunknown: %q", answers[0], answers[1])
	}
}

func TestReportAPIRefusals(t *testing.T) {
	e, _ := reportEnv(t)
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"email":"a@example.org","items":[],"relation":"me"}`, 400, report.CodeItemsRequired},
		{`{"email":"a@example.org","relation":"me"}`, 400, report.CodeItemsRequired},
		{`{"email":"a@example.org","items":["https://www.facebook.example/video/1"],"relation":"me"}`, 400, report.CodeItemURLUnknown},
		{`{"email":"a@example.org","items":["fb 1"],"relation":"me"}`, 400, report.CodeItemInvalid},
		{`{"email":"a@example.org","items":["fb:1"],"relation":"neighbour"}`, 400, report.CodeRelationInvalid},
		{`{"email":"a@example.org","items":["fb:1"]}`, 400, report.CodeRelationInvalid},
		{`{"email":"a@example.org","items":["fb:1"],"relation":"me","description":"` + strings.Repeat("x", 2001) + `"}`, 400, report.CodeDescriptionTooLong},
		{`{"email":"a@example.org","items":["fb:1"],"relation":"me","account":"a\nb"}`, 400, report.CodeAccountInvalid},
		{`{"email":"","items":["fb:1"],"relation":"me"}`, 400, "email_required"},
		{`{"email":"a@example.org","items":["fb:1"],"relation":"me","lang":"xx"}`, 400, "lang_invalid"},
		{`{"email":"a@example.org","items":"fb:1","relation":"me"}`, 400, "invalid_request"},
		{`{"email":"a@example.org","items":["fb:1"],"relation":"me","scope":"all"}`, 400, "invalid_request"},
		{`{"email":"a@example.org","items":["fb:1"],`, 400, "invalid_json"},
		{`{"email":"a@example.org","items":["` + strings.Repeat("x", web.MaxBody) + `"],"relation":"me"}`, 413, "body_too_large"},
	} {
		resp, body := postJSON(t, e.URL+"/api/v1/reports", tc.body)
		if resp.StatusCode != tc.status || errorCode(t, body) != tc.code {
			t.Errorf("%.80s: %d %s, want %d %s", tc.body, resp.StatusCode, body, tc.status, tc.code)
		}
	}
	resp, body := postJSON(t, e.URL+"/api/v1/reports/verify", `{"request_id":"00000000000000000000000000000000","code":"123456"}`)
	if resp.StatusCode != http.StatusNotFound || errorCode(t, body) != "request_not_found" {
		t.Errorf("verify of nothing: %d %s", resp.StatusCode, body)
	}
	if n := len(e.Mails(t)); n != 0 {
		t.Fatalf("refusals queued %d mails", n)
	}
}

// The form shows every refusal at once, beside its field, in the
// person's language.
func TestReportFormShowsEveryRefusal(t *testing.T) {
	e, _ := reportEnv(t)
	resp, err := http.PostForm(e.URL+"/report", url.Values{"lang": {"de"}, "email": {"not an address"},
		"items": {"https://elsewhere.example/1\nfb:1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `lang="de"`) {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	for _, want := range []string{`id="email-error"`, `id="items-error"`, `id="relation-error"`, "erkennen wir nicht", "https://elsewhere.example/1"} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	// Every page links to the form.
	resp, err = http.Get(e.URL + "/withdraw?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `<a href="/report">Content that shows me</a>`) {
		t.Fatal("no footer link to the report form")
	}
}

// A rejected report's mail carries the reason, over real SMTP.
func TestRejectedReportMailsTheReason(t *testing.T) {
	e, queue := reportEnv(t)
	srv := smtptest.Start(t)
	sender, err := mail.NewSMTP(srv.URL(), "notrain.test")
	if err != nil {
		t.Fatal(err)
	}
	disp := &mail.Dispatcher{Outbox: e.DB, Composer: e.Composer, Sender: sender, From: "notrain <noreply@notrain.test>",
		Now: e.Clock.Now, Log: fixture.Quiet()}
	deliver := func() {
		t.Helper()
		if _, err := disp.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := postJSON(t, e.URL+"/api/v1/reports", `{"email":"nobody@example.org","items":["fb:7"],"relation":"my_child","lang":"en"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(body), &st)
	deliver()
	code := srv.WaitFor(t, 5*time.Second, smtptest.To("nobody@example.org")).Code()
	resp, body = postJSON(t, e.URL+"/api/v1/reports/verify", `{"request_id":"`+st.RequestID+`","code":"`+code+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var done struct{ Reference string }
	json.Unmarshal([]byte(body), &done)
	const reason = "The account that posted the photo is your child's own, and it is over 16."
	if _, err := queue.Decide(context.Background(), done.Reference, review.Decision{Decision: review.Reject, Note: reason, Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	deliver()
	m := srv.WaitFor(t, 5*time.Second, func(m smtptest.Message) bool {
		return strings.Contains(m.Subject, "Report refused") && strings.Contains(m.Subject, done.Reference)
	})
	if !strings.Contains(m.Text, reason) || !strings.Contains(m.Text, "supervisory authority") {
		t.Fatalf("rejection mail:\n%s", m.Text)
	}
}

// A report's code is resent like an objection's: not before the
// cool-down, then with a new code that replaces the old one.
func TestReportResend(t *testing.T) {
	e, _ := reportEnv(t)
	resp, body := postJSON(t, e.URL+"/api/v1/reports", `{"email":"nobody@example.org","items":["fb:1"],"relation":"other","lang":"en"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(body), &st)
	old := e.CodeFor(t, st.RequestID)
	resp, body = postJSON(t, e.URL+"/api/v1/reports/resend", `{"request_id":"`+st.RequestID+`"}`)
	if resp.StatusCode != http.StatusTooManyRequests || errorCode(t, body) != "resend_too_soon" {
		t.Fatalf("early resend: %d %s", resp.StatusCode, body)
	}
	e.Clock.Advance(otp.ResendCooldown)
	resp, body = postJSON(t, e.URL+"/api/v1/reports/resend", `{"request_id":"`+st.RequestID+`"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("resend: %d %s", resp.StatusCode, body)
	}
	code := e.CodeFor(t, st.RequestID)
	if code == "" || code == old {
		t.Fatalf("new code %q, old %q", code, old)
	}
	// The objection endpoints do not take a report's request.
	resp, body = postJSON(t, e.URL+"/api/v1/objections/verify", `{"request_id":"`+st.RequestID+`","code":"`+code+`"}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("report request verified as an objection: %d %s", resp.StatusCode, body)
	}
	resp, body = postJSON(t, e.URL+"/api/v1/reports/verify", `{"request_id":"`+st.RequestID+`","code":"`+code+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify with the new code: %d %s", resp.StatusCode, body)
	}
}

// Through the pages too, an address with an account and one without see
// the same: the same redirect, the same check page, and each a code.
func TestReportPagesSameForKnownAndUnknown(t *testing.T) {
	e, _ := reportEnv(t)
	var pages []string
	for _, addr := range []string{"ben@example.com", "nobody@example.com"} {
		resp, err := noRedirect().PostForm(e.URL+"/report", url.Values{"lang": {"en"}, "email": {addr}, "items": {"fb:1\n"}, "relation": {"my_child"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/report/") {
			t.Fatalf("%s: %d %q", addr, resp.StatusCode, loc)
		}
		e.deliver(t)
		resp, err = http.Get(e.URL + loc)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pages = append(pages, resp.Status+"\n"+headerDump(resp.Header)+"\n"+normalize(string(b)))
		if e.CodeFor(t, strings.TrimPrefix(loc, "/report/")) == "" {
			t.Fatalf("%s got no code", addr)
		}
	}
	if pages[0] != pages[1] {
		t.Fatalf("check pages differ:\n%s\n---\n%s", pages[0], pages[1])
	}
	if !strings.Contains(pages[0], "We have sent a 6-digit code to this address") || !strings.Contains(pages[0], `action="/report/<id>"`) {
		t.Fatalf("check page: %s", pages[0])
	}
	if n := e.Counter(t, "notrain_codes_sent_total", nil); n != 2 {
		t.Fatalf("codes sent %v, want 2", n)
	}
	if n := e.Counter(t, "notrain_no_account_notices_total", nil); n != 0 {
		t.Fatalf("no-account notices %v, want 0", n)
	}
}

func getStatus(t *testing.T, u string, status int) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, status, b)
	}
	return string(b)
}

// A request id that is no confirmed report has no confirmation page.
func TestReportDonePageOfNothing(t *testing.T) {
	e, _ := reportEnv(t)
	getStatus(t, e.URL+"/report/00000000000000000000000000000000/done", http.StatusNotFound)
	getStatus(t, e.URL+"/report/nonsense/receipt", http.StatusNotFound)
	resp, body := postJSON(t, e.URL+"/api/v1/reports", `{"email":"nobody@example.org","items":["fb:1"],"relation":"me"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(body), &st)
	// Not confirmed yet: no confirmation either; an objection's done page
	// does not show it.
	getStatus(t, e.URL+"/report/"+st.RequestID+"/done", http.StatusNotFound)
	getStatus(t, e.URL+"/objection/"+st.RequestID+"/done", http.StatusNotFound)
}
