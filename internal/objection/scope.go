package objection

import (
	"slices"
	"strings"

	"github.com/notrain/notrain/internal/platform"
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
