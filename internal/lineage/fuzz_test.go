package lineage_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/lineage/lineagetest"
)

// Whatever an error says and whatever a file is called (invalid UTF-8,
// control characters, quotes), the event stays valid OpenLineage.
func FuzzEventStaysValid(f *testing.F) {
	v := lineagetest.New(f)
	f.Add("store: no such file", "in.jsonl", int64(0))
	f.Add("\xff\xfe\"\n\\u0000", "dir/\x00we\"ird\xff.jsonl", int64(-1))
	f.Fuzz(func(t *testing.T, msg, path string, ms int64) {
		id, err := lineage.NewRunID(time.UnixMilli(ms))
		if err != nil {
			t.Fatal(err)
		}
		ev := lineage.RunEvent{
			EventType: lineage.Fail, EventTime: lineage.Time(time.Now()),
			Run: lineage.Run{RunID: id, Facets: map[string]any{"errorMessage": lineage.NewErrorMessage(producer, errors.New(msg))}},
			Job: lineage.Job{Namespace: "notrain", Name: "filter"}, Inputs: []lineage.Dataset{lineage.File(path)},
			Producer: producer, SchemaURL: lineage.SchemaURL,
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Event(b); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
	})
}
