package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/objection"
)

// Patterns maps the platform's item URLs to the item ids of its content
// records, and ids back to URLs (the console links each item). The operator
// writes them in a file (serve --item-urls), one line per URL form:
//
//	# prefix  URL with {id} where the id goes
//	fb https://www.facebook.example/photo/{id}
//	fb https://www.facebook.example/posts/{id}
//	ig https://www.instagram.example/p/{id}/
//
// A URL that fits a line becomes the item id PREFIX:ID ("fb:1001"). The
// first line of a prefix is the URL the console shows for its ids. Blank
// lines and lines starting with # are ignored. The scheme (http or https),
// the host's case, a query string and a fragment do not matter unless the
// line's URL has a query itself.
type Patterns struct {
	rules []rule
}

type rule struct {
	prefix   string
	template string // as written, for id → URL
	before   string // host+path before {id}, host in lower case
	after    string // what follows {id}
	query    bool   // the template's URL has a query: the input's is kept
}

// MaxItemID is the longest item id accepted, in bytes.
const MaxItemID = 200

// maxPatterns bounds the file: it is read once at start.
const maxPatterns = 1000

// ParsePatterns reads a patterns file.
func ParsePatterns(r io.Reader) (*Patterns, error) {
	p := &Patterns{}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("report: item URLs: %w", err)
		}
		if len(line) > 4096 {
			return nil, fmt.Errorf("report: item URLs line %d: longer than 4096 bytes", n)
		}
		if text := strings.TrimSpace(line); text != "" && !strings.HasPrefix(text, "#") {
			ru, perr := parseRule(text)
			if perr != nil {
				return nil, fmt.Errorf("report: item URLs line %d: %w", n, perr)
			}
			if len(p.rules) == maxPatterns {
				return nil, fmt.Errorf("report: item URLs: more than %d lines", maxPatterns)
			}
			p.rules = append(p.rules, ru)
		}
		if errors.Is(err, io.EOF) {
			return p, nil
		}
	}
}

// LoadPatterns reads a patterns file from disk; "" is no patterns (item
// ids only).
func LoadPatterns(path string) (*Patterns, error) {
	if path == "" {
		return &Patterns{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: item URLs: %w", err)
	}
	defer f.Close()
	return ParsePatterns(f)
}

func parseRule(text string) (rule, error) {
	fields := strings.Fields(text)
	if len(fields) != 2 {
		return rule{}, errors.New(`want "PREFIX URL", e.g. "fb https://www.facebook.example/photo/{id}"`)
	}
	prefix, tmpl := fields[0], fields[1]
	if !validPrefix(prefix) {
		return rule{}, fmt.Errorf("prefix %q: use 1 to 32 letters, digits, - or _", prefix)
	}
	if strings.Count(tmpl, "{id}") != 1 {
		return rule{}, fmt.Errorf("URL %q must hold {id} exactly once", tmpl)
	}
	// The template is read as its URLs will be (ID compares escaped
	// paths), with a marker where the id goes.
	const marker = "NOTRAINIDMARKER0"
	u, err := url.Parse(strings.Replace(tmpl, "{id}", marker, 1))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return rule{}, fmt.Errorf("URL %q is not an http(s) URL with a host and no fragment", tmpl)
	}
	if strings.Contains(u.Host, marker) {
		return rule{}, fmt.Errorf("URL %q: {id} must be in the path or the query, not the host", tmpl)
	}
	norm := strings.ToLower(u.Host) + u.EscapedPath()
	if u.RawQuery != "" {
		norm += "?" + u.RawQuery
	}
	before, after, ok := strings.Cut(norm, marker)
	if !ok || strings.Contains(after, marker) {
		return rule{}, fmt.Errorf("URL %q: {id} must be in the path or the query", tmpl)
	}
	return rule{prefix: prefix, template: tmpl, before: before, after: after, query: u.RawQuery != ""}, nil
}

func validPrefix(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// idPart reports whether s can be the {id} of a URL: URL-unreserved
// characters only, so no URL holds two ids or a path where the id goes,
// and no dot segment.
func idPart(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > MaxItemID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

// ID maps a URL to the item id it shows; false when no line fits it.
func (p *Patterns) ID(raw string) (string, bool) {
	if p == nil {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", false
	}
	path := u.EscapedPath()
	for _, ru := range p.rules {
		s := strings.ToLower(u.Host) + path
		if ru.query && u.RawQuery != "" {
			s += "?" + u.RawQuery
		}
		after := ru.after
		if !ru.query {
			// With or without a trailing slash it is the same page.
			s, after = strings.TrimSuffix(s, "/"), strings.TrimSuffix(after, "/")
		}
		if !strings.HasPrefix(s, ru.before) || !strings.HasSuffix(s[len(ru.before):], after) {
			continue
		}
		id := s[len(ru.before) : len(s)-len(after)]
		if idPart(id) && len(ru.prefix)+1+len(id) <= MaxItemID {
			return ru.prefix + ":" + id, true
		}
	}
	return "", false
}

// URL is the platform's page of an item id, "" when no line maps its prefix.
func (p *Patterns) URL(id string) string {
	if p == nil {
		return ""
	}
	prefix, rest, ok := strings.Cut(id, ":")
	if !ok || !idPart(rest) {
		return ""
	}
	for _, ru := range p.rules {
		if ru.prefix == prefix {
			return strings.Replace(ru.template, "{id}", rest, 1)
		}
	}
	return ""
}

// Len is the number of URL forms.
func (p *Patterns) Len() int {
	if p == nil {
		return 0
	}
	return len(p.rules)
}

// looksLikeURL tells a URL (to be mapped) from an item id (taken as it is).
func looksLikeURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "www.") ||
		strings.HasPrefix(l, "//") || strings.Contains(l, "://")
}

// validID reports whether s can be an item id of a content record: valid
// UTF-8 of visible characters only (no spaces, control or invisible format
// characters such as U+200B or U+202E, which would store an id no record
// has while a reviewer sees another), at most MaxItemID bytes, and, when it
// has a "prefix:", something on both sides of the colon.
func validID(s string) bool {
	if s == "" || len(s) > MaxItemID || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return false
		}
	}
	if prefix, rest, ok := strings.Cut(s, ":"); ok && (prefix == "" || rest == "") {
		return false
	}
	return true
}

// ParseItems turns what a person entered (item ids or URLs, surrounding
// space ignored, empty entries skipped) into item ids, in the order given
// with duplicates collapsed. A URL no pattern maps is refused
// (item_url_unknown), not guessed at: an unmapped item would be excluded
// from nothing.
func (p *Patterns) ParseItems(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, raw := range in {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		id := s
		if looksLikeURL(s) {
			if strings.HasPrefix(strings.ToLower(s), "www.") {
				s = "https://" + s
			}
			var ok bool
			if id, ok = p.ID(s); !ok {
				return nil, &objection.Error{Code: CodeItemURLUnknown, Field: "items"}
			}
		} else if !validID(s) {
			return nil, &objection.Error{Code: CodeItemInvalid, Field: "items"}
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
		if len(out) > MaxItems {
			return nil, &objection.Error{Code: CodeItemsTooMany, Field: "items"}
		}
	}
	if len(out) == 0 {
		return nil, &objection.Error{Code: CodeItemsRequired, Field: "items"}
	}
	return out, nil
}
