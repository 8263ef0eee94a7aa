package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// "Meine Daten" in German with JavaScript off: enter the address, read the
// code from the mailbox, see the overview (the snapshot built before the
// objection and the model trained on it), download the JSON.
func TestBrowserMyDataWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	dir, db := filterEnv(t)
	if code, out, stderr := run(t, dir, nil, filterArgs(dir, db)...); code != 0 {
		t.Fatalf("filter: %d %s %s", code, out, stderr)
	}
	snap := snapshotID(t, dir)
	if code, _, stderr := run(t, dir, nil, "models", "register", "--db", db, "--name", "sprachmodell-1", "--snapshot", snap); code != 0 {
		t.Fatal(stderr)
	}
	base := server(t, nil, "--db", db)
	code, body := postJSON(t, base+"/api/v1/objections", map[string]string{"email": "anna@example.de", "lang": "de"})
	if code != http.StatusAccepted {
		t.Fatalf("objection: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/api/v1/objections/verify", map[string]string{"request_id": body["request_id"].(string), "code": devCode(t, base, "anna@example.de")})
	if code != http.StatusOK {
		t.Fatalf("objection verify: %d %v", code, body)
	}
	ref := body["reference"].(string)

	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/?lang=de"), chromedp.WaitVisible(chromedp.ID("email")))
	// "My data" is linked from the footer of every page.
	do(t, ctx, chromedp.Click(chromedp.CSS(`footer a[href="/me"]`)), chromedp.WaitVisible(chromedp.ID("email")))
	if h1 := text(t, ctx, "h1"); h1 != "Meine Daten" {
		t.Fatalf("h1 = %q", h1)
	}
	labelled(t, ctx, "my data form")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), "anna@example.de"),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	labelled(t, ctx, "my data check page")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCodeAfter(t, base, "anna@example.de", 1)),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("snapshots")),
	)
	page := text(t, ctx, "main")
	for _, want := range []string{ref, snap, "sprachmodell-1", "Erstellt, bevor Sie widersprochen haben", "wirksam", "u1", "ig1", "th1"} {
		if !strings.Contains(page, want) {
			t.Fatalf("overview lacks %q:\n%s", want, page)
		}
	}
	// The download link saves the same data as the API gives, as a file.
	dlDir := t.TempDir()
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dlDir})
		return err
	}), chromedp.Click(chromedp.CSS(`a[href="/me/data.json"]`)))
	var raw []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && raw == nil; time.Sleep(50 * time.Millisecond) {
		raw, _ = os.ReadFile(filepath.Join(dlDir, "notrain-my-data.json"))
	}
	var data meAnswer
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatalf("download: %v %q", err, raw)
	}
	if len(data.Snapshots) != 1 || data.Snapshots[0].SnapshotID != snap || data.Snapshots[0].ObjectionInForce || len(data.Models) != 1 || data.Objections[0].Reference != ref {
		t.Fatalf("downloaded: %s", raw)
	}
	// Signing out ends it: the page asks for the address again.
	do(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/me/sign-out"] button`)), chromedp.WaitVisible(chromedp.ID("email")))
}
