package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/notrain/notrain/internal/testutil/browsertest"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// browser starts headless Chromium (see browsertest.Start).
func browser(t *testing.T) context.Context { return browsertest.Start(t) }

func screenshot(t *testing.T, ctx context.Context, name string) { browsertest.Screenshot(t, ctx, name) }

func noScript(ctx context.Context, t *chromedp.Target) error {
	_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func unlabelled(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
		.filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) > 0 {
		t.Errorf("%s: controls without a label: %v", page, ids)
	}
}

// An admin is set up through the one-time link with a second factor (the
// TOTP secret read off the page), logs in with password and code, sees the
// dashboard's SVG charts with their tables, the queue oldest first, and
// approves a case — all with JavaScript switched off.
func TestBrowserSetupLoginQueueDashboard(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, "")
	// The browser's clock is real; so is the console's here, for TOTP.
	e.f.Clock.Advance(time.Since(e.f.Clock.Now()))
	// Some objections over the last days, through the real service, so the
	// charts have bars to draw.
	e.f.Import(t, fixture.Accounts)
	e.f.Clock.Advance(-3 * 24 * time.Hour)
	for day := range 3 {
		for _, a := range []string{"anna@example.de", "ben@example.com", "carl@example.net"}[:day+1] {
			st, err := e.f.Svc.Start(t.Context(), objection.StartInput{Flow: objection.FlowObjection, Email: a, Scope: objection.AllAccounts, Lang: "en", Channel: "web"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.f.Svc.Verify(t.Context(), objection.FlowObjection, st.RequestID, e.f.CodeFor(t, st.RequestID)); err != nil {
				t.Fatal(err)
			}
		}
		e.f.Clock.Advance(24 * time.Hour)
	}
	e.f.Clock.Advance(time.Since(e.f.Clock.Now()))
	tok, err := e.ops.Add(t.Context(), "otto", operator.RoleAdmin, "cli")
	if err != nil {
		t.Fatal(err)
	}
	base := e.srv.URL
	run(t, ctx, chromedp.Func(noScript), chromedp.Navigate(operator.SetupLink(base, tok)), chromedp.WaitVisible(chromedp.ID("password")))
	if lang, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang == "" {
		t.Error("no lang attribute")
	}
	unlabelled(t, ctx, "set-up page")
	secret := textOf(t, ctx, "#totp-secret")
	if !strings.HasPrefix(textOf(t, ctx, "#totp-url"), "otpauth://totp/") {
		t.Fatal("no otpauth URL on the set-up page")
	}
	code, err := operator.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), testPassword),
		chromedp.SendKeys(chromedp.ID("totp_code"), code),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("name")),
	)
	if h1 := textOf(t, ctx, "h1"); h1 != "Log in" {
		t.Fatalf("after set-up: h1 %q", h1)
	}
	unlabelled(t, ctx, "login page")
	// The set-up code was used at set-up; the login needs a later step's
	// (the console's clock moves on instead of the test waiting).
	e.f.Clock.Advance(30 * time.Second)
	code, _ = operator.TOTPCode(secret, e.f.Clock.Now())
	run(t, ctx,
		chromedp.SendKeys(chromedp.ID("name"), "otto"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.ID("series-objections")),
	)
	if h1 := textOf(t, ctx, "h1"); h1 != "Dashboard" {
		t.Fatalf("after login: h1 %q", h1)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('svg[role=img] > title').length`))
	if err != nil || n < 8 {
		t.Fatalf("%d titled SVG charts (%v)", n, err)
	}
	if rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('section.chart table tbody tr').length`)); rows < 14*7 {
		t.Fatalf("%d table rows beside the charts", rows)
	}
	// The objections chart's table says what its bars show: 1, 2 and 3 on
	// the last three days before today.
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#series-objections-title ~ div table td')].map(td => td.textContent)`))
	if err != nil || len(cells) != 14 || strings.Join(cells[10:], ",") != "1,2,3,0" {
		t.Fatalf("objections per day in the table: %v (%v)", cells, err)
	}
	if bars, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#series-objections rect')].filter(r => r.getAttribute('height') > 0).length`)); bars != 3 {
		t.Fatalf("%d drawn bars in the objections chart, want 3", bars)
	}
	if s, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`)); s != 0 {
		t.Fatal("the console has scripts")
	}
	screenshot(t, ctx, "dashboard")
	run(t, ctx, chromedp.Click(chromedp.CSS(`nav a[href="/admin/reviews"]`)), chromedp.WaitVisible(chromedp.ID("queue")))
	first := textOf(t, ctx, "#queue tbody tr:first-child th")
	if first != e.older || !strings.Contains(textOf(t, ctx, "#queue tbody tr:first-child"), "overdue") {
		t.Fatalf("queue's first row %q", first)
	}
	screenshot(t, ctx, "queue")
	run(t, ctx, chromedp.Click(chromedp.CSS(`#queue a[href="/admin/reviews/`+e.older+`"]`)), chromedp.WaitVisible(chromedp.ID("approve")))
	screenshot(t, ctx, "case")
	unlabelled(t, ctx, "case page")
	run(t, ctx, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if got := textOf(t, ctx, ".notice"); !strings.Contains(got, e.older) {
		t.Fatalf("notice %q", got)
	}
	if d := e.decisions(t); len(d) != 1 || !strings.Contains(d[0], `"reference":"`+e.older+`"`) || !strings.Contains(d[0], `"operator":"`+e.f.Keys.OperatorPseudonym("otto")+`"`) {
		t.Fatalf("decisions %v", d)
	}
}
