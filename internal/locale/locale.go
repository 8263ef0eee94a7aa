// Package locale holds notrain's translations. Every language must have
// exactly the same keys; Load fails otherwise, so a missing translation
// stops the server at start instead of showing a person a raw key.
package locale

import (
	"embed"
	// Refuses a key given twice (encoding/json keeps the last one silently).
	"errors"
	"fmt"
	"github.com/go-json-experiment/json"
	"io/fs"
	"path"
	"slices"
	"strings"

	"golang.org/x/text/language"
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
	c := &Catalog{msgs: map[string]map[string]string{}}
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
		c.msgs[lang] = m
		c.langs = append(c.langs, lang)
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
	tags := []language.Tag{language.Make(Default)}
	for _, l := range c.langs {
		if l != Default {
			tags = append(tags, language.Make(l))
		}
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

// Match picks the best available language for an Accept-Language header.
func (c *Catalog) Match(acceptLanguage string) string {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Default
	}
	_, idx, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Default
	}
	if idx == 0 {
		return Default
	}
	others := slices.DeleteFunc(slices.Clone(c.langs), func(l string) bool { return l == Default })
	return others[idx-1]
}
