package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// apiReport files a report through the API and confirms it; it returns
// the reference.
func apiReport(t *testing.T, e *env, body string) string {
	t.Helper()
	resp, b := postJSON(t, e.URL+"/api/v1/reports", body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var st struct {
		RequestID string `json:"request_id"`
	}
	json.Unmarshal([]byte(b), &st)
	resp, b = postJSON(t, e.URL+"/api/v1/reports/verify", `{"request_id":"`+st.RequestID+`","code":"`+e.CodeFor(t, st.RequestID)+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify: %d %s", resp.StatusCode, b)
	}
	var done struct{ Reference string }
	json.Unmarshal([]byte(b), &done)
	return done.Reference
}

var followsLink = regexp.MustCompile(`https?://[^\s"<]+/report\?follows=NTR-[0-9A-Z-]+`)

// The more-information mail's link opens the form with the case in a
// hidden field; the form, filed and confirmed from the same address,
// closes the case as superseded and links the new one to it. The page of
// the link is the same whether the reference exists or not.
func TestReportFollowUpThroughTheForm(t *testing.T) {
	e, queue := reportEnv(t)
	ctx := context.Background()
	ref := apiReport(t, e, `{"email":"carl@example.net","items":["fb:7"],"relation":"me","description":"left","lang":"en"}`)
	if _, err := queue.Decide(ctx, ref, review.Decision{Decision: review.MoreInfo, Note: "Which one are you?", Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	m := e.MailsTo(t, "carl@example.net")[0]
	link := followsLink.FindString(m.Text)
	if m.Kind != mail.KindReportMoreInfo || !strings.HasSuffix(link, "follows="+ref) {
		t.Fatalf("more-info mail link %q in:\n%s", link, m.Text)
	}
	u, _ := url.Parse(link)
	form := getStatus(t, e.URL+u.RequestURI(), http.StatusOK)
	if !strings.Contains(form, `<input type="hidden" name="follows" value="`+ref+`">`) || !strings.Contains(form, `id="follows"`) {
		t.Fatalf("the form does not carry the case: %s", form)
	}
	unknown := getStatus(t, e.URL+"/report?follows=NTR-0000-0000-0000", http.StatusOK)
	if strings.ReplaceAll(unknown, "NTR-0000-0000-0000", "<ref>") != strings.ReplaceAll(form, ref, "<ref>") {
		t.Fatal("the form differs for an existing and an unknown reference")
	}
	for _, bad := range []string{"x", "NTR-1%22%3E%3Cscript%3E", ""} {
		if p := getStatus(t, e.URL+"/report?follows="+bad, http.StatusOK); strings.Contains(p, `name="follows"`) {
			t.Fatalf("follows=%s carried: %s", bad, p)
		}
	}

	// Filed through the form and confirmed on the code page.
	resp, err := noRedirect().PostForm(e.URL+"/report", url.Values{"lang": {"en"}, "email": {"carl@example.net"}, "items": {"fb:7"},
		"relation": {"me"}, "description": {"The one in the red coat."}, "follows": {ref}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/report/") {
		t.Fatalf("form: %d %q", resp.StatusCode, loc)
	}
	rid := strings.TrimPrefix(loc, "/report/")
	resp, err = noRedirect().PostForm(e.URL+loc, url.Values{"lang": {"en"}, "code": {e.CodeFor(t, rid)}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code page: %d", resp.StatusCode)
	}
	old, err := e.DB.Report(ctx, ref)
	if err != nil || old.Status != store.ReportSuperseded || old.Email != "" {
		t.Fatalf("the followed case: %+v %v", old, err)
	}
	open, err := queue.Open(ctx)
	if err != nil || len(open) != 1 || open[0].Follows != ref || open[0].Earlier == nil || open[0].Earlier.Asked != "Which one are you?" {
		t.Fatalf("open cases: %+v %v", open, err)
	}
	// The case's own confirmation page says it goes on elsewhere, without
	// naming where.
	var oldRID string
	if err := dbtest.Raw(t, e.Path).QueryRow(`SELECT request_id FROM reports WHERE id = $1`, ref).Scan(&oldRID); err != nil {
		t.Fatal(err)
	}
	if p := getStatus(t, e.URL+"/report/"+oldRID+"/done", http.StatusOK); !strings.Contains(p, "the case continues there") || strings.Contains(p, open[0].Reference) {
		t.Fatalf("superseded case's page: %s", p)
	}
}

// Through the API, follows is optional; a malformed one is a 400 with a
// stable code, and one that names another person's case or no case at
// all gets the same answer as a report that follows none.
func TestReportAPIFollows(t *testing.T) {
	e, queue := reportEnv(t)
	ctx := context.Background()
	ref := apiReport(t, e, `{"email":"carl@example.net","items":["fb:7"],"relation":"me","lang":"en"}`)
	if _, err := queue.Decide(ctx, ref, review.Decision{Decision: review.MoreInfo, Note: "Which one?", Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	resp, body := postJSON(t, e.URL+"/api/v1/reports", `{"email":"carl@example.net","items":["fb:7"],"relation":"me","follows":"NTR-<b>","lang":"en"}`)
	if resp.StatusCode != http.StatusBadRequest || errorCode(t, body) != report.CodeFollowsInvalid {
		t.Fatalf("malformed follows: %d %s", resp.StatusCode, body)
	}
	var answers []string
	for _, follows := range []string{"", ref, "NTR-0000-0000-0000"} {
		resp, body := postJSON(t, e.URL+"/api/v1/reports", `{"email":"dora@example.org","items":["fb:7"],"relation":"me","follows":"`+follows+`","lang":"en"}`)
		answers = append(answers, resp.Status+"\n"+headerDump(resp.Header)+"\n"+normalize(body))
		var st struct {
			RequestID string `json:"request_id"`
		}
		json.Unmarshal([]byte(body), &st)
		resp, body = postJSON(t, e.URL+"/api/v1/reports/verify", `{"request_id":"`+st.RequestID+`","code":"`+e.CodeFor(t, st.RequestID)+`"}`)
		// The receipt differs per entry; the answer's shape must not.
		var done map[string]any
		json.Unmarshal([]byte(body), &done)
		keys := make([]string, 0, len(done))
		for k := range done {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		h := resp.Header.Clone()
		h.Del("Content-Length") // the receipt's proof grows with the log
		answers = append(answers, resp.Status+"\n"+headerDump(h)+"\n"+strings.Join(keys, ",")+"\n"+fmt.Sprint(done["status"], done["items"]))
	}
	for i := 2; i < len(answers); i++ {
		if answers[i] != answers[i%2] {
			t.Fatalf("answer %d differs:\n%s\n---\n%s", i, answers[i], answers[i%2])
		}
	}
	if r, _ := e.DB.Report(ctx, ref); r.Status != store.ReportInfoRequested || r.Email != "carl@example.net" {
		t.Fatalf("another address closed the case: %+v", r)
	}
}
