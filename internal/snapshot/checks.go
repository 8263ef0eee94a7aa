package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/store"
)

// UsageError is a build refused because of what the caller asked for (an
// as-of in the future, or before eligibility last changed), not because of
// the data or the system. Its message names the command line's flags.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// VerifyLedger verifies the chain up to its head and that the checkpoint
// cp (when not nil) and every head in mustHold are still on it. full
// rechecks every entry; otherwise only those after the checkpoint, which
// were verified when it was written. A broken chain is reported as
// "ledger BROKEN at entry N (reason)".
func VerifyLedger(ctx context.Context, db *store.DB, cp *ledger.Head, full bool, mustHold ...*ledger.Head) (ledger.Head, error) {
	var head ledger.Head
	var err error
	if full {
		head, err = db.VerifyLedger(ctx, append([]*ledger.Head{cp}, mustHold...)...)
	} else {
		head, err = db.VerifyLedgerFrom(ctx, cp, mustHold...)
	}
	var bad *ledger.BadEntryError
	if errors.As(err, &bad) {
		return head, fmt.Errorf("ledger BROKEN at entry %d (%s)", bad.Seq, bad.Reason)
	}
	if err != nil {
		return head, fmt.Errorf("ledger: %w", err)
	}
	return head, nil
}

// checkNotFuture refuses a snapshot as of a moment still to come:
// objections that arrive until then would be claimed as honoured.
func checkNotFuture(asOf, now time.Time) error {
	if asOf.After(now) {
		return UsageError{fmt.Sprintf("as-of %s is in the future: objections that arrive until then would be missed", asOf.Format(time.RFC3339Nano))}
	}
	return nil
}

// checkAsOf refuses a new snapshot as of a moment before the store's
// eligibility head time: an objection in force now must keep its content
// out of every dataset built from now on. Only --reproduce may go back.
func checkAsOf(ctx context.Context, db *store.DB, snap *eligibility.Snapshot, asOf, now time.Time) error {
	head, err := lastChange(ctx, db, snap, now)
	if err != nil {
		return err
	}
	if asOf.Before(head) {
		return UsageError{fmt.Sprintf("--as-of %s is before %s, when eligibility last changed in the store: a new snapshot must honour every objection in force now (to re-create a registered earlier snapshot for verification, give --reproduce MANIFEST)",
			asOf.Format(time.RFC3339Nano), head.Format(time.RFC3339Nano))}
	}
	return nil
}

// lastChange is when eligibility last changed, not after now, as far as
// the eligibility snapshot (nil: none) and the store (nil: none) tell.
func lastChange(ctx context.Context, db *store.DB, snap *eligibility.Snapshot, now time.Time) (time.Time, error) {
	head := time.Time{}
	if snap != nil {
		if n := snap.LatestChange(now.UnixMicro()); n != 0 {
			head = time.UnixMicro(n).UTC()
		}
	}
	if db != nil {
		t, err := db.EligibilityChangedAt(ctx, now)
		if err != nil {
			return time.Time{}, err
		}
		if t.After(head) {
			head = t
		}
	}
	return head, nil
}

// reproduction is a --reproduce run: the manifest of a registered snapshot
// whose as-of and policy the run takes, and whose output it must match.
type reproduction struct {
	path string
	m    *filter.Manifest
	sum  string // sha256 of the manifest file
	asOf time.Time
}

// readReproduction reads the manifest to reproduce; asOf, when not zero,
// must be its as-of.
func readReproduction(path string, pol *policy.Policy, asOf time.Time) (*reproduction, error) {
	m, sum, err := filter.ReadManifest(path)
	if err != nil {
		return nil, err
	}
	mAsOf, err := time.Parse(time.RFC3339Nano, m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("--reproduce %s: as_of %q is not an RFC 3339 time", path, m.AsOf)
	}
	if !asOf.IsZero() && !asOf.Equal(mAsOf) {
		return nil, UsageError{fmt.Sprintf("--as-of %s differs from the as_of %s of %s: leave --as-of out to reproduce", asOf.Format(time.RFC3339Nano), m.AsOf, path)}
	}
	if m.PolicySHA256 != pol.SHA256 {
		return nil, fmt.Errorf("--reproduce %s: the snapshot was built with policy sha256 %s, --policy %s has %s: give the same policy", path, m.PolicySHA256, pol.Source, pol.SHA256)
	}
	return &reproduction{path: path, m: m, sum: sum, asOf: mAsOf}, nil
}

// registered checks that the store registered this manifest, byte for byte.
func (r *reproduction) registered(ctx context.Context, db *store.DB) error {
	sum, err := db.RegisteredManifest(ctx, r.m.SnapshotID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("--reproduce %s: snapshot %s is not registered in this store: only a registered snapshot can be reproduced", r.path, r.m.SnapshotID)
	}
	if err != nil {
		return err
	}
	if sum != r.sum {
		return fmt.Errorf("--reproduce %s: the file differs from the manifest registered for %s (sha256 %s, registered %s)", r.path, r.m.SnapshotID, r.sum, sum)
	}
	return nil
}

// compare fails unless the run read the same inputs and wrote the same
// output as the reproduced snapshot.
func (r *reproduction) compare(res *filter.Result) error {
	if len(res.Inputs) != len(r.m.Inputs) {
		return fmt.Errorf("reproduction of %s FAILED: %d inputs, the snapshot had %d (nothing was written)", r.m.SnapshotID, len(res.Inputs), len(r.m.Inputs))
	}
	for i, in := range res.Inputs {
		alg, sum := in.Digest()
		if wantAlg, want := r.m.Inputs[i].Digest(); alg != wantAlg || sum != want {
			return fmt.Errorf("reproduction of %s FAILED: input %s has %s %s, the snapshot read %s with %s %s (nothing was written)", r.m.SnapshotID, in.Path, alg, sum, r.m.Inputs[i].Path, wantAlg, want)
		}
	}
	alg, sum := res.Output.Digest()
	if wantAlg, want := r.m.Outputs[0].Digest(); alg != wantAlg || sum != want {
		return fmt.Errorf("reproduction of %s FAILED: the output's %s is %s, the manifest says %s %s (nothing was written)", r.m.SnapshotID, alg, sum, wantAlg, want)
	}
	return nil
}
