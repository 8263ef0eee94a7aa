// Package locale holds notrain's translations. Every language must have
// exactly the same keys; Load fails otherwise, so a missing translation
// stops the server at start instead of showing a person a raw key.
package locale

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	// Refuses a key given twice (encoding/json keeps the last one silently).
	"github.com/go-json-experiment/json"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed catalog/*.json
var files embed.FS

// Default is the language used when nothing else decides.
const Default = "en"

// Catalog maps language → key → message.
type Catalog struct {
	msgs    map[string]map[string]string
	langs   []string
	matcher language.Matcher
	matched []string // the matcher's languages, in its order
	// printers format numbers by each language's rules (CLDR, through
	// x/text); a Printer is safe for concurrent use.
	printers map[string]*message.Printer
}

// Load reads the embedded catalogs and checks that they agree.
func Load() (*Catalog, error) { return LoadFS(files) }

// LoadFS reads catalogs from fsys (catalog/LANG.json) and checks them as Load
// does; it lets a deployment's or a test's catalogs go through the same checks.
func LoadFS(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "catalog/*.json")
	if err != nil {
		return nil, fmt.Errorf("locale: %w", err)
	}
	c := &Catalog{msgs: map[string]map[string]string{}, printers: map[string]*message.Printer{}}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("locale: %s: %w", n, err)
		}
		lang := strings.TrimSuffix(path.Base(n), ".json")
		for k, v := range m {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("locale: %s: key %q is empty", n, k)
			}
		}
		if err := checkReview(lang, m[ReviewKey]); err != nil {
			return nil, fmt.Errorf("locale: %s: %w", n, err)
		}
		if err := checkLayout(m[LayoutKey]); err != nil {
			return nil, fmt.Errorf("locale: %s: %w", n, err)
		}
		c.msgs[lang] = m
		c.langs = append(c.langs, lang)
		c.printers[lang] = message.NewPrinter(language.Make(lang))
	}
	if _, ok := c.msgs[Default]; !ok {
		return nil, fmt.Errorf("locale: no catalog for the default language %q", Default)
	}
	slices.Sort(c.langs)
	for _, l := range c.langs {
		for k := range c.msgs[Default] {
			if _, ok := c.msgs[l][k]; !ok {
				return nil, fmt.Errorf("locale: %s lacks key %q", l, k)
			}
		}
		for k := range c.msgs[l] {
			if _, ok := c.msgs[Default][k]; !ok {
				return nil, fmt.Errorf("locale: %s has key %q that %s lacks", l, k, Default)
			}
		}
		// Placeholders must agree too, or a translation silently drops a value.
		for k, v := range c.msgs[l] {
			if !slices.Equal(placeholders(v), placeholders(c.msgs[Default][k])) {
				return nil, fmt.Errorf("locale: %s key %q has placeholders %v, %s has %v", l, k, placeholders(v), Default, placeholders(c.msgs[Default][k]))
			}
		}
	}
	// The default first: the matcher falls back to its first tag.
	c.matched = []string{Default}
	for _, l := range c.langs {
		if l != Default {
			c.matched = append(c.matched, l)
		}
	}
	tags := make([]language.Tag, len(c.matched))
	for i, l := range c.matched {
		tags[i] = language.Make(l)
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

func placeholders(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		out = append(out, s[i+1:i+j])
		s = s[i+j+1:]
	}
	slices.Sort(out)
	return out
}

// Languages lists the available languages, sorted.
func (c *Catalog) Languages() []string { return c.langs }

// Has reports whether lang is available.
func (c *Catalog) Has(lang string) bool { _, ok := c.msgs[lang]; return ok }

// HasKey reports whether key exists (in every language, as Load ensures).
func (c *Catalog) HasKey(key string) bool { _, ok := c.msgs[Default][key]; return ok }

// Check reports every key that lacks a message, naming the key and the
// languages without it. Whoever shows messages checks every key it can use
// once, at start (templates' keys, error codes' "err_" keys, titles), so a
// missing translation stops the server instead of reaching a person.
func (c *Catalog) Check(keys ...string) error {
	var errs []error
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		var missing []string
		for _, l := range c.langs {
			if _, ok := c.msgs[l][k]; !ok {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("locale: key %q has no message in %s", k, strings.Join(missing, ", ")))
		}
	}
	return errors.Join(errs...)
}

// T returns the message for key in lang with {name} placeholders replaced
// from kv, given as name, value pairs. An unknown key cannot reach T: every
// key a page or mail can use passed Check at start (see Check), and Load
// makes every language have the same keys. Were one to slip through, T
// would return the key itself rather than an empty string.
func (c *Catalog) T(lang, key string, kv ...any) string {
	m, ok := c.msgs[lang]
	if !ok {
		m = c.msgs[Default]
	}
	s, ok := m[key]
	if !ok {
		return key
	}
	for i := 0; i+1 < len(kv); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(kv[i])+"}", fmt.Sprint(kv[i+1]))
	}
	return s
}

// Match picks the best available language for an Accept-Language header:
// the language ranges in order of their quality values (RFC 9110 12.5.4),
// the first one whose language is available (de-AT → de) wins; failing
// that, the first one a related language serves well by CLDR's matching
// (nb → da, mk → bg); otherwise the default. So "nb, en;q=0.9" is English,
// the person's own second choice, and "nb" alone Danish. A range that does
// not parse is passed over, not the whole header, so "xx, fr;q=0.5" still
// finds French.
func (c *Catalog) Match(acceptLanguage string) string {
	tags := parseAcceptLanguage(acceptLanguage)
	for _, related := range []bool{false, true} {
		for _, tag := range tags {
			_, idx, conf := c.matcher.Match(tag)
			if conf < language.High {
				continue
			}
			if base, _ := tag.Base(); related || base.String() == c.matched[idx] {
				return c.matched[idx]
			}
		}
	}
	return Default
}

// Bounds of what Match reads: browsers send a few ranges in a few dozen
// bytes; anything far beyond is not a person's browser, and gets the default.
const (
	maxAcceptLanguage = 4096
	maxLanguageRanges = 32
)

// parseAcceptLanguage returns the header's language ranges, best first; "*"
// and ranges with q=0 are left out (neither names a language to show).
// Not language.ParseAcceptLanguage: one range it cannot read makes it
// return nothing for the whole header, so "pl-PL, en;q=abc" would fall
// back to English instead of Polish; here a bad range is skipped alone.
func parseAcceptLanguage(h string) []language.Tag {
	if len(h) > maxAcceptLanguage {
		return nil
	}
	type weighted struct {
		tag language.Tag
		q   float64
	}
	var ranges []weighted
	for i, part := range strings.Split(h, ",") {
		if i == maxLanguageRanges {
			break
		}
		rng, params, _ := strings.Cut(part, ";")
		rng = strings.TrimSpace(rng)
		if rng == "" || rng == "*" {
			continue
		}
		q, ok := quality(params)
		if !ok || q == 0 {
			continue
		}
		tag, err := language.Parse(rng)
		if err != nil {
			continue
		}
		ranges = append(ranges, weighted{tag, q})
	}
	// Stable: ranges of equal quality keep the browser's order.
	slices.SortStableFunc(ranges, func(a, b weighted) int { return cmp.Compare(b.q, a.q) })
	tags := make([]language.Tag, len(ranges))
	for i, r := range ranges {
		tags[i] = r.tag
	}
	return tags
}

// quality reads a range's parameters ("q=0.8"); no q means 1. A q that is
// not a number from 0 to 1 makes the range unusable.
func quality(params string) (float64, bool) {
	q := 1.0
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return 0, false
		}
		q = v
	}
	return q, true
}
