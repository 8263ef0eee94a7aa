package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/chromedp/chromedp/kb"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/testutil/browsertest"
)

// browser starts headless Chromium (see browsertest.Start).
func browser(t *testing.T) context.Context { return browsertest.Start(t) }

// devCode reads the newest code mailed to addr from the dev mailbox.
func devCode(t *testing.T, base, addr string) string {
	t.Helper()
	re := regexp.MustCompile(`\b(\d{6})\b`)
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
			if strings.EqualFold(m.To, addr) && m.Kind == "code" {
				return re.FindStringSubmatch(m.Text)[1]
			}
		}
	}
	t.Fatalf("no code for %s in the dev mailbox", addr)
	return ""
}

// labelled checks that every form control on the page has a label.
func labelled(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
		.filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(unlabelled) > 0 {
		t.Errorf("%s: controls without a label: %v", page, unlabelled)
	}
}

var refRE = regexp.MustCompile(`^NTW?-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$`)

// noScript switches JavaScript off in the tab, as a person may have it.
func noScript(ctx context.Context, t *chromedp.Target) error {
	_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
}

// text reads an element's visible text.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// German form with JavaScript switched off: object, read the code from the
// dev mailbox, confirm, see the reference; then withdraw the same way.
func TestBrowserGermanObjectionAndWithdrawalWithoutJavaScript(t *testing.T) {
	ctx := browser(t)
	base := server(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"))
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/?lang=de"), chromedp.WaitVisible(chromedp.ID("email")))
	if h1 := text(t, ctx, "h1"); h1 != "Widerspruch gegen KI-Training" {
		t.Fatalf("h1 = %q", h1)
	}
	// The portal ships no script at all; the flow below runs with scripts off.
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`)); err != nil || n != 0 {
		t.Fatalf("page has %d scripts (%v)", n, err)
	}
	labelled(t, ctx, "objection form")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), "anna@example.de"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	if h1 := text(t, ctx, "h1"); h1 != "Bitte sehen Sie in Ihr Postfach" {
		t.Fatalf("check page h1 = %q", h1)
	}
	labelled(t, ctx, "check page")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCode(t, base, "anna@example.de")),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	ref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1")
	if !refRE.MatchString(ref) || !strings.HasPrefix(ref, "NT-") || h1 != "Ihr Widerspruch ist wirksam" {
		t.Fatalf("confirmation: h1 %q, reference %q", h1, ref)
	}
	accounts := text(t, ctx, "main ul")
	for _, want := range []string{"Facebook (anna.schmidt)", "Instagram (anna.s)", "Threads (anna.s)"} {
		if !strings.Contains(accounts, want) {
			t.Errorf("confirmation lacks %q: %q", want, accounts)
		}
	}

	// Withdraw, as easily.
	do(t, ctx,
		chromedp.Navigate(base+"/withdraw"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "ANNA@example.de"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), devCode(t, base, "ANNA@example.de")),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	wref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1")
	if !strings.HasPrefix(wref, "NTW-") || h1 != "Ihr Widerspruch ist zurückgenommen" {
		t.Fatalf("withdrawal: h1 %q, reference %q", h1, wref)
	}
	if body := text(t, ctx, "main"); !strings.Contains(body, "1 Widerspruch wurde beendet") {
		t.Fatalf("withdrawal page: %s", body)
	}
}

// English, keyboard only: Tab to the field, type, Enter to submit.
func TestBrowserEnglishByKeyboardOnly(t *testing.T) {
	ctx := browser(t)
	base := server(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"))
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	tabTo := func(id string) {
		t.Helper()
		// Past the skip link and a link for each language.
		for range 15 + len(cat.Languages()) {
			do(t, ctx, chromedp.KeyEvent(kb.Tab))
			active, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
			if err != nil {
				t.Fatal(err)
			}
			if active == id {
				return
			}
		}
		t.Fatalf("#%s cannot be reached with Tab", id)
	}
	do(t, ctx, chromedp.Navigate(base+"/?lang=en"), chromedp.WaitVisible(chromedp.ID("email")))
	tabTo("email")
	do(t, ctx, chromedp.KeyEvent("ben@example.com"), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("code")))
	if h1 := text(t, ctx, "h1"); h1 != "Check your mail" {
		t.Fatalf("h1 = %q", h1)
	}
	tabTo("code")
	do(t, ctx, chromedp.KeyEvent(devCode(t, base, "ben@example.com")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("reference")))
	if ref, h1 := text(t, ctx, "#reference"), text(t, ctx, "h1"); !refRE.MatchString(ref) || h1 != "Your objection is in force" {
		t.Fatalf("confirmation: %q %q", h1, ref)
	}
}
