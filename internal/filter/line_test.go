package filter_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/notrain/notrain/internal/filter"
)

// The Decider, fed line by line, must decide and count exactly as a filter
// run over the same bytes: blank lines, CRLF ends, malformed records and a
// last line without its newline included.
func TestDeciderAgreesWithRun(t *testing.T) {
	in, _ := makeInput(3000)
	in = "  \r\n" + in + "{not json\r\n" + post(7, "a1") + "\r\n\n" + post(8, "a2")
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(in), 0o644)
	res, err := run(t, filter.Job{Inputs: []string{path}, Output: filepath.Join(dir, "out.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))

	d := filter.NewDecider(simpleEngine(t), false)
	var c filter.Counts
	var kept []byte
	authors := 0
	for line := range bytes.Lines([]byte(in)) {
		rec := bytes.TrimSuffix(line, []byte("\n"))
		if ok, author := d.Line(rec, &c); ok {
			kept = append(append(kept, rec...), '\n')
			if author >= 0 {
				authors++
			}
		}
	}
	var total filter.Counts
	total.Merge(&c)
	total.Oversize()
	total.Excluded[1]-- // the oversize record above is not in the run's input
	total.Read--
	if !bytes.Equal(kept, want) {
		t.Fatalf("kept %d bytes, the run %d", len(kept), len(want))
	}
	a, _ := res.Counts.MarshalJSON()
	b, _ := total.MarshalJSON()
	if !bytes.Equal(a, b) || authors != int(res.Counts.Eligible) {
		t.Fatalf("counts differ:\nrun     %s\ndecider %s (authors %d)", a, b, authors)
	}
}
