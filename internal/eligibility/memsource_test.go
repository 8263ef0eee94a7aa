package eligibility

import (
	"cmp"
	"slices"

	"github.com/notrain/notrain/internal/ledger"
)

// memSource is a Source held in memory, for tests.
type memSource struct {
	accounts   []AccountRow
	objections []Grant
	consents   []Grant
	items      []string
}

func (m *memSource) Head() ledger.Head { return ledger.Head{Seq: 1, Hash: ledger.Genesis} }

func (m *memSource) Accounts(fn func(AccountRow) error) error {
	sorted := slices.Clone(m.accounts)
	slices.SortFunc(sorted, func(a, b AccountRow) int {
		if c := cmp.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return cmp.Compare(a.AccountID, b.AccountID)
	})
	for _, a := range sorted {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) Objections(fn func(Grant) error) error { return each(m.objections, fn) }
func (m *memSource) Consents(fn func(Grant) error) error   { return each(m.consents, fn) }
func (m *memSource) ItemExclusions(fn func(string) error) error {
	return each(m.items, fn)
}

func each[T any](xs []T, fn func(T) error) error {
	for _, x := range xs {
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}
