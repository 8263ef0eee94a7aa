// Package policy reads and checks notrain's versioned policy files: which
// content may go into training data at all, beyond people's objections.
// The built-in default is DESIGN.md's rules.
package policy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/platform"
)

//go:embed default.yaml
var defaultYAML []byte

// Modes.
const (
	ModeObjection = "objection"
	ModeConsent   = "consent"
)

// Choices for unknown authors, unknown birthdates and third parties.
const (
	Exclude = "exclude"
	Include = "include"
	Keep    = "keep"
)

// Rule is an extra named rule: a CEL expression that excludes what it matches.
type Rule struct {
	Name string `yaml:"name" json:"name"`
	Expr string `yaml:"expr" json:"expr"`
}

// Signals says which creators' reservations carried on content are
// honoured (internal/signal); each one honoured excludes under its own
// reason. All default to true.
type Signals struct {
	AIPref bool `yaml:"aipref" json:"aipref"`
	TDMRep bool `yaml:"tdmrep" json:"tdmrep"`
	C2PA   bool `yaml:"c2pa" json:"c2pa"`
}

// Policy is a parsed, checked policy.
type Policy struct {
	Version          int                 `yaml:"version" json:"version"`
	Name             string              `yaml:"name" json:"name"`
	Mode             string              `yaml:"mode" json:"mode"`
	Visibilities     []string            `yaml:"visibilities" json:"visibilities"`
	Kinds            []string            `yaml:"kinds" json:"kinds"`
	Products         []string            `yaml:"products" json:"products"`
	ProductKinds     map[string][]string `yaml:"product_kinds" json:"product_kinds"`
	UnknownAuthor    string              `yaml:"unknown_author" json:"unknown_author"`
	UnknownBirthdate string              `yaml:"unknown_birthdate" json:"unknown_birthdate"`
	MinimumAge       int                 `yaml:"minimum_age" json:"minimum_age"`
	ThirdParty       string              `yaml:"third_party" json:"third_party"`
	ExcludeItems     []string            `yaml:"exclude_items" json:"exclude_items"`
	Signals          Signals             `yaml:"signals" json:"signals"`
	Rules            []Rule              `yaml:"rules" json:"rules"`
	// Digest is the hash the manifest lists every input and output file
	// with: sha256 (the default) or blake3, the faster one when hashing is
	// what limits a filter run. It changes no decision.
	Digest digest.Algorithm `yaml:"digest" json:"digest"`

	// SHA256 is the hash of the file's bytes, as it goes into manifests.
	SHA256 string `yaml:"-" json:"-"`
	// Source names the file, or "built-in default".
	Source string `yaml:"-" json:"-"`
	// Compiled holds the CEL programs of Rules, in order.
	Compiled *Rules `yaml:"-" json:"-"`
}

// Default returns the built-in policy.
func Default() (*Policy, error) { return Parse(defaultYAML, "built-in default") }

// Load reads a policy file; an empty path means the built-in default.
func Load(path string) (*Policy, error) {
	if path == "" {
		return Default()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(b, path)
}

// Parse reads and checks a policy. Fields left out take the default's value;
// unknown fields are errors (a misspelt key must not silently do nothing).
func Parse(b []byte, source string) (*Policy, error) {
	p := &Policy{}
	if err := decodeStrict(defaultYAML, p); err != nil {
		return nil, fmt.Errorf("policy: built-in default: %w", err)
	}
	// Lists given in the file replace the default's lists, not extend them.
	override := &Policy{}
	if err := decodeStrict(b, override); err != nil {
		return nil, fmt.Errorf("policy %s: %w", source, err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("policy %s: %w", source, err)
	}
	merge(p, override, raw)
	sum := sha256.Sum256(b)
	p.SHA256, p.Source = hex.EncodeToString(sum[:]), source
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", source, err)
	}
	rules, err := Compile(p.Rules)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", source, err)
	}
	p.Compiled = rules
	return p, nil
}

// decodeStrict decodes one YAML document, refusing unknown keys; an empty
// file decodes to nothing.
func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// merge copies the fields present in the file over the defaults.
func merge(p, o *Policy, present map[string]any) {
	has := func(k string) bool { _, ok := present[k]; return ok }
	if has("version") {
		p.Version = o.Version
	}
	if has("name") {
		p.Name = o.Name
	}
	if has("mode") {
		p.Mode = o.Mode
	}
	if has("visibilities") {
		p.Visibilities = o.Visibilities
	}
	if has("kinds") {
		p.Kinds = o.Kinds
	}
	if has("products") {
		p.Products = o.Products
	}
	if has("product_kinds") {
		p.ProductKinds = o.ProductKinds
	}
	if has("unknown_author") {
		p.UnknownAuthor = o.UnknownAuthor
	}
	if has("unknown_birthdate") {
		p.UnknownBirthdate = o.UnknownBirthdate
	}
	if has("minimum_age") {
		p.MinimumAge = o.MinimumAge
	}
	if has("third_party") {
		p.ThirdParty = o.ThirdParty
	}
	if has("exclude_items") {
		p.ExcludeItems = o.ExcludeItems
	}
	if has("rules") {
		p.Rules = o.Rules
	}
	if has("digest") {
		p.Digest = o.Digest
	}
	// signals: only the ones named change, so "signals: {c2pa: false}"
	// leaves the other two honoured.
	if sig, ok := present["signals"].(map[string]any); ok {
		if _, ok := sig["aipref"]; ok {
			p.Signals.AIPref = o.Signals.AIPref
		}
		if _, ok := sig["tdmrep"]; ok {
			p.Signals.TDMRep = o.Signals.TDMRep
		}
		if _, ok := sig["c2pa"]; ok {
			p.Signals.C2PA = o.Signals.C2PA
		}
	}
}

var ruleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (p *Policy) check() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if p.Version != 1 {
		bad("version %d: this notrain reads policy version 1", p.Version)
	}
	if alg, err := digest.Parse(string(p.Digest)); err != nil {
		bad("%v", err)
	} else {
		p.Digest = alg // the default is named, so the manifest shows it
	}
	if p.Mode != ModeObjection && p.Mode != ModeConsent {
		bad("mode %q: use objection or consent", p.Mode)
	}
	for _, v := range p.Visibilities {
		if !platform.IsVisibility(v) {
			bad("visibilities: %q is not one of %v", v, platform.Visibilities())
		}
	}
	for _, k := range p.Kinds {
		if !platform.IsKind(k) {
			bad("kinds: %q is not one of %v", k, platform.Kinds())
		}
		if k == "message" {
			bad("kinds: private messages (message) are never training data and cannot be allowed")
		}
	}
	for _, pr := range p.Products {
		if !platform.IsProduct(pr) {
			bad("products: %q is not one of %v", pr, platform.Products())
		}
	}
	for pr, ks := range p.ProductKinds {
		if !platform.IsProduct(pr) {
			bad("product_kinds: %q is not a product", pr)
		}
		for _, k := range ks {
			if !platform.IsKind(k) {
				bad("product_kinds.%s: %q is not a kind", pr, k)
			}
		}
	}
	if p.UnknownAuthor != Exclude && p.UnknownAuthor != Include {
		bad("unknown_author %q: use exclude or include", p.UnknownAuthor)
	}
	if p.UnknownBirthdate != Exclude && p.UnknownBirthdate != Include {
		bad("unknown_birthdate %q: use exclude or include", p.UnknownBirthdate)
	}
	if p.MinimumAge < 18 || p.MinimumAge > 120 {
		bad("minimum_age %d: at least 18 (content by minors stays out)", p.MinimumAge)
	}
	if p.ThirdParty != Exclude && p.ThirdParty != Keep {
		bad("third_party %q: use exclude or keep", p.ThirdParty)
	}
	seen := map[string]bool{}
	for _, id := range p.ExcludeItems {
		if id == "" {
			bad("exclude_items: an empty id")
		}
		if seen[id] {
			bad("exclude_items: %q listed twice", id)
		}
		seen[id] = true
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		if !ruleName.MatchString(r.Name) {
			bad("rules[%d]: name %q: lower-case letters, digits and _, starting with a letter", i, r.Name)
		}
		if names[r.Name] {
			bad("rules: %q defined twice", r.Name)
		}
		names[r.Name] = true
	}
	return errors.Join(errs...)
}

// AllowsVisibility reports whether a visibility is allowed.
func (p *Policy) AllowsVisibility(v string) bool { return slices.Contains(p.Visibilities, v) }

// AllowsKind reports whether a kind is allowed at all.
func (p *Policy) AllowsKind(k string) bool { return slices.Contains(p.Kinds, k) }

// AllowsProduct reports whether a kind is allowed on a product.
func (p *Policy) AllowsProduct(product, kind string) bool {
	if !slices.Contains(p.Products, product) {
		return false
	}
	if ks, ok := p.ProductKinds[product]; ok {
		return slices.Contains(ks, kind)
	}
	return true
}

// Effective renders the policy with every default filled in.
func (p *Policy) Effective() ([]byte, error) {
	return yaml.Marshal(p)
}
