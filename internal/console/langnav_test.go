package console

import (
	"html"
	"net/url"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/testutil/langnav"
)

// Every console page, for a visitor and for a signed-in operator, is in the
// browser's language and offers every language by its own name; the links
// show the same page in the language chosen.
func TestEveryConsolePageHasTheLanguageSwitcher(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "otto", operator.RoleAdmin, false)
	visitor, c := e.client(t), e.client(t)
	csrf := c.login("otto", "")
	// Accept-Language only: no link is followed until the end, so no
	// language cookie decides instead.
	for _, lang := range e.f.Cat.Languages() {
		hdr := map[string]string{"Accept-Language": lang}
		for _, path := range []string{"/admin/login", "/admin/setup/x"} {
			_, page := visitor.do("GET", path, nil, hdr)
			if _, err := langnav.Check(e.f.Cat, page, lang); err != nil {
				t.Errorf("GET %s in %s: %v", path, lang, err)
			}
		}
		for _, path := range []string{"/admin", "/admin/reviews", "/admin/reviews/" + e.newer, "/admin/operators", "/admin/evidence", "/admin/no-such-page"} {
			_, page := c.do("GET", path, nil, hdr)
			if _, err := langnav.Check(e.f.Cat, page, lang); err != nil {
				t.Errorf("GET %s in %s: %v", path, lang, err)
			}
		}
	}
	// A page shown in answer to a form: its links lead to a page a GET
	// reaches, in the language chosen.
	_, page := c.do("POST", "/admin/reviews/"+e.newer+"/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}}, map[string]string{"Accept-Language": "en"})
	links, err := langnav.Check(e.f.Cat, page, "en")
	if err != nil {
		t.Fatalf("POST decision: %v", err)
	}
	for _, l := range links {
		resp, page := c.do("GET", l.Href, nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("the link to %s (%s): %d", l.Code, l.Href, resp.StatusCode)
			continue
		}
		if _, err := langnav.Check(e.f.Cat, page, l.Code); err != nil {
			t.Errorf("the link to %s (%s): %v", l.Code, l.Href, err)
		}
	}
}

// What a person wrote in Greek, Bulgarian or Maltese reaches the review
// page exactly, escaped and nothing cut, on a page in any language.
func TestReportTextInAnyScriptReachesTheCasePage(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "otto", operator.RoleAdmin, false)
	c := e.client(t)
	c.login("otto", "")
	for _, tc := range []struct{ description, account string }{
		{"Είμαι εγώ στη φωτογραφία, αριστερά. Ο γιος μου «Νίκος» <b>&</b> δεν έδωσε συγκατάθεση.", "νίκος.π"},
		{"Това съм аз на снимката — моля, изтрийте я. Ъгъл, щъркел, юни.", "иван_петров"},
		{"Jien dak fir-ritratt; ħ ġ ż ċ Ħ Ġ Ż Ċ — ma tajtx il-kunsens tiegħi.", "ġużeppi.ħ"},
	} {
		ref := e.file(t, report.Input{Email: "someone@example.org", Items: []string{"fb:3001"}, Relation: report.RelationMe,
			Description: tc.description, Account: tc.account, Lang: "en"})
		for _, lang := range []string{"en", "bg", "mt"} {
			if !e.f.Cat.Has(lang) {
				continue
			}
			_, page := c.do("GET", "/admin/reviews/"+ref+"?lang="+lang, nil, nil)
			for _, want := range []string{html.EscapeString(tc.description), html.EscapeString(tc.account)} {
				if !strings.Contains(page, want) {
					t.Errorf("%s page of %s lacks %q", lang, ref, want)
				}
			}
		}
	}
}
