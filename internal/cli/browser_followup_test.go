package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The answer to a request for more information, as the person gives it:
// the mail's link opens the form carrying the case, the person files and
// confirms it with JavaScript off, and the review queue then shows the new
// report following the case, which is no longer open.
func TestBrowserReportFollowUp(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	base := server(t, nil, "--demo", "--db", db)
	const addr = "stranger@example.org"
	code, st := postJSON(t, base+"/api/v1/reports", map[string]any{"email": addr, "items": []string{"fb:1001"}, "relation": "me", "lang": "en"})
	if code != http.StatusAccepted {
		t.Fatalf("report: %d %v", code, st)
	}
	code, done := postJSON(t, base+"/api/v1/reports/verify", map[string]any{"request_id": st["request_id"], "code": devCode(t, base, addr)})
	ref, _ := done["reference"].(string)
	if code != http.StatusOK || !reportRefRE.MatchString(ref) {
		t.Fatalf("verify: %d %v", code, done)
	}
	rc, tok, stderr := run(t, dir, nil, "tokens", "create", "--scope", "reviews", "--name", "triage", "--db", db)
	if rc != 0 {
		t.Fatalf("tokens create: %s", stderr)
	}
	bearer := map[string]string{"Authorization": "Bearer " + strings.TrimSpace(tok)}
	decide, _ := http.NewRequest("POST", base+"/api/v1/admin/reviews/"+ref+"/decision",
		bytes.NewReader([]byte(`{"decision":"more_info","note":"Which of the people in the photo are you?"}`)))
	decide.Header.Set("Content-Type", "application/json")
	decide.Header.Set("Authorization", bearer["Authorization"])
	resp, err := http.DefaultClient.Do(decide)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("more_info: %d", resp.StatusCode)
	}
	link := devMailLink(t, base, addr, "report_more_info", regexp.MustCompile(`http://\S+/report\?follows=`+ref))

	// The mail speaks of the configured base URL; the test server listens elsewhere.
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+u.RequestURI()), chromedp.WaitVisible(chromedp.ID("items")))
	if notice := text(t, ctx, "#follows"); !strings.Contains(notice, ref) {
		t.Fatalf("the form does not say which case it answers: %q", notice)
	}
	labelled(t, ctx, "follow-up form")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), addr),
		chromedp.SendKeys(chromedp.ID("items"), "fb:1001\n"),
		chromedp.Click(chromedp.ID("relation")),
		chromedp.SendKeys(chromedp.ID("description"), "The one in the red coat."),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCodeAfter(t, base, addr, 1)),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	next := text(t, ctx, "#reference")
	if !reportRefRE.MatchString(next) || next == ref || text(t, ctx, "#report-status") != "Status: in review." {
		t.Fatalf("confirmation of the follow-up: %q %q", next, text(t, ctx, "#report-status"))
	}

	c, body := get(t, base+"/api/v1/admin/reviews", bearer)
	var q struct {
		Reviews []struct {
			Reference, Follows string
			Earlier            *struct{ Reference, Asked, Description string }
		}
	}
	if err := json.Unmarshal([]byte(body), &q); err != nil || c != http.StatusOK {
		t.Fatalf("reviews: %d %s", c, body)
	}
	if len(q.Reviews) != 1 || q.Reviews[0].Reference != next || q.Reviews[0].Follows != ref || q.Reviews[0].Earlier == nil ||
		q.Reviews[0].Earlier.Asked != "Which of the people in the photo are you?" {
		t.Fatalf("queue after the follow-up: %s", body)
	}
}

// devMailLink waits for a mail of kind to addr in the dev mailbox and
// returns the first match of re in its text.
func devMailLink(t *testing.T, base, addr, kind string, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/dev/mail.json")
		if err != nil {
			t.Fatal(err)
		}
		var mails []struct{ To, Kind, Text string }
		err = json.NewDecoder(resp.Body).Decode(&mails)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			if strings.EqualFold(m.To, addr) && m.Kind == kind {
				if l := re.FindString(m.Text); l != "" {
					return l
				}
				t.Fatalf("%s mail without the link:\n%s", kind, m.Text)
			}
		}
	}
	t.Fatalf("no %s mail for %s in the dev mailbox", kind, addr)
	return ""
}
