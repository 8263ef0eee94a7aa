package snapshot_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/lineage/lineagetest"
	"github.com/notrain/notrain/internal/snapshot"
)

func TestLineageWithoutEmitterSendsNothing(t *testing.T) {
	l, err := snapshot.StartLineage(context.Background(), nil, nil, "1", []string{"in.jsonl"}, "out.jsonl", "m.json")
	if err != nil || l.RunID() != "" || l.Finish(context.Background(), nil, errors.New("x")) != nil {
		t.Fatalf("%v %q", err, l.RunID())
	}
}

// Finish without a result or an error still ends the run, as a FAIL: a
// run is never reported COMPLETE without the snapshot it made.
func TestLineageFinishWithoutResultIsAFail(t *testing.T) {
	v := lineagetest.New(t)
	file := filepath.Join(t.TempDir(), "ev.jsonl")
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l, err := snapshot.StartLineage(context.Background(), lineage.NewEmitter(&lineage.JSONLines{Path: file}),
		func() time.Time { return at }, "1", []string{"a.jsonl", "b.jsonl"}, "out.jsonl", "m.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an interrupted run still reports its end
	if err := l.Finish(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	evs := v.Lines(t, file)
	if len(evs) != 2 || evs[1]["eventType"] != "FAIL" || evs[0]["eventTime"] != "2026-05-01T12:00:00.000Z" || len(evs[1]["inputs"].([]any)) != 2 {
		t.Fatalf("%v", evs)
	}
}
