package lineage_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/lineage"
	"github.com/notrain/notrain/internal/lineage/lineagetest"
)

const producer = "https://github.com/notrain/notrain"

func event(t *testing.T, typ string, facets map[string]any) lineage.RunEvent {
	t.Helper()
	id, err := lineage.NewRunID(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return lineage.RunEvent{
		EventType: typ, EventTime: lineage.Time(time.Now()),
		Run: lineage.Run{RunID: id, Facets: facets}, Job: lineage.Job{Namespace: "notrain", Name: "filter"},
		Inputs: []lineage.Dataset{lineage.File("in.jsonl")}, Outputs: []lineage.Dataset{lineage.File("out.jsonl")},
		Producer: producer, SchemaURL: lineage.SchemaURL,
	}
}

func TestEventsValidateAgainstTheSpec(t *testing.T) {
	v := lineagetest.New(t)
	for _, ev := range []lineage.RunEvent{
		event(t, lineage.Start, nil),
		event(t, lineage.Fail, map[string]any{"errorMessage": lineage.NewErrorMessage(producer, errors.New("store: no such file"))}),
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Event(b); err != nil {
			t.Errorf("%s: %v\n%s", ev.EventType, err, b)
		}
	}
}

// The validator must be able to say no, or the tests that rely on it prove nothing.
func TestValidatorRefusesWhatTheSpecForbids(t *testing.T) {
	v := lineagetest.New(t)
	good, _ := json.Marshal(event(t, lineage.Start, nil))
	bad := map[string]func(m map[string]any){
		"run id not a UUID":     func(m map[string]any) { m["run"].(map[string]any)["runId"] = "run-1" },
		"no event time":         func(m map[string]any) { delete(m, "eventTime") },
		"event time not a time": func(m map[string]any) { m["eventTime"] = "yesterday" },
		"unknown event type":    func(m map[string]any) { m["eventType"] = "DONE" },
		"no job name":           func(m map[string]any) { delete(m["job"].(map[string]any), "name") },
		"no producer":           func(m map[string]any) { delete(m, "producer") },
		"facet without _producer": func(m map[string]any) {
			m["run"].(map[string]any)["facets"] = map[string]any{"errorMessage": map[string]any{"_schemaURL": lineage.ErrorFacetSchemaURL, "message": "x", "programmingLanguage": "Go"}}
		},
		"error facet without message": func(m map[string]any) {
			m["run"].(map[string]any)["facets"] = map[string]any{"errorMessage": map[string]any{"_producer": producer, "_schemaURL": lineage.ErrorFacetSchemaURL, "programmingLanguage": "Go"}}
		},
		"notrain facet breaking its schema": func(m map[string]any) {
			m["run"].(map[string]any)["facets"] = map[string]any{"notrain_counts": map[string]any{"_producer": producer,
				"_schemaURL": "https://github.com/notrain/notrain/blob/main/internal/snapshot/lineagefacets.json#/$defs/CountsRunFacet",
				"read":       -1, "eligible": 0, "excluded": map[string]any{}}}
		},
		"output statistics on an input": func(m map[string]any) {
			m["inputs"].([]any)[0].(map[string]any)["inputFacets"] = map[string]any{"outputStatistics": "many"}
		},
		"facet with an unknown schema": func(m map[string]any) {
			m["run"].(map[string]any)["facets"] = map[string]any{"x": map[string]any{"_producer": producer, "_schemaURL": "https://example.org/x.json"}}
		},
	}
	for name, mutate := range bad {
		var m map[string]any
		json.Unmarshal(good, &m)
		mutate(m)
		b, _ := json.Marshal(m)
		if err := v.Event(b); err == nil {
			t.Errorf("%s: accepted\n%s", name, b)
		}
	}
}

func TestRunIDIsAVersion7UUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for range 1000 {
		id, err := lineage.NewRunID(at)
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("run id %q: not a fresh UUIDv7", id)
		}
		seen[id] = true
		// The first 48 bits are the milliseconds since the epoch.
		if got := strings.ReplaceAll(id, "-", "")[:12]; got != "019de368f600" {
			t.Fatalf("timestamp bits %s, want 019de368f600", got)
		}
	}
}

func TestFileDatasetIsAbsolute(t *testing.T) {
	d := lineage.File("x/y.jsonl")
	if d.Namespace != "file" || !filepath.IsAbs(d.Name) || !strings.HasSuffix(d.Name, filepath.Join("x", "y.jsonl")) {
		t.Fatalf("%+v", d)
	}
}

type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	types  []string
	status []int // answers, in turn; then 200
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, b)
	r.types = append(r.types, req.Method+" "+req.Header.Get("Content-Type"))
	code := http.StatusOK
	if len(r.status) > 0 {
		code, r.status = r.status[0], r.status[1:]
	}
	w.WriteHeader(code)
}

func TestHTTPTransportPostsJSONAndRetriesWhatMayPass(t *testing.T) {
	v := lineagetest.New(t)
	rec := &recorder{status: []int{http.StatusServiceUnavailable}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	em := lineage.NewEmitter(&lineage.HTTP{URL: srv.URL + "/api/v1/lineage"})
	if err := em.Emit(context.Background(), event(t, lineage.Start, nil)); err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 2 {
		t.Fatalf("%d requests, want a 503 and its retry", len(rec.bodies))
	}
	for i, b := range rec.bodies {
		if rec.types[i] != "POST application/json" {
			t.Errorf("request %d: %s", i, rec.types[i])
		}
		if err := v.Event(b); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
}

func TestHTTPTransportFailsOnRefusal(t *testing.T) {
	rec := &recorder{status: []int{http.StatusBadRequest}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "events.jsonl")
	em := lineage.NewEmitter(&lineage.HTTP{URL: srv.URL}, &lineage.JSONLines{Path: file})
	err := em.Emit(context.Background(), event(t, lineage.Start, nil))
	var nd *lineage.NotDeliveredError
	if !errors.As(err, &nd) || nd.EventType != lineage.Start || !strings.Contains(err.Error(), "400") {
		t.Fatalf("err %v", err)
	}
	if len(rec.bodies) != 1 {
		t.Fatalf("a 400 was retried: %d requests", len(rec.bodies))
	}
	// The file still got its event: one transport's failure costs no other.
	if b, err := os.ReadFile(file); err != nil || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("file: %q %v", b, err)
	}
}

func TestHTTPTransportUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := lineage.NewEmitter(&lineage.HTTP{URL: url, Attempts: 2}).Emit(context.Background(), event(t, lineage.Start, nil))
	if err == nil {
		t.Fatal("delivered to a closed port")
	}
}

func TestJSONLinesAppendsOneEventPerLine(t *testing.T) {
	v := lineagetest.New(t)
	file := filepath.Join(t.TempDir(), "events.jsonl")
	em := lineage.NewEmitter(&lineage.JSONLines{Path: file})
	for _, typ := range []string{lineage.Start, lineage.Complete, lineage.Start, lineage.Fail} {
		if err := em.Emit(context.Background(), event(t, typ, nil)); err != nil {
			t.Fatal(err)
		}
	}
	evs := v.Lines(t, file)
	if len(evs) != 4 || evs[1]["eventType"] != "COMPLETE" || evs[3]["eventType"] != "FAIL" {
		t.Fatalf("%v", evs)
	}
}

func TestNilEmitterSendsNothing(t *testing.T) {
	var em *lineage.Emitter
	if lineage.NewEmitter() != nil || em.Emit(context.Background(), lineage.RunEvent{}) != nil {
		t.Fatal("an emitter without transports must be nil and send nothing")
	}
}
