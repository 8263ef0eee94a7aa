package notrainbeam

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/notrain/notrain/internal/cli"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/lineage/lineagetest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	if !testing.Verbose() {
		// Prism logs every job's progress, and the failure tests' errors.
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	code := m.Run()
	if shared.world != nil {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// shared is the one world the tests read (generating it is most of their time).
var shared struct {
	once sync.Once
	*world
	err error
}

func sharedWorld(t *testing.T) *world {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "notrainbeam-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.world, shared.err = newWorld(dir)
		if shared.world == nil {
			os.RemoveAll(dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.world
}

// asOf is the benchmark generator's snapshot moment.
const asOf = "2026-06-01T00:00:00Z"

// world is a store with the generator's accounts and objections, its
// eligibility snapshot file, and content inputs.
type world struct {
	dir, db, snap, policy string
	policyB3              string // the same policy with BLAKE3 as its digest
	inputs                []string
}

// notrain runs the command line in this process.
func notrain(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func run(args ...string) (string, error) {
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now}
	if code := cli.Run(context.Background(), args, env); code != 0 {
		return "", fmt.Errorf("notrain %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), nil
}

func newWorld(dir string) (*world, error) {
	data := filepath.Join(dir, "data")
	// The benchmark's generator: every exclusion reason of the default
	// policy, about 0.1 % malformed lines; content.parquet holds the same
	// records in small row groups, so that it splits into many runs.
	gen := exec.Command("go", "run", "../../bench/gen", "-records", "20000", "-accounts", "3000", "-objections", "300", "-seed", "7", "-row-group", "1500", "-out", data)
	if out, err := gen.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench/gen: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "store.db")
	w := &world{dir: dir, db: db, snap: filepath.Join(dir, "elig.snap"), policy: filepath.Join(dir, "policy.yaml"), policyB3: filepath.Join(dir, "policy-blake3.yaml")}
	for _, args := range [][]string{
		{"accounts", "import", filepath.Join(data, "accounts.jsonl"), "--db", db},
		{"objections", "import", filepath.Join(data, "objections.jsonl"), "--db", db},
		{"snapshot", "export", "--out", w.snap, "--db", db},
	} {
		if _, err := run(args...); err != nil {
			return nil, err
		}
	}
	// A policy with a rule, so that rules and the policy's text reach the workers.
	rules := "rules:\n  - {name: no_secrets, expr: 'text.contains(\"secret\")'}\n"
	if err := os.WriteFile(w.policy, []byte(rules), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.policyB3, []byte(rules+"digest: blake3\n"), 0o644); err != nil {
		return nil, err
	}
	// Edge cases of the line format: blank lines, CRLF ends (the CR is kept),
	// a rule match, a malformed line, and a last record without a newline.
	content, err := os.ReadFile(filepath.Join(data, "content.jsonl"))
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(content, []byte("\n"))
	var edge bytes.Buffer
	for i, l := range lines[:400] {
		// Creators' reservations, each on every seventh record.
		if sig := [...]string{4: `"content_usage":"train-ai=n",`, 5: `"tdm_reservation":1,`, 6: `"training_mining":{"entries":{"cawg.ai_training":{"use":"notAllowed"}}},`}[i%7]; sig != "" {
			l = bytes.Replace(l, []byte(`{`), []byte(`{`+sig), 1)
		}
		switch i % 50 {
		case 1:
			edge.WriteString("\n   \r\n")
		case 2:
			edge.Write(bytes.Replace(l, []byte(`"text":"`), []byte(`"text":"secret `), 1))
			continue
		case 3:
			edge.WriteString("{\"id\": 1,\r\n")
		}
		edge.Write(bytes.TrimSuffix(l, []byte("\n")))
		edge.WriteString("\r\n")
	}
	edge.Write(bytes.TrimSuffix(lines[400], []byte("\n")))
	w.inputs = []string{filepath.Join(data, "content.jsonl"), filepath.Join(dir, "edge.jsonl")}
	if err := os.WriteFile(w.inputs[1], edge.Bytes(), 0o644); err != nil {
		return nil, err
	}
	// Compressed inputs are read whole, as one range each.
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for _, l := range lines[1000:1500] {
		zw.Write(l)
	}
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	for _, l := range lines[2000:2500] {
		ze.Write(l)
	}
	ze.Close()
	w.inputs = append(w.inputs, filepath.Join(dir, "part.jsonl.gz"), filepath.Join(dir, "part.jsonl.zst"))
	if err := os.WriteFile(w.inputs[2], gz.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(w.inputs[3], zs.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return w, nil
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	slices.Sort(lines)
	return lines
}

// The pipeline on Prism and `notrain filter` agree on the same inputs: the
// same kept records byte for byte (as a multiset: shards have no order),
// the same counts per reason, the same lineage sidecar, and the same
// manifest wherever the two runs must agree.
func TestPipelineAgreesWithFilter(t *testing.T) {
	w := sharedWorld(t)
	ref := filepath.Join(t.TempDir(), "ref")
	os.Mkdir(ref, 0o755)
	args := []string{"filter", "--snapshot", w.snap, "--out", filepath.Join(ref, "out.jsonl"), "--manifest", filepath.Join(ref, "manifest.json"), "--as-of", asOf, "--policy", w.policy}
	for _, in := range w.inputs {
		args = append(args, "--in", in)
	}
	notrain(t, args...)

	out := filepath.Join(t.TempDir(), "beam")
	const shards = 3
	res, err := Run(context.Background(), Options{
		Snapshot: w.snap, Inputs: []string{filepath.Join(w.dir, "data", "content*.jsonl"), filepath.Join(w.dir, "*.jsonl*")},
		Output: filepath.Join(out, "snap"), Manifest: filepath.Join(out, "manifest.json"), Policy: w.policy,
		AsOf: mustTime(t, asOf), Shards: shards, BlockSize: 64 << 10, // many ranges, lines cut across them
	})
	if err != nil {
		t.Fatal(err)
	}

	want, _ := os.ReadFile(filepath.Join(ref, "out.jsonl"))
	var got []byte
	for s := range shards {
		b, err := os.ReadFile(ShardName(filepath.Join(out, "snap"), s, shards, filter.JSONL))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if !slices.Equal(sortedLines(got), sortedLines(want)) {
		t.Fatalf("kept records differ: pipeline %d bytes, filter %d bytes", len(got), len(want))
	}
	if !bytes.Contains(got, []byte("\r\n")) {
		t.Fatal("the CR of CRLF records was not kept")
	}
	refLin, _ := os.ReadFile(filepath.Join(ref, "out.lineage.jsonl"))
	gotLin, _ := os.ReadFile(filepath.Join(out, "snap.lineage.jsonl"))
	if len(refLin) == 0 || !bytes.Equal(refLin, gotLin) {
		t.Fatalf("lineage sidecars differ (%d and %d bytes)", len(refLin), len(gotLin))
	}

	rm, bm := readJSON(t, filepath.Join(ref, "manifest.json")), readJSON(t, filepath.Join(out, "manifest.json"))
	for _, k := range []string{"as_of", "policy_sha256", "policy", "ledger_head", "inputs", "counts", "registered", "allow_empty_directory", "notrain_version"} {
		a, _ := json.Marshal(rm[k])
		b, _ := json.Marshal(bm[k])
		if !bytes.Equal(a, b) {
			t.Errorf("manifest %s differs:\nfilter   %s\npipeline %s", k, a, b)
		}
	}
	for _, k := range []string{"origin", "stats"} {
		a, _ := json.Marshal(rm["eligibility"].(map[string]any)[k])
		b, _ := json.Marshal(bm["eligibility"].(map[string]any)[k])
		if !bytes.Equal(a, b) {
			t.Errorf("manifest eligibility.%s differs:\nfilter   %s\npipeline %s", k, a, b)
		}
	}
	rl, bl := rm["lineage"].(map[string]any), bm["lineage"].(map[string]any)
	if rl["sha256"] != bl["sha256"] || rl["accounts"] != bl["accounts"] {
		t.Errorf("manifest lineage differs: %v / %v", rl, bl)
	}
	outputs := bm["outputs"].([]any)
	if len(outputs) != shards {
		t.Fatalf("manifest lists %d outputs", len(outputs))
	}
	counts := res.Counts
	excluded := counts.ExcludedByReason()
	for _, r := range []string{"malformed", "not_public", "kind_excluded", "product_excluded", "unknown_author", "minor", "objection", "third_party", "rule:no_secrets",
		"signal_aipref", "signal_tdmrep", "signal_c2pa"} {
		if excluded[r] == 0 {
			t.Errorf("no record excluded as %s: the data set does not exercise it", r)
		}
	}
	if counts.Blank == 0 || counts.Eligible == 0 {
		t.Errorf("counts %+v", counts)
	}
	// Nothing but the outputs is left in the output directory.
	names, _ := filepath.Glob(filepath.Join(out, "*"))
	hidden, _ := filepath.Glob(filepath.Join(out, ".*"))
	if len(names) != shards+2 || len(hidden) != 0 { // shards, sidecar, manifest
		t.Fatalf("output directory holds %v %v", names, hidden)
	}
	// The store registers the pipeline's snapshot and signs its manifest.
	if msg := notrain(t, "snapshot", "register", "--manifest", filepath.Join(out, "manifest.json"), "--db", w.db); !strings.Contains(msg, "registered as ledger entry") {
		t.Fatalf("register: %s", msg)
	}
	if st, err := os.Stat(filepath.Join(out, "manifest.json.sig")); err != nil || st.Size() == 0 {
		t.Fatalf("no signature: %v", err)
	}
	// The same prefix again is refused: shards of two runs must not mix.
	if _, err := Run(context.Background(), Options{Snapshot: w.snap, Inputs: w.inputs, Output: filepath.Join(out, "snap"), Manifest: filepath.Join(out, "m2.json"), AsOf: mustTime(t, asOf)}); err == nil || !strings.Contains(err.Error(), "exist") {
		t.Fatalf("a second run into the same prefix: %v", err)
	}
}

// A missing or damaged snapshot file fails the run with nothing written,
// whether the driver sees it or only the workers do.
func TestBadSnapshotLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w := sharedWorld(t)
	good, err := os.ReadFile(w.snap)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(good)
	damaged[len(damaged)/2] ^= 0xff
	cases := []struct {
		name   string
		before []byte // the snapshot file when the driver reads it; nil: missing
		during []byte // what the workers read instead, if set
		want   string
	}{
		{"missing", nil, nil, "no such file"},
		{"damaged", damaged, nil, "damaged"},
		{"changed under the workers", good, damaged, "pipeline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := filepath.Join(dir, "elig.snap")
			os.Remove(snap)
			if c.before != nil {
				os.WriteFile(snap, c.before, 0o644)
			}
			out := filepath.Join(dir, "out")
			o := Options{Snapshot: snap, Inputs: w.inputs, Output: filepath.Join(out, "snap"), Manifest: filepath.Join(out, "manifest.json"), AsOf: mustTime(t, asOf), Shards: 2}
			if c.during != nil {
				o.beforePipeline = func() { os.WriteFile(snap, c.during, 0o644) }
			}
			_, err := Run(context.Background(), o)
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

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// A run reports START and COMPLETE, a failed one START and FAIL, as
// `notrain filter` does; every event validates against the OpenLineage
// schema and its facets against theirs.
func TestLineageEvents(t *testing.T) {
	w := sharedWorld(t)
	v := lineagetest.New(t)
	for _, c := range []struct {
		name, snap string
		want       []string
	}{
		{"complete", w.snap, []string{"START", "COMPLETE"}},
		{"fail", filepath.Join(t.TempDir(), "missing.snap"), []string{"START", "FAIL"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			events := filepath.Join(dir, "events.jsonl")
			o := Options{Snapshot: c.snap, Inputs: w.inputs[1:], Output: filepath.Join(dir, "out", "snap"), Manifest: filepath.Join(dir, "out", "manifest.json"), AsOf: mustTime(t, asOf), Shards: 2}
			res, err := RunWithLineage(context.Background(), o, lineage.NewEmitter(&lineage.JSONLines{Path: events}))
			if (err == nil) != (c.want[1] == "COMPLETE") {
				t.Fatalf("run: %v", err)
			}
			b, err := os.ReadFile(events)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for line := range bytes.Lines(b) {
				if err := v.Event(line); err != nil {
					t.Fatalf("event does not validate: %v\n%s", err, line)
				}
				var ev struct {
					EventType string `json:"eventType"`
					Run       struct {
						Facets map[string]json.RawMessage `json:"facets"`
					} `json:"run"`
				}
				json.Unmarshal(line, &ev)
				types = append(types, ev.EventType)
				if ev.EventType == "COMPLETE" {
					if !bytes.Contains(line, []byte(`"fileCount":2`)) {
						t.Fatalf("COMPLETE does not count the 2 shards: %s", line)
					}
					var counts struct{ Eligible int64 }
					json.Unmarshal(ev.Run.Facets["notrain_counts"], &counts)
					if counts.Eligible != res.Counts.Eligible || counts.Eligible == 0 {
						t.Fatalf("COMPLETE counts %d kept, the run %d", counts.Eligible, res.Counts.Eligible)
					}
				}
			}
			if !slices.Equal(types, c.want) {
				t.Fatalf("events %v, want %v", types, c.want)
			}
		})
	}
}
