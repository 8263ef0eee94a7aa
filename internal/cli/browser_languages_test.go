package cli_test

import (
	"context"
	"html"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/testutil/browsertest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/langnav"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// A new user whose browser is set to Polish, Greek or Maltese (no ?lang=,
// no cookie) gets the portal in that language, objects with an account's
// address, receives the code mail in that language over SMTP, enters the
// code and sees the confirmation in that language, its date in the
// language's layout. A missing catalog fails the test: these languages
// must ship.
func TestBrowserObjectionInTheBrowsersLanguage(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, acceptLanguage string }{
		{"pl", "pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7"},
		{"el", "el-GR,el;q=0.9,en;q=0.8"},
		{"mt", "mt-MT,mt;q=0.9,en-GB;q=0.8"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			if !cat.Has(tc.lang) {
				t.Fatalf("no catalog for %s: internal/locale/catalog/%s.json must ship", tc.lang, tc.lang)
			}
			objectInBrowserLanguage(t, cat, tc.lang, tc.acceptLanguage)
		})
	}
}

func objectInBrowserLanguage(t *testing.T, cat *locale.Catalog, lang, acceptLanguage string) {
	ctx := browsertest.StartInLanguage(t, acceptLanguage)
	dir := t.TempDir()
	db := filepath.Join(dir, "n.db")
	if code, _, stderr := run(t, dir, nil, "accounts", "import", writeFile(t, filepath.Join(dir, "a.jsonl"), fixture.Accounts), "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	smtp := smtptest.Start(t)
	base := server(t, nil, "--db", db, "--mail", smtp.URL())
	do(t, ctx, chromedp.Func(noScript), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("email")))

	// The browser's language, not a choice on the page, decided.
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.language`)); err != nil || !strings.HasPrefix(got, lang) {
		t.Logf("navigator.language = %q (%v)", got, err)
	}
	assertPage(t, ctx, cat, lang, cat.T(lang, "object_title"))
	if h1 := text(t, ctx, "h1"); h1 != cat.T(lang, "object_title") {
		t.Fatalf("h1 = %q, want %q", h1, cat.T(lang, "object_title"))
	}
	labelled(t, ctx, "objection form ("+lang+")")
	browsertest.Screenshot(t, ctx, "lang-"+lang+"-form")

	const addr = "anna@example.de"
	seen := len(smtp.Messages())
	asked := time.Now().UTC()
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), addr),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	assertPage(t, ctx, cat, lang, cat.T(lang, "check_title"))

	// The code mail: subject and body from the language's catalog, said
	// to be in it, the expiry in its layout.
	m := nextMail(t, smtp, seen, func(m smtptest.Message) bool { return smtptest.To(addr)(m) && m.Code() != "" })
	code := m.Code()
	if want := cat.T(lang, "mail_code_subject", "code", code); m.Subject != want {
		t.Errorf("subject %q, want %q", m.Subject, want)
	}
	if got := m.Header.Get("Content-Language"); got != lang {
		t.Errorf("Content-Language %q, want %q", got, lang)
	}
	body := strings.ReplaceAll(m.Text, "\r\n", "\n")
	for _, key := range []string{"mail_greeting", "mail_code_intro_objection", "mail_code_line", "mail_code_ignore", "mail_footer"} {
		if want := cat.T(lang, key); !strings.Contains(body, want) {
			t.Errorf("the code mail lacks %s %q:\n%s", key, want, body)
		}
	}
	if !containsAt(body, cat, lang, "mail_code_valid", asked.Add(otp.DefaultTTL), time.Now().UTC().Add(otp.DefaultTTL)) {
		t.Errorf("the code mail does not give the expiry in the %s layout %q:\n%s", lang, cat.T(lang, locale.LayoutKey), body)
	}
	if want := html.EscapeString(cat.T(lang, "mail_code_line")); !strings.Contains(m.HTML, want) || !strings.Contains(m.HTML, `lang="`+lang+`"`) {
		t.Errorf("the HTML part is not in %s:\n%s", lang, m.HTML)
	}

	verified := time.Now().UTC()
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Submit(chromedp.ID("code")),
		chromedp.WaitVisible(chromedp.ID("reference")),
	)
	assertPage(t, ctx, cat, lang, cat.T(lang, "done_objection_title"))
	if h1 := text(t, ctx, "h1"); h1 != cat.T(lang, "done_objection_title") {
		t.Fatalf("confirmation h1 = %q, want %q", h1, cat.T(lang, "done_objection_title"))
	}
	if ref := text(t, ctx, "#reference"); !refRE.MatchString(ref) {
		t.Fatalf("reference %q", ref)
	}
	if panel := text(t, ctx, ".panel"); !containsAt(panel, cat, lang, "done_effective", verified, time.Now().UTC()) {
		t.Errorf("the confirmation does not give the time in the %s layout %q: %q", lang, cat.T(lang, locale.LayoutKey), panel)
	}
	browsertest.Screenshot(t, ctx, "lang-"+lang+"-done")

	// The confirmation mail follows in the same language.
	conf := nextMail(t, smtp, seen, func(m smtptest.Message) bool {
		return smtptest.To(addr)(m) && m.Code() == "" && strings.Contains(m.Text, text(t, ctx, "#reference"))
	})
	if got := conf.Header.Get("Content-Language"); got != lang || !strings.Contains(conf.Subject, text(t, ctx, "#reference")) {
		t.Errorf("confirmation mail: Content-Language %q, subject %q", got, conf.Subject)
	}
}

// assertPage checks the page is in lang: <html lang>, the title from lang's
// catalog, and the language switcher.
func assertPage(t *testing.T, ctx context.Context, cat *locale.Catalog, lang, title string) {
	t.Helper()
	page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := langnav.Check(cat, page, lang); err != nil {
		t.Errorf("%s: %v", title, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if want := title + " – " + cat.T(lang, "app_name"); got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}

// containsAt reports whether s holds key's message with {time} a moment
// from..to in lang's layout (a minute, or the next one if the clock turned).
func containsAt(s string, cat *locale.Catalog, lang, key string, from, to time.Time) bool {
	for at := from.Truncate(time.Minute); !at.After(to); at = at.Add(time.Minute) {
		if strings.Contains(s, cat.T(lang, key, "time", cat.DateTime(lang, at))) {
			return true
		}
	}
	return false
}

// With every catalog present the language list wraps within the page at a
// phone's width and at a desktop's: nothing runs off the side, every
// language can be reached and chosen without JavaScript, on the portal and
// on the console.
func TestBrowserLanguageSwitcherFitsEveryWidth(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	// Greek, Bulgarian and Maltese when their catalogs are here (the test
	// above insists on them), German otherwise.
	pick := func(lang string) string {
		if cat.Has(lang) {
			return lang
		}
		return "de"
	}
	ctx := browser(t)
	base := server(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"))
	do(t, ctx, chromedp.Func(noScript))
	for _, width := range []int64{360, 1280} {
		for _, page := range []struct{ name, path string }{{"portal", "/?lang=" + pick("el")}, {"console", "/admin/login?lang=" + pick("bg")}} {
			do(t, ctx, chromedp.EmulateViewport(width, 800), chromedp.Navigate(base+page.path), chromedp.WaitVisible(chromedp.CSS("nav.langs-nav")))
			overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
			if err != nil || overflow > 0 {
				t.Errorf("%s at %d px: the page is %d px wider than the window (%v)", page.name, width, overflow, err)
			}
			outside, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav.langs-nav a')]
				.filter(a => { const r = a.getBoundingClientRect(); return r.width === 0 || r.left < 0 || r.right > document.documentElement.clientWidth })
				.map(a => a.lang)`))
			if err != nil || len(outside) > 0 {
				t.Errorf("%s at %d px: links hidden or outside the window: %v (%v)", page.name, width, outside, err)
			}
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('nav.langs-nav a').length`))
			if err != nil || n != len(cat.Languages()) {
				t.Errorf("%s at %d px: %d language links, want %d (%v)", page.name, width, n, len(cat.Languages()), err)
			}
			browsertest.Screenshot(t, ctx, "langs-"+page.name+"-"+strconv.FormatInt(width, 10))
		}
	}
	// A keyboard user need not Tab through 24 languages: the first Tab
	// reaches the skip link, and from there the form is a few Tabs away.
	do(t, ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/?lang="+pick("mt")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.KeyEvent(kb.Tab))
	if cls, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`)); err != nil || cls != "skip" {
		t.Fatalf("the first Tab reaches %q, not the skip link (%v)", cls, err)
	}
	do(t, ctx, chromedp.KeyEvent(kb.Enter))
	reached := false
	for range 5 {
		do(t, ctx, chromedp.KeyEvent(kb.Tab))
		active, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id + "|" + (document.activeElement.closest("nav.langs-nav") ? "langs" : "")`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(active, "|langs") {
			t.Fatal("after the skip link, Tab goes through the language list")
		}
		if strings.HasPrefix(active, "email|") {
			reached = true
			break
		}
	}
	if !reached {
		t.Error("the e-mail field is not within 5 Tabs of the skip link")
	}
	// Choosing a language is a plain link: Maltese, English, then
	// Bulgarian, with scripts off.
	for _, lang := range []string{pick("mt"), "en", pick("bg")} {
		do(t, ctx, chromedp.Click(chromedp.CSS(`nav.langs-nav a[hreflang="`+lang+`"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"]`)))
		page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := langnav.Check(cat, page, lang); err != nil {
			t.Errorf("after choosing %s: %v", lang, err)
		}
	}
}
