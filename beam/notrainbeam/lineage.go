package notrainbeam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/filter"
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
	pattern := ShardPattern(o.Output, shards, InputsFormat(o.Inputs))
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

// ShardPattern names all shards of a run: PREFIX-*-of-NNNNN.jsonl (or .parquet).
func ShardPattern(prefix string, shards int, format filter.Format) string {
	return strings.Replace(ShardName(prefix, 0, shards, format), "-00000-of-", "-*-of-", 1)
}

// InputsFormat is the shards' format as the input globs name it, before
// they are listed: Parquet when every glob ends in .parquet. A run that
// lists files of another format than its globs suggest is refused by Run
// only if they mix; this names the dataset in the START event.
func InputsFormat(globs []string) filter.Format {
	for _, g := range globs {
		if f, err := filter.FormatOf(g); err != nil || f != filter.Parquet {
			return filter.JSONL
		}
	}
	if len(globs) == 0 {
		return filter.JSONL
	}
	return filter.Parquet
}
