package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Object in the browser, download the receipt from the confirmation page's
// link, and check it with notrain receipt verify; one flipped byte is
// refused.
func TestBrowserReceiptDownloadVerifies(t *testing.T) {
	ctx := browser(t)
	base := server(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"))
	dir := t.TempDir()
	do(t, ctx,
		chromedp.Navigate(base+"/?lang=en"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "anna@example.de"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCode(t, base, "anna@example.de")),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("receipt")),
	)
	ref := text(t, ctx, "#reference")
	if body := text(t, ctx, "main"); !strings.Contains(body, "Your receipt") || !strings.Contains(body, "notrain receipt verify") {
		t.Fatalf("the confirmation does not explain the receipt: %s", body)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(tctx, cdpbrowser.DownloadProgress)
	on := true
	do(t, ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: &on,
			})
			return err
		}),
		chromedp.Click(chromedp.ID("receipt")),
	)
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the download was cancelled")
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			break
		}
	}
	// The browser names the file from Content-Disposition.
	file := filepath.Join(dir, ref+".tlog-proof")
	b, err := os.ReadFile(file)
	if err != nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("downloaded %v: %v", entries, err)
	}
	code, stdout, stderr := run(t, dir, nil, "receipt", "verify", file, "--log", base)
	if code != 0 || !strings.Contains(stdout, ref) {
		t.Fatalf("receipt verify: exit %d\n%s%s", code, stdout, stderr)
	}
	b[len(b)/2] ^= 0x01
	os.WriteFile(file, b, 0o644)
	if code, stdout, stderr := run(t, dir, nil, "receipt", "verify", file, "--log", base); code == 0 || stderr == "" {
		t.Fatalf("a flipped byte: exit %d\n%s%s", code, stdout, stderr)
	}
}
