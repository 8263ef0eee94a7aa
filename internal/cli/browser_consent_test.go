package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// In consent mode, with JavaScript off: give consent for Instagram only
// in the browser, see the reference and what consent means, then withdraw
// it in German.
func TestBrowserConsentWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	pol := writeFile(t, filepath.Join(dir, "consent.yaml"), "mode: consent\n")
	base := server(t, nil, "--demo", "--db", filepath.Join(dir, "n.db"), "--policy", pol)
	// NOTRAIN_SCREENSHOTS names a folder for pictures of the pages, for a
	// person to look at.
	shots := os.Getenv("NOTRAIN_SCREENSHOTS")
	shoot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/consent?lang=en"), chromedp.WaitVisible(chromedp.ID("email")))
	if h1 := text(t, ctx, "h1"); h1 != "Give consent to AI training" {
		t.Fatalf("h1 = %q", h1)
	}
	if body := text(t, ctx, "main"); !strings.Contains(body, "What your consent means") || !strings.Contains(body, "withdraw your consent at any time") {
		t.Fatalf("the form does not explain consent: %s", body)
	}
	if lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); err != nil || lang != "en" {
		t.Fatalf("lang %q %v", lang, err)
	}
	labelled(t, ctx, "consent form")
	shoot("consent-form")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), "anna@example.de"),
		chromedp.Click(chromedp.ID("scope-some")),
		chromedp.Click(chromedp.ID("product-instagram")),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	labelled(t, ctx, "consent check page")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCode(t, base, "anna@example.de")),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	shoot("consent-done")
	ref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1")
	if !regexp.MustCompile(`^NTC-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$`).MatchString(ref) || h1 != "Your consent is recorded" {
		t.Fatalf("confirmation: h1 %q, reference %q", h1, ref)
	}
	if accounts := text(t, ctx, "main ul"); accounts != "Instagram (anna.s)" {
		t.Fatalf("accounts: %q", accounts)
	}

	do(t, ctx,
		chromedp.Navigate(base+"/consent/withdraw?lang=de"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "anna@example.de"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCode(t, base, "anna@example.de")),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	shoot("consent-withdrawn")
	if wref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1"); !strings.HasPrefix(wref, "NTCW-") || h1 != "Ihre Einwilligung ist widerrufen" {
		t.Fatalf("withdrawal: h1 %q, reference %q", h1, wref)
	}
	if body := text(t, ctx, "main"); !strings.Contains(body, "1 Einwilligung wurde beendet") {
		t.Fatalf("withdrawal page: %s", body)
	}
}
