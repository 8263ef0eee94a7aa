package console

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/notrain/notrain/internal/operator"
)

// With JavaScript off, an admin disables and resets a reviewer on the
// operators page, asks for the evidence of a reference the ledger does not
// know and is told so on the form, and sees an objection's case page
// without decision buttons but with the reason.
func TestBrowserOperatorsEvidenceAndObjectionCase(t *testing.T) {
	ctx := browser(t)
	e := newRealEnv(t, "")
	e.withEvidence(t)
	e.operator(t, "otto", operator.RoleAdmin, false)
	e.operator(t, "rita", operator.RoleReviewer, true)
	obj := e.objectionInReview(t, "anna@example.de")
	base := e.srv.URL
	run(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "Otto"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.ID("series-objections")),
	)
	run(t, ctx, chromedp.Click(chromedp.CSS(`nav a[href="/admin/operators"]`)), chromedp.WaitVisible(chromedp.ID("disable-rita")))
	unlabelled(t, ctx, "operators page")
	run(t, ctx, chromedp.Click(chromedp.ID("disable-rita")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if got := textOf(t, ctx, ".notice"); !strings.Contains(got, "rita is disabled") {
		t.Fatalf("disable notice %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#disable-rita').length`)); n != 0 {
		t.Fatal("a disabled operator still has a Disable button")
	}
	run(t, ctx, chromedp.Click(chromedp.ID("drop-totp-rita")), chromedp.Click(chromedp.ID("reset-rita")), chromedp.WaitVisible(chromedp.ID("setup-link")))
	if link := textOf(t, ctx, "#setup-link"); !strings.HasPrefix(link, "http://console.test/admin/setup/") {
		t.Fatalf("reset link %q", link)
	}
	screenshot(t, ctx, "operators-reset")
	if ops, _ := e.ops.List(t.Context()); len(ops) != 2 || ops[1].Name != "rita" || ops[1].Disabled || ops[1].TOTP {
		t.Fatalf("after reset with the box ticked: %+v", ops)
	}

	run(t, ctx, chromedp.Click(chromedp.CSS(`nav a[href="/admin/evidence"]`)), chromedp.WaitVisible(chromedp.ID("reference")))
	unlabelled(t, ctx, "evidence page")
	run(t, ctx, chromedp.SendKeys(chromedp.ID("reference"), "R-NOSUCHTHING"), chromedp.Submit(chromedp.ID("reference")), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
	if got := textOf(t, ctx, "[role=alert]"); !strings.Contains(got, "No ledger entry names this reference") {
		t.Fatalf("unknown reference: %q", got)
	}
	screenshot(t, ctx, "evidence-unknown")

	run(t, ctx, chromedp.Navigate(base+"/admin/reviews/"+obj), chromedp.WaitVisible(chromedp.ID("not-decidable")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form.decision').length`)); n != 0 {
		t.Fatalf("%d decision forms on an objection's case page", n)
	}
	screenshot(t, ctx, "objection-case")
}
