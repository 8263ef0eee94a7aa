package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/testutil/langnav"
	"github.com/notrain/notrain/internal/web"
)

// Every page, including error pages and pages shown in answer to a form,
// is in the language the browser asks for and offers every language by its
// own name; each of its links shows the same page in that language.
func TestEveryPageHasTheLanguageSwitcher(t *testing.T) {
	plain := newEnv(t, web.Config{})
	rep, _ := reportEnv(t)
	con := newConsentEnv(t)
	big := "email=anna%40example.de&reason=" + strings.Repeat("x", web.MaxBody)
	for _, tc := range []struct {
		e            *env
		method, path string
		form         string
		status       int
	}{
		{plain, "GET", "/", "", 200},
		{plain, "GET", "/withdraw", "", 200},
		{plain, "GET", "/me", "", 200},
		{plain, "GET", "/no-such-page", "", 404},
		{plain, "GET", "/objection/" + strings.Repeat("a", 32), "", 404},
		{plain, "POST", "/objection", "email=o-LANG%40example.org&scope=all", 200},
		{plain, "POST", "/objection", "email=not-an-address&scope=all", 400},
		{plain, "POST", "/withdrawal", "email=w-LANG%40example.org", 200},
		{plain, "POST", "/access", "email=a-LANG%40example.org", 200},
		{plain, "POST", "/objection", big, 413},
		{rep, "GET", "/report", "", 200},
		{rep, "GET", "/report?follows=R-0000-0000-0000", "", 200},
		{con, "GET", "/consent", "", 200},
		{con, "GET", "/consent/withdraw", "", 200},
	} {
		for _, lang := range tc.e.Cat.Languages() {
			// A new address for each language: each request's first code.
			page, status := fetch(t, tc.e.URL, tc.method, tc.path, strings.ReplaceAll(tc.form, "LANG", lang), lang)
			if status != tc.status && !(tc.status == 200 && status == 303) {
				t.Errorf("%s %s in %s: status %d, want %d", tc.method, tc.path, lang, status, tc.status)
				continue
			}
			// The review status is for the people who run notrain.
			for _, status := range []string{locale.ReviewMachine, locale.ReviewReviewed} {
				if strings.Contains(page, status) {
					t.Errorf("%s %s in %s shows the review status %q", tc.method, tc.path, lang, status)
				}
			}
			links, err := langnav.Check(tc.e.Cat, page, lang)
			if err != nil {
				t.Errorf("%s %s in %s: %v", tc.method, tc.path, lang, err)
				continue
			}
			// Following a link shows a page in its language, with the
			// same switcher (a GET, whatever the page answered); once per
			// page is enough, from the default language.
			for _, l := range links {
				if l.Current || lang != locale.Default {
					continue
				}
				page, _ := fetch(t, tc.e.URL, "GET", l.Href, "", lang)
				if _, err := langnav.Check(tc.e.Cat, page, l.Code); err != nil {
					t.Errorf("%s %s in %s, link to %s (%s): %v", tc.method, tc.path, lang, l.Code, l.Href, err)
				}
				if tc.method == "GET" && !strings.HasPrefix(l.Href, strings.SplitN(tc.path, "?", 2)[0]+"?") {
					t.Errorf("%s in %s: the link to %s leaves the page: %s", tc.path, lang, l.Code, l.Href)
				}
				if strings.Contains(tc.path, "follows=") && !strings.Contains(l.Href, "follows=") {
					t.Errorf("%s: the link to %s drops the case it follows up: %s", tc.path, l.Code, l.Href)
				}
			}
		}
	}
}

// fetch sends a request with the browser language acceptLanguage (a page
// reached by a redirect is followed) and returns the page and the status.
func fetch(t *testing.T, base, method, path, form, acceptLanguage string) (string, int) {
	t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
	}
	req.Header.Set("Accept-Language", acceptLanguage)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}
