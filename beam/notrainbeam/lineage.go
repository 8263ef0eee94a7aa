package notrainbeam

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/snapshot"
)

// LineageError is a run whose outputs were written but whose COMPLETE
// event was not delivered: the snapshot stands, the lineage system lacks
// the run's end.
type LineageError struct{ Err error }

func (e LineageError) Error() string {
	return fmt.Sprintf("%v; the snapshot was built as reported and stands", e.Err)
}

func (e LineageError) Unwrap() error { return e.Err }

// RunWithLineage is Run reported as OpenLineage events, as `notrain
// filter` reports its runs: START before anything is read (if it cannot be
// delivered, nothing runs), then COMPLETE or FAIL. The shards are one
// output dataset, named by their pattern. A nil emitter reports nothing.
func RunWithLineage(ctx context.Context, o Options, em *lineage.Emitter) (*Result, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	shards := o.Shards
	if shards == 0 {
		shards = defaultShards
	}
	pattern := fmt.Sprintf("%s-*-of-%05d.jsonl", o.Output, shards)
	lr, err := snapshot.StartLineage(ctx, em, now, Version, o.Inputs, pattern, o.Manifest)
	if err != nil {
		return nil, err
	}
	res, err := Run(ctx, o)
	if lerr := lr.Finish(ctx, res.Snapshot(pattern), err); lerr != nil {
		if err != nil {
			return nil, errors.Join(err, fmt.Errorf("and its FAIL event: %w", lerr))
		}
		return res, LineageError{lerr}
	}
	return res, err
}
