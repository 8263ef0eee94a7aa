// Package browsertest starts the headless Chromium the browser tests drive
// and keeps pictures of the pages for a person to look at.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Start starts headless Chromium ($NOTRAIN_CHROMIUM, else the first of
// chromium, chromium-browser, google-chrome on the PATH). Without one, the
// test skips locally and fails where NOTRAIN_REQUIRE_BROWSER=1 (CI), so CI
// cannot pass silently.
func Start(t *testing.T) context.Context {
	t.Helper()
	return start(t, "")
}

// StartInLanguage is Start for a person whose browser is set to the
// languages acceptLanguage names ("pl-PL,pl;q=0.9"): Chromium sends them as
// Accept-Language with every request, as it does for its language setting.
func StartInLanguage(t *testing.T, acceptLanguage string) context.Context {
	t.Helper()
	return start(t, acceptLanguage)
}

func start(t *testing.T, acceptLanguage string) context.Context {
	t.Helper()
	path := os.Getenv("NOTRAIN_CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("NOTRAIN_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found and NOTRAIN_REQUIRE_BROWSER=1: run .ci/setup or apt-get install chromium")
		}
		t.Skip("no Chromium found: install it (apt-get install chromium) to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	if acceptLanguage != "" {
		opts = append(opts, chromedp.Flag("accept-lang", acceptLanguage), chromedp.Flag("lang", strings.SplitN(acceptLanguage, ",", 2)[0]))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// Screenshot saves the page as NAME.png in $NOTRAIN_SCREENSHOTS, when set.
func Screenshot(t *testing.T, ctx context.Context, name string) {
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
