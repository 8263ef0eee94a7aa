package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// shot saves the page as NAME.png in $NOTRAIN_SCREENSHOTS, when set, for
// a person to look at.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("NOTRAIN_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// reportInBrowser files a report through /report as a person does, with
// the code from the mail the SMTP server received, and returns the
// reference the confirmation page shows and that page's address.
func reportInBrowser(t *testing.T, ctx context.Context, base, lang string, smtp *smtptest.Server, addr, items, description string) (ref, page string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(base+"/report?lang="+lang), chromedp.WaitVisible(chromedp.ID("items")))
	labelled(t, ctx, "report form ("+lang+")")
	shot(t, ctx, "report-form-"+lang)
	seen := len(smtp.Messages())
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), addr),
		chromedp.SendKeys(chromedp.ID("items"), items),
		chromedp.Click(chromedp.ID("relation")),
		chromedp.SendKeys(chromedp.ID("description"), description),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	code := nextMail(t, smtp, seen, func(m smtptest.Message) bool { return smtptest.To(addr)(m) && m.Code() != "" }).Code()
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	shot(t, ctx, "report-done-"+lang)
	ref = text(t, ctx, "#reference")
	page, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !reportRefRE.MatchString(ref) {
		t.Fatalf("report of %s: reference %q", addr, ref)
	}
	// The confirmation mail names the reference.
	nextMail(t, smtp, seen, func(m smtptest.Message) bool {
		return smtptest.To(addr)(m) && strings.Contains(m.Subject, ref) && strings.Contains(m.Text, ref)
	})
	return ref, page
}

// Issue 11 end to end, with JavaScript off: a person without an account
// reports two items in the browser (one by URL, mapped by --item-urls, one
// by id) and another person one item, each confirmed with the mailed
// code; an operator made with "notrain operators add" sets a password
// through the link, logs in, reads the report counts on the dashboard,
// finds both cases in the queue, approves the first and rejects the second
// with a reason. The first person's decision mail arrives, the second's
// carries the reason, and "notrain filter" on an export with both approved
// items and others counts exactly the two as item_excluded.
func TestBrowserReportReviewedByOperatorLeavesTheSnapshot(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	urls := writeFile(t, filepath.Join(dir, "item-urls.txt"), "fb https://www.facebook.example/photo/{id}\n")
	smtp := smtptest.Start(t)
	base := server(t, nil, "--db", db, "--mail", smtp.URL(), "--item-urls", urls)
	do(t, ctx, chromedp.Func(noScript))

	// Two people without an account report.
	const stranger, other = "stranger@example.org", "someone@example.net"
	approved, approvedPage := reportInBrowser(t, ctx, base, "en", smtp, stranger, "https://www.facebook.example/photo/1001\nfb:1002\n", "I am the person on the left.")
	if items := text(t, ctx, "#report-items"); !strings.Contains(items, "fb:1001") || !strings.Contains(items, "fb:1002") {
		t.Fatalf("confirmation's items %q", items)
	}
	rejected, rejectedPage := reportInBrowser(t, ctx, base, "de", smtp, other, "fb:2001\n", "Das bin ich beim Stadtfest.")

	// The operator is made on the command line and sets up in the browser.
	code, link, stderr := run(t, dir, nil, "operators", "add", "rita", "--role", "reviewer", "--db", db, "--base-url", base)
	if code != 0 || !strings.HasPrefix(link, base+"/admin/setup/") {
		t.Fatalf("operators add: %d %q %s", code, link, stderr)
	}
	const password = "a long and secret passphrase"
	// The browser was last on a German page; the operator reads English.
	do(t, ctx, chromedp.Navigate(strings.TrimSpace(link)+"?lang=en"), chromedp.WaitVisible(chromedp.ID("password")))
	labelled(t, ctx, "set-up page")
	shot(t, ctx, "console-setup")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.SendKeys(chromedp.ID("confirm"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("name")),
	)
	if h1 := text(t, ctx, "h1"); h1 != "Log in" {
		t.Fatalf("after set-up: h1 %q", h1)
	}
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("name"), "rita"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.ID("series-reports")),
	)
	if h1 := text(t, ctx, "h1"); h1 != "Dashboard" {
		t.Fatalf("after login: h1 %q", h1)
	}
	// The reports chart's table: two reports today, none before.
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#series-reports-title ~ div table td')].map(td => td.textContent)`))
	if err != nil || len(cells) != 14 || cells[13] != "2" || strings.Join(cells[:13], "") != strings.Repeat("0", 13) {
		t.Fatalf("reports per day in the table: %v (%v)", cells, err)
	}
	if open := text(t, ctx, "#reviews-open"); open != "2" {
		t.Fatalf("open reviews %q", open)
	}
	shot(t, ctx, "console-dashboard")

	// The queue, oldest first.
	do(t, ctx, chromedp.Click(chromedp.CSS(`nav a[href="/admin/reviews"]`)), chromedp.WaitVisible(chromedp.ID("queue")))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#queue tbody tr th')].map(th => th.textContent.trim())`))
	if err != nil || strings.Join(rows, " ") != approved+" "+rejected {
		t.Fatalf("queue rows %v (%v), want %s %s", rows, err, approved, rejected)
	}
	shot(t, ctx, "console-queue")

	// Approve the first: its items link to the platform's pages.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#queue a[href="/admin/reviews/`+approved+`"]`)), chromedp.WaitVisible(chromedp.ID("approve")))
	labelled(t, ctx, "case page")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('ul.items a[href="https://www.facebook.example/photo/1001"], ul.items a[href="https://www.facebook.example/photo/1002"]').length`)); err != nil || n != 2 {
		t.Fatalf("%d item links on the case page (%v)", n, err)
	}
	if d := text(t, ctx, ".description"); d != "I am the person on the left." {
		t.Fatalf("description %q", d)
	}
	shot(t, ctx, "console-case")
	seen := len(smtp.Messages())
	do(t, ctx, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := text(t, ctx, ".notice"); got != "The decision on "+approved+" is recorded." {
		t.Fatalf("notice %q", got)
	}
	shot(t, ctx, "console-decided")
	m := nextMail(t, smtp, seen, func(m smtptest.Message) bool {
		return smtptest.To(stranger)(m) && strings.Contains(m.Subject, "approved")
	})
	if m.Subject != "Report approved: reference "+approved || !strings.Contains(m.Text, "fb:1001") || !strings.Contains(m.Text, "fb:1002") ||
		!strings.Contains(m.Text, "exclusion list") {
		t.Fatalf("approval mail %q:\n%s", m.Subject, m.Text)
	}

	// The person's confirmation page now says so too.
	do(t, ctx, chromedp.Navigate(approvedPage), chromedp.WaitVisible(chromedp.ID("report-status")))
	if h1, st := text(t, ctx, "h1"), text(t, ctx, "#report-status"); h1 != "Your report is approved" || st != "Status: approved. The items are kept out of training." {
		t.Fatalf("approved report's page: h1 %q, status %q", h1, st)
	}
	if body := text(t, ctx, "main"); strings.Contains(body, "reviews your report") || strings.Contains(body, "We answer by") {
		t.Fatalf("the decided report's page still says it is being reviewed: %s", body)
	}

	// Reject the second with a reason the person reads.
	const reason = "Auf dem Foto ist keine Person zu erkennen."
	// This time in German, as the console offers.
	do(t, ctx, chromedp.Navigate(base+"/admin/reviews/"+rejected+"?lang=de"), chromedp.WaitVisible(chromedp.ID("reject")))
	if h1 := text(t, ctx, "h1"); h1 != "Fall" {
		t.Errorf("German case page: h1 %q", h1)
	}
	labelled(t, ctx, "German case page")
	shot(t, ctx, "console-case-de")
	seen = len(smtp.Messages())
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("note"), reason),
		chromedp.Click(chromedp.ID("reject")),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if got := text(t, ctx, ".notice"); !strings.Contains(got, rejected) {
		t.Fatalf("notice %q", got)
	}
	if got := text(t, ctx, "main"); !strings.Contains(got, "Die Entscheidung zu "+rejected+" ist gespeichert.") {
		t.Fatalf("German queue after the decision: %s", got)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#queue tbody tr').length`)); err != nil || n != 0 {
		t.Fatalf("%d cases still open (%v)", n, err)
	}
	shot(t, ctx, "console-decided-de")
	do(t, ctx, chromedp.Click(chromedp.CSS(`nav a[href="/admin"]`)), chromedp.WaitVisible(chromedp.ID("series-reports")))
	if open := text(t, ctx, "#reviews-open"); open != "0" {
		t.Fatalf("open reviews after both decisions %q", open)
	}
	shot(t, ctx, "console-dashboard-de")
	// The person reported in German: the mail is German and carries the reason.
	m = nextMail(t, smtp, seen, func(m smtptest.Message) bool { return smtptest.To(other)(m) && strings.Contains(m.Subject, rejected) })
	if m.Subject != "Meldung abgelehnt: Referenznummer "+rejected || !strings.Contains(m.Text, "Unsere Begründung:") || !strings.Contains(m.Text, reason) {
		t.Fatalf("rejection mail %q:\n%s", m.Subject, m.Text)
	}

	do(t, ctx, chromedp.Navigate(rejectedPage), chromedp.WaitVisible(chromedp.ID("report-status")))
	if h1, st := text(t, ctx, "h1"), text(t, ctx, "#report-status"); h1 != "Ihre Meldung wurde abgelehnt" || st != "Stand: abgelehnt. Den Grund haben wir Ihnen per E-Mail mitgeteilt." {
		t.Errorf("rejected report's page: h1 %q, status %q", h1, st)
	}
	if body := text(t, ctx, "main"); !strings.Contains(body, "Datenschutz-Aufsichtsbehörde") || strings.Contains(body, "Wir antworten spätestens") {
		t.Errorf("the rejected report's page: %s", body)
	}
	shot(t, ctx, "report-rejected-de")

	// The next snapshot: exactly the two approved items are excluded; the
	// rejected report's item and the others stay.
	var export strings.Builder
	for _, id := range []string{"fb:1001", "fb:1002", "fb:1003", "fb:2001", "fb:2002"} {
		export.WriteString(`{"id":"` + id + `","product":"facebook","author_id":"u3","kind":"photo","visibility":"public","created_at":"2025-04-02T10:00:00Z"}` + "\n")
	}
	in := writeFile(t, filepath.Join(dir, "export.jsonl"), export.String())
	pol := writeFile(t, filepath.Join(dir, "policy.yaml"), "mode: objection\n")
	eligible, excluded := filterCounts(t, dir, db, pol, in)
	var total int64
	for _, n := range excluded {
		total += n
	}
	if eligible != 3 || excluded["item_excluded"] != 2 || total != 2 {
		t.Fatalf("filter: %d eligible, excluded %v; want 3 and item_excluded 2", eligible, excluded)
	}
}
