package cli

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/store"
)

// eligibilityOrigin says where a snapshot came from, for the manifest.
type eligibilityOrigin struct {
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
func loadEligibility(ctx context.Context, db *store.DB, cache string) (*eligibility.Snapshot, eligibilityOrigin, *eligibility.PendingFile, error) {
	if cache != "" {
		// A damaged cache, or one from another database (or from before a
		// restore), is rebuilt rather than trusted.
		if snap, sum, err := eligibility.ReadFile(cache); err == nil {
			changed, err := db.ChangedSince(ctx, snap.Head)
			if err != nil {
				return nil, eligibilityOrigin{}, nil, err
			}
			if !changed {
				return snap, eligibilityOrigin{Source: "cache", Path: cache, SHA256: sum}, nil, nil
			}
		}
	}
	snap, err := db.BuildEligibility(ctx)
	if err != nil {
		return nil, eligibilityOrigin{}, nil, err
	}
	origin := eligibilityOrigin{Source: "store"}
	if cache == "" {
		return snap, origin, nil, nil
	}
	pending, sum, err := eligibility.CreateFile(snap, cache)
	if err != nil {
		return nil, eligibilityOrigin{}, nil, fmt.Errorf("eligibility cache: %w", err)
	}
	origin.SHA256 = sum
	return snap, origin, pending, nil
}

// refreshCache rebuilds the cache after a large change (an import), so the
// next filter run starts from it instead of the tables.
func refreshCache(ctx context.Context, db *store.DB) error {
	if db.CachePath() == "" {
		return nil
	}
	_, _, pending, err := loadEligibility(ctx, db, db.CachePath())
	if err != nil || pending == nil {
		return err
	}
	return pending.Install()
}
