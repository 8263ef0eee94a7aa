// Package langnav checks a page's language switcher as a person and a
// screen reader meet it, for the web portal's and the console's tests.
package langnav

import (
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/net/html"

	"github.com/notrain/notrain/internal/locale"
)

// Link is one entry of the switcher.
type Link struct {
	Code, Name, Href string
	Current          bool
}

// Check parses page and verifies that it is in lang (<html lang>) and that
// it has exactly one language switcher: a <nav> labelled with the catalog's
// "language" message in lang, listing every available language by its own
// name, each a link with lang= and hreflang= of its language and a ?lang=
// of its own, the one in lang marked aria-current. It returns the links.
func Check(cat *locale.Catalog, page, lang string) ([]Link, error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("langnav: %w", err)
	}
	var root *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "html" {
			root = n
			break
		}
	}
	if root == nil || attr(root, "lang") != lang {
		return nil, fmt.Errorf("langnav: <html lang=%q>, want %q", attr(root, "lang"), lang)
	}
	label := cat.T(lang, "language")
	var navs []*html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "nav" && attr(n, "aria-label") == label {
			navs = append(navs, n)
		}
	}
	if len(navs) != 1 {
		return nil, fmt.Errorf("langnav: %d <nav aria-label=%q>, want 1", len(navs), label)
	}
	var links []Link
	for n := range navs[0].Descendants() {
		if n.Type != html.ElementNode || n.Data != "a" {
			continue
		}
		l := Link{Code: attr(n, "lang"), Name: text(n), Href: attr(n, "href"), Current: hasAttr(n, "aria-current")}
		if h := attr(n, "hreflang"); h != l.Code {
			return nil, fmt.Errorf("langnav: link %q has lang=%q and hreflang=%q", l.Name, l.Code, h)
		}
		u, err := url.Parse(l.Href)
		if err != nil || u.Query().Get("lang") != l.Code {
			return nil, fmt.Errorf("langnav: link %q for %s goes to %q", l.Name, l.Code, l.Href)
		}
		if l.Current && attr(n, "aria-current") == "false" {
			l.Current = false
		}
		links = append(links, l)
	}
	langs := cat.Languages()
	if len(links) != len(langs) {
		return nil, fmt.Errorf("langnav: %d links, want one for each of %v", len(links), langs)
	}
	for i, l := range links {
		if l.Code != langs[i] {
			return nil, fmt.Errorf("langnav: link %d is for %q, want %q", i, l.Code, langs[i])
		}
		if want := cat.T(l.Code, "lang_name"); l.Name != want {
			return nil, fmt.Errorf("langnav: link for %s says %q, want its own name %q", l.Code, l.Name, want)
		}
		if l.Current != (l.Code == lang) {
			return nil, fmt.Errorf("langnav: link for %s: aria-current is %v on a page in %s", l.Code, l.Current, lang)
		}
	}
	return links, nil
}

func attr(n *html.Node, name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}
