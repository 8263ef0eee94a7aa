package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/notrain/notrain/internal/lineage/lineagetest"
)

type manifestView struct {
	SnapshotID   string `json:"snapshot_id"`
	PolicySHA256 string `json:"policy_sha256"`
	LedgerHead   struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	} `json:"ledger_head"`
	Counts map[string]any `json:"counts"`
}

func readManifest(t *testing.T, path string) (manifestView, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifestView
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return m, hex.EncodeToString(sum[:])
}

// checkRun asserts a START and a COMPLETE of one run, whose datasets and
// facets are those of the manifest the run wrote.
func checkRun(t *testing.T, dir string, evs []map[string]any) {
	t.Helper()
	if len(evs) != 2 || evs[0]["eventType"] != "START" || evs[1]["eventType"] != "COMPLETE" {
		t.Fatalf("events %v, want START then COMPLETE", evs)
	}
	run := func(i int) map[string]any { return evs[i]["run"].(map[string]any) }
	if run(0)["runId"] != run(1)["runId"] {
		t.Fatalf("two run ids: %v %v", run(0)["runId"], run(1)["runId"])
	}
	abs := func(name string) string { p, _ := filepath.Abs(filepath.Join(dir, name)); return p }
	for _, ev := range evs {
		job := ev["job"].(map[string]any)
		in := ev["inputs"].([]any)[0].(map[string]any)
		out := ev["outputs"].([]any)[0].(map[string]any)
		if job["namespace"] != "notrain" || job["name"] != "filter" || in["namespace"] != "file" || in["name"] != abs("content.jsonl") ||
			out["namespace"] != "file" || out["name"] != abs("out.jsonl") {
			t.Fatalf("%s: job %v, input %v, output %v", ev["eventType"], job, in, out)
		}
		jt, _ := job["facets"].(map[string]any)["jobType"].(map[string]any)
		pe, _ := ev["run"].(map[string]any)["facets"].(map[string]any)["processing_engine"].(map[string]any)
		if jt["processingType"] != "BATCH" || pe["name"] != "notrain" || pe["version"] == "" {
			t.Fatalf("%s: jobType %v, processing_engine %v", ev["eventType"], jt, pe)
		}
	}
	m, sum := readManifest(t, filepath.Join(dir, "manifest.json"))
	f := run(1)["facets"].(map[string]any)
	man := f["notrain_manifest"].(map[string]any)
	if man["sha256"] != sum || man["path"] != abs("manifest.json") || man["snapshotId"] != m.SnapshotID || man["registered"] != true {
		t.Errorf("manifest facet %v; manifest %s sha256 %s", man, m.SnapshotID, sum)
	}
	if p := f["notrain_policy"].(map[string]any); p["sha256"] != m.PolicySHA256 {
		t.Errorf("policy facet %v, manifest's policy %s", p, m.PolicySHA256)
	}
	if h := f["notrain_ledgerHead"].(map[string]any); h["seq"] != float64(m.LedgerHead.Seq) || h["hash"] != m.LedgerHead.Hash {
		t.Errorf("ledger head facet %v, manifest's %+v", h, m.LedgerHead)
	}
	c := f["notrain_counts"].(map[string]any)
	if c["read"] != m.Counts["read"] || c["eligible"] != m.Counts["eligible"] || c["read"] != float64(7) {
		t.Errorf("counts facet %v, manifest's %v", c, m.Counts)
	}
	// The output's version is its SHA-256, its statistics the kept records.
	b, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	osum := sha256.Sum256(b)
	out := evs[1]["outputs"].([]any)[0].(map[string]any)
	ver := out["facets"].(map[string]any)["version"].(map[string]any)
	st := out["outputFacets"].(map[string]any)["outputStatistics"].(map[string]any)
	if ver["datasetVersion"] != "sha256:"+hex.EncodeToString(osum[:]) || st["rowCount"] != m.Counts["eligible"] || st["size"] != float64(len(b)) {
		t.Errorf("output facets %v", out)
	}
	// Every reason the manifest counts is in the facet with its count.
	ex := c["excluded"].(map[string]any)
	mex, _ := m.Counts["excluded"].(map[string]any)
	if len(mex) == 0 || fmt.Sprint(ex) != fmt.Sprint(mex) {
		t.Errorf("excluded per reason %v, manifest's %v", ex, mex)
	}
}

func TestFilterWritesLineageEventsToAFile(t *testing.T) {
	v := lineagetest.New(t)
	dir, db := filterEnv(t)
	events := filepath.Join(dir, "events.jsonl")
	code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--lineage-file", events)...)
	if code != 0 {
		t.Fatalf("filter: %d %s", code, stderr)
	}
	checkRun(t, dir, v.Lines(t, events))
}

// collector is a lineage endpoint on loopback: it keeps what is posted and
// answers with the statuses it is given, in turn, then 201.
type collector struct {
	mu     sync.Mutex
	bodies [][]byte
	bad    []string
	status []int
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/api/v1/lineage" {
		c.bad = append(c.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	}
	code := http.StatusCreated
	if len(c.status) > 0 {
		code, c.status = c.status[0], c.status[1:]
	}
	if code/100 == 2 {
		c.bodies = append(c.bodies, b)
	}
	w.WriteHeader(code)
}

func (c *collector) events(t *testing.T, v *lineagetest.Validator) []map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		t.Fatalf("requests not as the HTTP transport sends them: %v", c.bad)
	}
	var out []map[string]any
	for _, b := range c.bodies {
		if err := v.Event(b); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		out = append(out, m)
	}
	return out
}

func TestFilterPostsLineageEventsOverHTTP(t *testing.T) {
	v := lineagetest.New(t)
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	dir, db := filterEnv(t)
	code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--lineage-url", srv.URL+"/api/v1/lineage")...)
	if code != 0 {
		t.Fatalf("filter: %d %s", code, stderr)
	}
	checkRun(t, dir, col.events(t, v))
}

// noOutputs asserts the run left nothing: fail closed.
func noOutputs(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"out.jsonl", "manifest.json", "manifest.json.sig", "out.lineage.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed run (%v)", f, err)
		}
	}
}

func TestFilterReportsAFailedRunAndWritesNothing(t *testing.T) {
	v := lineagetest.New(t)
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "content.jsonl"), content)
	events := filepath.Join(dir, "events.jsonl")
	code, _, stderr := run(t, dir, nil, filterArgs(dir, filepath.Join(dir, "missing.db"),
		"--lineage-file", events, "--lineage-url", srv.URL+"/api/v1/lineage")...)
	if code != 1 || !strings.Contains(stderr, "does not exist") {
		t.Fatalf("filter with a missing store: %d %s", code, stderr)
	}
	noOutputs(t, dir)
	for name, evs := range map[string][]map[string]any{"file": v.Lines(t, events), "http": col.events(t, v)} {
		if len(evs) != 2 || evs[0]["eventType"] != "START" || evs[1]["eventType"] != "FAIL" {
			t.Fatalf("%s: events %v, want START then FAIL", name, evs)
		}
		em, _ := evs[1]["run"].(map[string]any)["facets"].(map[string]any)["errorMessage"].(map[string]any)
		if msg, _ := em["message"].(string); !strings.Contains(msg, "does not exist") || em["programmingLanguage"] != "Go" {
			t.Fatalf("%s: error facet %v", name, em)
		}
	}
}

// A lineage endpoint that refuses START stops the run before anything is
// read: no snapshot exists that the lineage system never heard of.
func TestFilterDoesNotStartWithoutItsStartEvent(t *testing.T) {
	col := &collector{status: []int{503, 503, 503}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	dir, db := filterEnv(t)
	events := filepath.Join(dir, "events.jsonl")
	code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--lineage-url", srv.URL+"/api/v1/lineage", "--lineage-file", events)...)
	if code != 1 || !strings.Contains(stderr, "START event not delivered") || !strings.Contains(stderr, "nothing was read or written") {
		t.Fatalf("filter: %d %s", code, stderr)
	}
	noOutputs(t, dir)
	// The file took the START: it gets the FAIL that closes the run.
	evs := lineagetest.New(t).Lines(t, events)
	if len(evs) != 2 || evs[0]["eventType"] != "START" || evs[1]["eventType"] != "FAIL" {
		t.Fatalf("file: %v", evs)
	}
	em := evs[1]["run"].(map[string]any)["facets"].(map[string]any)["errorMessage"].(map[string]any)
	if !strings.Contains(em["message"].(string), "START event not delivered") {
		t.Fatalf("error facet %v", em)
	}
}

// A lineage endpoint that refuses COMPLETE does not undo a registered
// snapshot: the outputs stand, and stderr and exit code 3 say that only
// the lineage is incomplete.
func TestFilterSaysSoWhenItsCompleteEventIsLost(t *testing.T) {
	v := lineagetest.New(t)
	col := &collector{status: []int{201, 400}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	dir, db := filterEnv(t)
	code, stdout, stderr := run(t, dir, nil, filterArgs(dir, db, "--lineage-url", srv.URL+"/api/v1/lineage")...)
	if code != 3 || !strings.Contains(stderr, "COMPLETE event not delivered") || !strings.Contains(stderr, "stands") ||
		!strings.Contains(stdout, "registered as ledger entry") {
		t.Fatalf("filter: %d\n%s\n%s", code, stdout, stderr)
	}
	if evs := col.events(t, v); len(evs) != 1 || evs[0]["eventType"] != "START" {
		t.Fatalf("events %v", evs)
	}
	if got := kept(t, dir); got == "" {
		t.Fatal("no output")
	}
	if code, out, stderr := run(t, dir, nil, "manifest", "verify", filepath.Join(dir, "manifest.json"), "--db", db, "--data", dir); code != 0 {
		t.Fatalf("manifest verify: %d %s %s", code, out, stderr)
	}
}

func TestFilterRefusesALineageURLThatIsNoURL(t *testing.T) {
	dir, db := filterEnv(t)
	for _, u := range []string{"localhost:5000", "ftp://x/y", "http://"} {
		if code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--lineage-url", u)...); code != 2 || !strings.Contains(stderr, "--lineage-url") {
			t.Errorf("%q: %d %s", u, code, stderr)
		}
	}
	noOutputs(t, dir)
}

// A run refused by the snapshot workflow's own checks (here: an as-of in
// the future) ends in FAIL too, with its exit code unchanged.
func TestFilterReportsARefusedRun(t *testing.T) {
	v := lineagetest.New(t)
	dir, db := filterEnv(t)
	events := filepath.Join(dir, "events.jsonl")
	code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--lineage-file", events, "--as-of", "2999-01-01T00:00:00Z")...)
	if code != 2 || !strings.Contains(stderr, "future") {
		t.Fatalf("filter: %d %s", code, stderr)
	}
	noOutputs(t, dir)
	evs := v.Lines(t, events)
	if len(evs) != 2 || evs[1]["eventType"] != "FAIL" {
		t.Fatalf("events %v", evs)
	}
	em := evs[1]["run"].(map[string]any)["facets"].(map[string]any)["errorMessage"].(map[string]any)
	if !strings.Contains(em["message"].(string), "future") {
		t.Fatalf("error facet %v", em)
	}
}
