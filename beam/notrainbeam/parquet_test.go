package notrainbeam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/notrain/notrain/internal/filter"
)

// pqRows renders every row of the Parquet files, value by value with its
// column and levels, sorted: the multiset of rows, byte for byte.
func pqRows(t *testing.T, paths ...string) []string {
	t.Helper()
	var rows []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, rg := range pf.RowGroups() {
			rr := rg.Rows()
			buf := make([]parquet.Row, 64)
			for {
				n, err := rr.ReadRows(buf)
				for _, row := range buf[:n] {
					var b strings.Builder
					for _, v := range row {
						fmt.Fprintf(&b, "%d/%d/%d/%d:%q ", v.Column(), v.RepetitionLevel(), v.DefinitionLevel(), v.Kind(), v.Bytes())
					}
					rows = append(rows, b.String())
				}
				if err != nil {
					break
				}
			}
			rr.Close()
		}
	}
	slices.Sort(rows)
	return rows
}

// On a Parquet input of many row groups, split into runs of a few, the
// pipeline and `notrain filter` keep the same rows, value for value, with
// the same counts per reason, lineage and input hashes; the shards are
// Parquet files with the input's schema. The policy chooses BLAKE3: the
// pipeline lists inputs and shards with it as the filter does, and the
// store checks the shards with it when it registers the snapshot.
func TestParquetPipelineAgreesWithFilter(t *testing.T) {
	w := sharedWorld(t)
	in := filepath.Join(w.dir, "data", "content.parquet")
	ref := t.TempDir()
	notrain(t, "filter", "--snapshot", w.snap, "--in", in, "--out", filepath.Join(ref, "out.parquet"), "--manifest", filepath.Join(ref, "manifest.json"), "--as-of", asOf, "--policy", w.policyB3)

	st, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "beam")
	const shards = 3
	// Runs of about three row groups: several runs per range, several
	// ranges, and shards that receive runs of different ranges.
	res, err := Run(context.Background(), Options{
		Snapshot: w.snap, Inputs: []string{in}, Output: filepath.Join(out, "snap"), Manifest: filepath.Join(out, "manifest.json"),
		Policy: w.policyB3, AsOf: mustTime(t, asOf), Shards: shards, BlockSize: st.Size() / 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for s := range shards {
		got = append(got, ShardName(filepath.Join(out, "snap"), s, shards, filter.Parquet))
	}
	want := pqRows(t, filepath.Join(ref, "out.parquet"))
	if len(want) == 0 || !slices.Equal(pqRows(t, got...), want) {
		t.Fatalf("kept rows differ: pipeline %d, filter %d", len(pqRows(t, got...)), len(want))
	}
	if int64(len(want)) != res.Counts.Eligible {
		t.Fatalf("%d rows kept, counted %d", len(want), res.Counts.Eligible)
	}
	refLin, _ := os.ReadFile(filepath.Join(ref, "out.lineage.jsonl"))
	gotLin, _ := os.ReadFile(filepath.Join(out, "snap.lineage.jsonl"))
	if len(refLin) == 0 || !bytes.Equal(refLin, gotLin) {
		t.Fatalf("lineage sidecars differ (%d and %d bytes)", len(refLin), len(gotLin))
	}
	rm, bm := readJSON(t, filepath.Join(ref, "manifest.json")), readJSON(t, filepath.Join(out, "manifest.json"))
	if rm["digest"] != "blake3" || bm["digest"] != "blake3" {
		t.Errorf("digest: filter %v, pipeline %v", rm["digest"], bm["digest"])
	}
	for _, k := range []string{"counts", "inputs", "policy_sha256"} {
		a, _ := json.Marshal(rm[k])
		b, _ := json.Marshal(bm[k])
		if !bytes.Equal(a, b) {
			t.Errorf("manifest %s differs:\nfilter   %s\npipeline %s", k, a, b)
		}
	}
	excluded := res.Counts.ExcludedByReason()
	for _, r := range []string{"malformed", "not_public", "unknown_author", "minor", "objection"} {
		if excluded[r] == 0 {
			t.Errorf("no row excluded as %s: the data set does not exercise it", r)
		}
	}
	for _, o := range bm["outputs"].([]any) {
		if f := o.(map[string]any)["format"]; f != string(filter.Parquet) {
			t.Errorf("output format %v", f)
		}
		if _, ok := o.(map[string]any)["sha256"]; ok || o.(map[string]any)["blake3"] == nil {
			t.Errorf("output listed as %v", o)
		}
	}
	// Only the shards, the sidecar and the manifest are left: the runs'
	// files went with the run.
	names, _ := filepath.Glob(filepath.Join(out, "*"))
	hidden, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(names) != shards+2 || len(hidden) != 0 {
		t.Fatalf("output directory holds %v %v", names, hidden)
	}
	if msg := notrain(t, "snapshot", "register", "--manifest", filepath.Join(out, "manifest.json"), "--db", w.db); !strings.Contains(msg, "registered as ledger entry") {
		t.Fatalf("register: %s", msg)
	}
}

// A damaged Parquet input — its footer, which the driver reads, or a page,
// which only a worker reads —, a mix of JSON Lines and Parquet and inputs of
// different schemas fail the run with nothing written.
func TestParquetBadInputLeavesNothing(t *testing.T) {
	w := sharedWorld(t)
	good, err := os.ReadFile(filepath.Join(w.dir, "data", "content.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	garble := func(at, n int) []byte {
		b := bytes.Clone(good)
		for i := at; i < at+n; i++ {
			b[i] = 0xff
		}
		return b
	}
	dir := t.TempDir()
	// An input of another schema cannot go into the same shards.
	other := filepath.Join(dir, "other.parquet")
	of, err := os.Create(other)
	if err != nil {
		t.Fatal(err)
	}
	ow := parquet.NewGenericWriter[struct {
		ID string `parquet:"id"`
	}](of)
	ow.Write([]struct {
		ID string `parquet:"id"`
	}{{"x"}})
	if err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	of.Close()
	cases := []struct {
		name string
		data []byte
		also []string
		want string
	}{
		{"damaged footer", garble(len(good)-64, 56), nil, "Parquet"},
		{"damaged pages", garble(len(good)/3, 4096), nil, "pipeline"},
		{"mixed with JSON Lines", good, w.inputs[:1], "mixed"},
		{"another schema", good, []string{other}, "schema differs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(dir, "in.parquet")
			if err := os.WriteFile(in, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			_, err := Run(context.Background(), Options{Snapshot: w.snap, Inputs: append([]string{in}, c.also...),
				Output: filepath.Join(out, "snap"), Manifest: filepath.Join(out, "manifest.json"), AsOf: mustTime(t, asOf), Shards: 2, BlockSize: 1})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one with %q", err, c.want)
			}
			left, _ := filepath.Glob(filepath.Join(out, "*"))
			hidden, _ := filepath.Glob(filepath.Join(out, ".*"))
			if len(left)+len(hidden) != 0 {
				t.Fatalf("left behind: %v %v", left, hidden)
			}
		})
	}
}
