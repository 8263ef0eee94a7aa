package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/ledger"
)

// EligibilityOrigin says where a snapshot came from, for the manifest.
type EligibilityOrigin struct {
	Source string `json:"source"` // "store" or "cache" or "file"
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
}

// EligibilitySnapshot reads the eligibility snapshot. With a cache path, a
// cached compact snapshot is used when no entry that changes eligibility was
// appended since it was written (only snapshot registrations may follow);
// otherwise the store is read and the cache rewritten. A large directory
// thus loads from its compact form, not row by row. The caller must verify
// the ledger with the snapshot's head as a checkpoint.
func (db *DB) EligibilitySnapshot(ctx context.Context, cache string) (*eligibility.Snapshot, EligibilityOrigin, error) {
	if cache != "" {
		if snap, sum, err := readSnapshotFile(cache); err == nil {
			// A cache from another database (or from before a restore) does
			// not name an entry of this chain: rebuild rather than trust it.
			onChain, err := db.hasEntry(ctx, snap.Head)
			if err != nil {
				return nil, EligibilityOrigin{}, err
			}
			n, err := db.EntriesSince(ctx, snap.Head.Seq, ledger.KindSnapshotRegistered)
			if err != nil {
				return nil, EligibilityOrigin{}, err
			}
			if onChain && n == 0 {
				return snap, EligibilityOrigin{Source: "cache", Path: cache, SHA256: sum}, nil
			}
		}
	}
	var accounts, idBytes int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(LENGTH(account_id)), 0) FROM accounts").Scan(&accounts, &idBytes); err != nil {
		return nil, EligibilityOrigin{}, fmt.Errorf("store: directory size: %w", err)
	}
	var snap *eligibility.Snapshot
	err := db.ReadEligibility(ctx, func(src eligibility.Source) error {
		var err error
		snap, err = eligibility.Build(src, accounts, idBytes)
		return err
	})
	if err != nil {
		return nil, EligibilityOrigin{}, fmt.Errorf("store: eligibility: %w", err)
	}
	origin := EligibilityOrigin{Source: "store"}
	if cache != "" {
		sum, err := WriteSnapshotFile(snap, cache)
		if err != nil {
			return nil, EligibilityOrigin{}, fmt.Errorf("eligibility cache: %w", err)
		}
		origin.SHA256 = sum
	}
	return snap, origin, nil
}

func readSnapshotFile(path string) (*eligibility.Snapshot, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	return eligibility.Read(f)
}

// CachePath is where the compact eligibility cache of a SQLite store lives
// ("" for PostgreSQL).
func (db *DB) CachePath() string {
	if db.path == "" {
		return ""
	}
	return db.path + ".eligibility"
}

// RefreshEligibilityCache rebuilds the cache after a large change (an
// import), so the next filter run starts from it instead of the tables.
func (db *DB) RefreshEligibilityCache(ctx context.Context) error {
	if db.CachePath() == "" {
		return nil
	}
	_, _, err := db.EligibilitySnapshot(ctx, db.CachePath())
	return err
}

// ReadSnapshotFile reads an exported eligibility snapshot.
func ReadSnapshotFile(path string) (*eligibility.Snapshot, string, error) {
	snap, sum, err := readSnapshotFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, eligibility.ErrCorrupt) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return snap, sum, err
}

// WriteSnapshotFile writes a snapshot atomically (temporary name, fsync, rename).
func WriteSnapshotFile(snap *eligibility.Snapshot, path string) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	sum, err := snap.Write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return sum, os.Rename(f.Name(), path)
}

// hasEntry reports whether the chain holds h (the empty chain's head included).
func (db *DB) hasEntry(ctx context.Context, h ledger.Head) (bool, error) {
	if h.Seq == 0 {
		return h.Hash == ledger.Genesis, nil
	}
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM ledger WHERE seq = $1 AND hash = $2", h.Seq, h.Hash).Scan(&n); err != nil {
		return false, fmt.Errorf("store: ledger: %w", err)
	}
	return n == 1, nil
}
