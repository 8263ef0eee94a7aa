package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/policy"
)

// External is a build whose records are filtered elsewhere (the Beam
// pipeline) from an eligibility snapshot file: Prepare makes the checks
// Build makes before a single record is read, and Manifest writes what
// Build would write, so both kinds of snapshot read and register alike.
type External struct {
	Policy     *policy.Policy
	Snapshot   *eligibility.Snapshot
	AsOf       time.Time
	now        time.Time
	origin     origin
	allowEmpty bool
}

// PrepareExternal checks a build over the eligibility snapshot snap (read
// from path, with content hash sum) with the policy as of asOf (zero: now),
// with Build's rules: the as-of may not be in the future nor before
// eligibility last changed, and an empty directory needs allowEmpty.
func PrepareExternal(pol *policy.Policy, snap *eligibility.Snapshot, path, sum string, asOf time.Time, now func() time.Time, allowEmpty bool) (*External, error) {
	if now == nil {
		now = time.Now
	}
	n := now().UTC()
	if asOf.IsZero() {
		asOf = n
	}
	asOf = asOf.UTC()
	if err := checkNotFuture(asOf, n); err != nil {
		return nil, err
	}
	if snap.Stats.Accounts == 0 && !allowEmpty {
		return nil, fmt.Errorf("the account directory is empty (no accounts were ever imported): every record would count as an unknown author; import the accounts first, or allow an empty directory")
	}
	if err := checkAsOf(context.Background(), nil, snap, asOf, n); err != nil {
		return nil, err
	}
	return &External{Policy: pol, Snapshot: snap, AsOf: asOf, now: n, origin: origin{Source: "file", Path: path, SHA256: sum}, allowEmpty: allowEmpty}, nil
}

// Manifest is the manifest of the build, in Build's format, for the
// outputs the build wrote; extra holds what the caller adds (the runner).
func (e *External) Manifest(inputs, outputs []filter.FileInfo, lin *filter.ManifestFile, counts *filter.Counts, version string, started time.Time, extra map[string]any) (*filter.Manifest, error) {
	effective, err := json.Marshal(e.Policy)
	if err != nil {
		return nil, err
	}
	pol := e.Policy
	return &filter.Manifest{
		SnapshotID: "snap_" + ids.Random(8), CreatedAt: e.now.Format(time.RFC3339Nano), AsOf: e.AsOf.Format(time.RFC3339Nano),
		PolicySHA256: pol.SHA256, Digest: pol.Digest,
		Policy:      filter.ManifestPolicy{Source: pol.Source, Name: pol.Name, Mode: pol.Mode, Effective: json.RawMessage(effective)},
		LedgerHead:  e.Snapshot.Head,
		Eligibility: map[string]any{"origin": e.origin, "stats": e.Snapshot.Stats},
		Inputs:      inputs, Outputs: outputs, Lineage: lin, Counts: counts, AllowEmptyDirectory: e.allowEmpty,
		Notrain: version, DurationSeconds: time.Since(started).Seconds(), Extra: extra,
	}, nil
}
