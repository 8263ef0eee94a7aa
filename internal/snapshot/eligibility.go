package snapshot

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/store"
)

// origin says where the eligibility snapshot came from, for the manifest.
type origin struct {
	Source string `json:"source"` // "store" or "cache" or "file"
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
}

// loadEligibility reads the eligibility snapshot. With a cache path, the
// cached compact snapshot is used when it names an entry of this chain and
// nothing that changes eligibility was appended since (only snapshot
// registrations may follow); otherwise the store is read and a new cache
// written under a temporary name: the caller installs it once the run has
// succeeded, or discards it, so a failed run leaves no file next to the
// store. The caller must verify the ledger with the snapshot's head as a
// checkpoint.
func loadEligibility(ctx context.Context, db *store.DB, cache string) (*eligibility.Snapshot, origin, *eligibility.PendingFile, error) {
	if cache != "" {
		// A damaged cache, or one from another database (or from before a
		// restore), is rebuilt rather than trusted.
		if snap, sum, err := eligibility.ReadFile(cache); err == nil {
			changed, err := db.ChangedSince(ctx, snap.Head)
			if err != nil {
				return nil, origin{}, nil, err
			}
			if !changed {
				return snap, origin{Source: "cache", Path: cache, SHA256: sum}, nil, nil
			}
		}
	}
	snap, err := BuildEligibility(ctx, db)
	if err != nil {
		return nil, origin{}, nil, err
	}
	o := origin{Source: "store"}
	if cache == "" {
		return snap, o, nil, nil
	}
	pending, sum, err := eligibility.CreateFile(snap, cache)
	if err != nil {
		return nil, origin{}, nil, fmt.Errorf("eligibility cache: %w", err)
	}
	o.SHA256 = sum
	return snap, o, pending, nil
}

// RefreshCache rebuilds the store's eligibility cache after a large change
// (an import), so the next build starts from it instead of the tables.
func RefreshCache(ctx context.Context, db *store.DB) error {
	if db.CachePath() == "" {
		return nil
	}
	_, _, pending, err := loadEligibility(ctx, db, db.CachePath())
	if err != nil || pending == nil {
		return err
	}
	return pending.Install()
}

// BuildEligibility reads the eligibility snapshot from the store's tables,
// at one ledger head. The store and the eligibility package know nothing of
// each other; storeSource carries the store's rows over.
func BuildEligibility(ctx context.Context, db *store.DB) (*eligibility.Snapshot, error) {
	accounts, idBytes, err := db.DirectorySize(ctx)
	if err != nil {
		return nil, err
	}
	var snap *eligibility.Snapshot
	err = db.ReadEligibility(ctx, func(r *store.EligibilityRead) error {
		var err error
		snap, err = eligibility.Build(storeSource{r}, accounts, idBytes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("eligibility: %w", err)
	}
	return snap, nil
}

// storeSource is an eligibility.Source over one read of the store.
type storeSource struct{ r *store.EligibilityRead }

func (s storeSource) Head() ledger.Head { return s.r.Head() }

func (s storeSource) Accounts(fn func(eligibility.AccountRow) error) error {
	return s.r.Accounts(func(a store.AccountRow) error {
		return fn(eligibility.AccountRow{Product: a.Product, AccountID: a.AccountID, EmailHash: a.EmailHash, Birthdate: a.Birthdate, Group: a.Group})
	})
}

func (s storeSource) Objections(fn func(eligibility.Grant) error) error {
	return s.r.Objections(func(g store.GrantRow) error { return fn(grant(g)) })
}

func (s storeSource) Consents(fn func(eligibility.Grant) error) error {
	return s.r.Consents(func(g store.GrantRow) error { return fn(grant(g)) })
}

func (s storeSource) ItemExclusions(fn func(string) error) error { return s.r.ItemExclusions(fn) }

func grant(g store.GrantRow) eligibility.Grant {
	out := eligibility.Grant{EmailHash: g.EmailHash, Products: g.Products, Interval: eligibility.Interval{From: g.From, To: g.To}}
	if len(g.Accounts) > 0 {
		out.Accounts = make([]eligibility.Key, len(g.Accounts))
		for i, k := range g.Accounts {
			out.Accounts[i] = eligibility.Key{Product: k.Product, AccountID: k.AccountID}
		}
	}
	return out
}
