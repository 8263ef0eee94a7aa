package objection

import (
	"bytes"
	"slices"
	"strings"

	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/strictjson"
)

// Scope says which of a person's accounts an objection covers: all linked
// accounts, or those on some products.
type Scope struct {
	All      bool
	Products []string // sorted, distinct; empty when All
}

// AllAccounts is the default scope.
var AllAccounts = Scope{All: true}

// NewScope validates a product list; an empty list or "all" means all accounts.
func NewScope(products []string) (Scope, error) {
	if len(products) == 0 {
		return AllAccounts, nil
	}
	var ps []string
	for _, p := range products {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "all" && len(products) == 1 {
			return AllAccounts, nil
		}
		if !platform.IsProduct(p) {
			return Scope{}, fieldErr(CodeScopeInvalid, "scope")
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return Scope{Products: ps}, nil
}

// ParseScopeJSON reads the "scope" member of an API body or an import line,
// the one parser for both: absent or null means all accounts, else the
// string "all" or a non-empty list of products spelt exactly as in
// platform.Products (repeats are merged). Unlike NewScope, which reads
// form checkboxes, it neither trims nor lower-cases: a JSON client sends
// what it means. Any refusal is CodeScopeInvalid on the field "scope".
func ParseScopeJSON(raw []byte) (Scope, error) {
	raw = bytes.Trim(raw, " \t\r\n")
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return AllAccounts, nil
	case raw[0] == '"':
		var one string
		if strictjson.Decode(raw, &one) != nil || one != "all" {
			return Scope{}, fieldErr(CodeScopeInvalid, "scope")
		}
		return AllAccounts, nil
	case raw[0] == '[':
		var list []string
		if strictjson.Decode(raw, &list) != nil || len(list) == 0 {
			return Scope{}, fieldErr(CodeScopeInvalid, "scope")
		}
		for _, p := range list {
			if !platform.IsProduct(p) {
				return Scope{}, fieldErr(CodeScopeInvalid, "scope")
			}
		}
		return NewScope(list)
	}
	return Scope{}, fieldErr(CodeScopeInvalid, "scope")
}

// ParseScope reads the stored form ("all" or "a,b").
func ParseScope(s string) (Scope, error) {
	if s == "all" || s == "" {
		return AllAccounts, nil
	}
	return NewScope(strings.Split(s, ","))
}

// String is the stored form.
func (s Scope) String() string {
	if s.All {
		return "all"
	}
	return strings.Join(s.Products, ",")
}

// Covers reports whether the scope includes a product.
func (s Scope) Covers(product string) bool {
	return s.All || slices.Contains(s.Products, product)
}
