package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

var reportRefRE = regexp.MustCompile(`^NTR-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$`)

// A person without an account reports two items, one by its URL and one
// by its id, with JavaScript off: the code from the mailbox confirms it,
// and the confirmation shows the reference, both items and "in review".
func TestBrowserReportWithoutAccount(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	urls := writeFile(t, filepath.Join(dir, "item-urls.txt"), "# the platform's photo pages\nfb https://www.facebook.example/photo/{id}\n")
	base := server(t, nil, "--demo", "--db", filepath.Join(dir, "n.db"), "--item-urls", urls)
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/withdraw?lang=en"), chromedp.WaitVisible(chromedp.ID("email")))
	// The footer leads to the form from any page.
	do(t, ctx, chromedp.Click(chromedp.CSS(`footer a[href="/report"]`)), chromedp.WaitVisible(chromedp.ID("items")))
	if h1 := text(t, ctx, "h1"); h1 != "Content that shows me" {
		t.Fatalf("h1 = %q", h1)
	}
	labelled(t, ctx, "report form")
	const addr = "stranger@example.org"
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), addr),
		chromedp.SendKeys(chromedp.ID("items"), "https://www.facebook.example/photo/1001\nfb:1002\n"),
		chromedp.Click(chromedp.ID("relation")),
		chromedp.SendKeys(chromedp.ID("description"), "I am the person on the left."),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	if h1 := text(t, ctx, "h1"); h1 != "Check your mail" {
		t.Fatalf("check page h1 = %q", h1)
	}
	labelled(t, ctx, "check page")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCode(t, base, addr)),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	ref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1")
	if !reportRefRE.MatchString(ref) || h1 != "Your report is in review" {
		t.Fatalf("confirmation: h1 %q, reference %q", h1, ref)
	}
	if st := text(t, ctx, "#report-status"); st != "Status: in review." {
		t.Fatalf("status %q", st)
	}
	if items := text(t, ctx, "#report-items"); !strings.Contains(items, "fb:1001") || !strings.Contains(items, "fb:1002") {
		t.Fatalf("items %q", items)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`)); err != nil || n != 0 {
		t.Fatalf("page has %d scripts (%v)", n, err)
	}
}

// A patterns file that does not parse stops serve before it takes a
// request, naming the line; nothing is created.
func TestServeRefusesBadItemURLs(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	bad := writeFile(t, filepath.Join(dir, "urls.txt"), "fb https://www.facebook.example/photo/{id}\nig https://www.instagram.example/p/\n")
	for _, tc := range []struct{ file, want string }{
		{bad, "--item-urls: report: item URLs line 2"},
		{filepath.Join(dir, "missing.txt"), "--item-urls"},
	} {
		code, _, stderr := run(t, dir, nil, "serve", "--init", "--db", db, "--addr", "127.0.0.1:0", "--metrics-addr", "off", "--item-urls", tc.file)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q (want %q)", tc.file, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a store was created: %v", err)
	}
}
