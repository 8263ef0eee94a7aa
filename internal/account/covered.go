package account

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/notrain/notrain/internal/store"
)

// Directory is where Covered reads accounts: a write transaction
// (*store.Tx) when the answer is recorded, a read-only one (*store.View)
// when it is only shown.
type Directory interface {
	// AccountsLinkedToEmail returns the accounts using the e-mail hash and
	// every account in their link groups, in one read.
	AccountsLinkedToEmail(ctx context.Context, emailHash string) ([]store.Account, error)
	Account(ctx context.Context, k store.AccountKey) (store.Account, error)
	AccountsInGroups(ctx context.Context, groups []string) ([]store.Account, error)
}

// Covered returns the accounts an objection covers now: the accounts using
// the e-mail hash or named by it, and every account in their link groups
// (the accounts of one person across products), kept when inScope accepts
// their product, sorted by product and id. Named accounts the directory
// lacks are returned as bare keys: an objection for them must still hold.
func Covered(ctx context.Context, tx Directory, emailHash string, named []store.AccountKey, inScope func(product string) bool) ([]store.Account, error) {
	// The address's accounts come with their groups already; only the
	// groups of named accounts outside them are read afterwards.
	var direct []store.Account
	if emailHash != "" {
		var err error
		if direct, err = tx.AccountsLinkedToEmail(ctx, emailHash); err != nil {
			return nil, err
		}
	}
	var known []string
	for _, a := range direct {
		if a.Group != "" && !slices.Contains(known, a.Group) {
			known = append(known, a.Group)
		}
	}
	var bare []store.Account
	var groups []string
	for _, k := range named {
		a, err := tx.Account(ctx, k)
		switch {
		case errors.Is(err, store.ErrNotFound):
			bare = append(bare, store.Account{Product: k.Product, AccountID: k.AccountID})
		case err != nil:
			return nil, err
		default:
			direct = append(direct, a)
			if a.Group != "" && !slices.Contains(known, a.Group) && !slices.Contains(groups, a.Group) {
				groups = append(groups, a.Group)
			}
		}
	}
	linked, err := tx.AccountsInGroups(ctx, groups)
	if err != nil {
		return nil, err
	}
	seen := map[store.AccountKey]bool{}
	var out []store.Account
	for _, a := range slices.Concat(direct, linked, bare) {
		k := store.AccountKey{Product: a.Product, AccountID: a.AccountID}
		if seen[k] || !inScope(a.Product) {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b store.Account) int {
		if a.Product != b.Product {
			return cmp.Compare(a.Product, b.Product)
		}
		return cmp.Compare(a.AccountID, b.AccountID)
	})
	return out, nil
}
