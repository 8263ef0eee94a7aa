// Package lineagetest checks OpenLineage events against the official JSON
// schema (internal/lineage/testdata) and every facet against the schema its
// _schemaURL names, offline. For tests only.
package lineagetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemas maps each known schema URL to its file, relative to the module's
// root. A facet whose schema is not here fails validation: an event must
// not carry a facet nobody can check.
var schemas = map[string]string{
	"https://openlineage.io/spec/2-0-2/OpenLineage.json":                                "internal/lineage/testdata/OpenLineage.json",
	"https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json":                "internal/lineage/testdata/ErrorMessageRunFacet.json",
	"https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json":                     "internal/lineage/testdata/JobTypeJobFacet.json",
	"https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json":            "internal/lineage/testdata/ProcessingEngineRunFacet.json",
	"https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json":          "internal/lineage/testdata/DatasetVersionDatasetFacet.json",
	"https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json":  "internal/lineage/testdata/OutputStatisticsOutputDatasetFacet.json",
	"https://github.com/notrain/notrain/blob/main/internal/snapshot/lineagefacets.json": "internal/snapshot/lineagefacets.json",
}

// Validator validates events.
type Validator struct {
	c        *jsonschema.Compiler
	runEvent *jsonschema.Schema
}

// New loads the schemas.
func New(t testing.TB) *Validator {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..", "..")
	c := jsonschema.NewCompiler()
	c.AssertFormat() // uuid, date-time and uri are checked, not only annotated
	for u, p := range schemas {
		f, err := os.Open(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := c.AddResource(u, doc); err != nil {
			t.Fatal(err)
		}
	}
	re, err := c.Compile("https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent")
	if err != nil {
		t.Fatal(err)
	}
	return &Validator{c: c, runEvent: re}
}

// Event validates one encoded run event and each of its facets.
func (v *Validator) Event(b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := v.runEvent.Validate(inst); err != nil {
		return fmt.Errorf("run event: %w", err)
	}
	var ev struct {
		SchemaURL string `json:"schemaURL"`
		Run       struct {
			Facets map[string]json.RawMessage `json:"facets"`
		} `json:"run"`
		Job struct {
			Facets map[string]json.RawMessage `json:"facets"`
		} `json:"job"`
		Inputs, Outputs []struct {
			Facets       map[string]json.RawMessage `json:"facets"`
			InputFacets  map[string]json.RawMessage `json:"inputFacets"`
			OutputFacets map[string]json.RawMessage `json:"outputFacets"`
		}
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return err
	}
	if _, ok := schemas[strings.SplitN(ev.SchemaURL, "#", 2)[0]]; !ok {
		return fmt.Errorf("schemaURL %q is not a known OpenLineage schema", ev.SchemaURL)
	}
	all := []map[string]json.RawMessage{ev.Run.Facets, ev.Job.Facets}
	for _, d := range append(ev.Inputs, ev.Outputs...) {
		all = append(all, d.Facets, d.InputFacets, d.OutputFacets)
	}
	for _, fs := range all {
		for name, raw := range fs {
			if err := v.facet(raw); err != nil {
				return fmt.Errorf("facet %s: %w", name, err)
			}
		}
	}
	return nil
}

func (v *Validator) facet(raw json.RawMessage) error {
	var f struct {
		SchemaURL string `json:"_schemaURL"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return err
	}
	if _, ok := schemas[strings.SplitN(f.SchemaURL, "#", 2)[0]]; !ok {
		return fmt.Errorf("_schemaURL %q is not a known schema", f.SchemaURL)
	}
	sch, err := v.c.Compile(f.SchemaURL)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// Lines validates a JSON Lines file of events and returns them decoded.
func (v *Validator) Lines(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := v.Event(sc.Bytes()); err != nil {
			t.Fatalf("%s line %d: %v\n%s", path, n, err, sc.Bytes())
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
