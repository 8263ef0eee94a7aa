package console

import (
	"net/url"
	"testing"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/testutil/langnav"
)

// Every console page, for a visitor and for a signed-in operator, is in the
// browser's language and offers every language by its own name; the links
// show the same page in the language chosen.
func TestEveryConsolePageHasTheLanguageSwitcher(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "otto", operator.RoleAdmin, false)
	for _, lang := range e.f.Cat.Languages() {
		hdr := map[string]string{"Accept-Language": lang}
		visitor := e.client(t)
		for _, path := range []string{"/admin/login", "/admin/setup/" + "x"} {
			_, page := visitor.do("GET", path, nil, hdr)
			if _, err := langnav.Check(e.f.Cat, page, lang); err != nil {
				t.Errorf("GET %s in %s: %v", path, lang, err)
			}
		}
		c := e.client(t)
		csrf := c.login("otto", "")
		for _, path := range []string{"/admin", "/admin/reviews", "/admin/reviews/" + e.newer, "/admin/operators", "/admin/evidence", "/admin/no-such-page"} {
			_, page := c.do("GET", path, nil, hdr)
			if _, err := langnav.Check(e.f.Cat, page, lang); err != nil {
				t.Errorf("GET %s in %s: %v", path, lang, err)
			}
		}
		// A page shown in answer to a form: its links lead to a page a GET
		// reaches.
		_, page := c.do("POST", "/admin/reviews/"+e.newer+"/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}}, hdr)
		links, err := langnav.Check(e.f.Cat, page, lang)
		if err != nil {
			t.Fatalf("POST decision in %s: %v", lang, err)
		}
		for _, l := range links {
			resp, page := c.do("GET", l.Href, nil, nil)
			if resp.StatusCode != 200 {
				t.Errorf("in %s, the link to %s (%s): %d", lang, l.Code, l.Href, resp.StatusCode)
				continue
			}
			if _, err := langnav.Check(e.f.Cat, page, l.Code); err != nil {
				t.Errorf("in %s, the link to %s (%s): %v", lang, l.Code, l.Href, err)
			}
		}
	}
}
