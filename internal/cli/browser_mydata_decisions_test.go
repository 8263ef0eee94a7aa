package cli_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// "My data" in English with JavaScript off lists the consent the address
// gave and the report it filed, each under its own heading with its
// receipt link; another address's report is not on it.
func TestBrowserMyDataShowsConsentsAndReports(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	pol := writeFile(t, filepath.Join(dir, "consent.yaml"), "mode: consent\n")
	urls := writeFile(t, filepath.Join(dir, "item-urls.txt"), "fb https://www.facebook.example/photo/{id}\n")
	base := server(t, nil, "--demo", "--db", filepath.Join(dir, "n.db"), "--policy", pol, "--item-urls", urls)
	codes := map[string]int{}
	confirm := func(path, addr string, body map[string]any) string {
		t.Helper()
		code, out := postJSON(t, base+path, body)
		if code != http.StatusAccepted {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		c := devCodeAfter(t, base, addr, codes[addr])
		codes[addr]++
		code, out = postJSON(t, base+path+"/verify", map[string]string{"request_id": out["request_id"].(string), "code": c})
		if code != http.StatusOK {
			t.Fatalf("%s verify: %d %v", path, code, out)
		}
		return out["reference"].(string)
	}
	consentRef := confirm("/api/v1/consents", "anna@example.de", map[string]any{"email": "anna@example.de", "scope": "all", "lang": "en"})
	reportRef := confirm("/api/v1/reports", "anna@example.de", map[string]any{"email": "anna@example.de", "items": []string{"fb:1001"}, "relation": "me", "lang": "en"})
	otherRef := confirm("/api/v1/reports", "ben@example.com", map[string]any{"email": "ben@example.com", "items": []string{"fb:4242"}, "relation": "me", "lang": "en"})

	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/me?lang=en"), chromedp.WaitVisible(chromedp.ID("email")))
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), "anna@example.de"),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCodeAfter(t, base, "anna@example.de", codes["anna@example.de"])),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reports")),
	)
	if h := text(t, ctx, "h2#consents"); h != "Consents to training" {
		t.Fatalf("consents heading %q", h)
	}
	if h := text(t, ctx, "h2#reports"); h != "Reports of content that shows you" {
		t.Fatalf("reports heading %q", h)
	}
	page := text(t, ctx, "main")
	for _, want := range []string{consentRef, reportRef, "fb:1001", "in review", "all accounts"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, otherRef) || strings.Contains(page, "fb:4242") {
		t.Fatalf("the page shows another address's report:\n%s", page)
	}
	for _, ref := range []string{consentRef, reportRef} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/me/receipt/`+ref+`"]').length`))
		if err != nil || n != 1 {
			t.Fatalf("receipt links for %s: %d %v", ref, n, err)
		}
	}
}
