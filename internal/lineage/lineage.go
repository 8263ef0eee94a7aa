// Package lineage builds OpenLineage run events (https://openlineage.io/spec/2-0-2/OpenLineage.json)
// and delivers them to an HTTP endpoint, as OpenLineage's HTTP transport
// does, or to a JSON Lines file. It knows nothing of what a run does: the
// caller names the job, the datasets and the facets.
package lineage

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
)

// SpecURL is the OpenLineage schema the events follow.
const SpecURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

// SchemaURL is the schema of a run event, as the spec asks each event to name it.
const SchemaURL = SpecURL + "#/$defs/RunEvent"

// Schemas of the standard facets used here, in the versions of spec 2-0-2.
const (
	ErrorFacetSchemaURL            = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	JobTypeFacetSchemaURL          = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	ProcessingEngineFacetSchemaURL = "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
	DatasetVersionFacetSchemaURL   = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	OutputStatisticsFacetSchemaURL = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
)

// Event types of a run: one START, then one of COMPLETE, FAIL or ABORT.
const (
	Start    = "START"
	Complete = "COMPLETE"
	Fail     = "FAIL"
	Abort    = "ABORT"
)

// RunEvent is one OpenLineage run event.
type RunEvent struct {
	EventType string    `json:"eventType"`
	EventTime string    `json:"eventTime"`
	Run       Run       `json:"run"`
	Job       Job       `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
}

// Run identifies the run; Facets are run facets keyed by name.
type Run struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// Job is the job the run belongs to: stable across runs.
type Job struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// Dataset is an input or output dataset. InputFacets are for inputs only,
// OutputFacets for outputs only.
type Dataset struct {
	Namespace    string         `json:"namespace"`
	Name         string         `json:"name"`
	Facets       map[string]any `json:"facets,omitempty"`
	InputFacets  map[string]any `json:"inputFacets,omitempty"`
	OutputFacets map[string]any `json:"outputFacets,omitempty"`
}

// Facet is the part every facet carries: who produced it and the schema it
// follows. Custom facets embed it.
type Facet struct {
	Producer  string `json:"_producer"`
	SchemaURL string `json:"_schemaURL"`
}

// ErrorMessage is OpenLineage's standard error facet ("errorMessage").
type ErrorMessage struct {
	Facet
	Message             string `json:"message"`
	ProgrammingLanguage string `json:"programmingLanguage"`
}

// JobType is the standard job facet "jobType".
type JobType struct {
	Facet
	ProcessingType string `json:"processingType"` // BATCH, STREAMING or SERVICE
	Integration    string `json:"integration"`
	JobType        string `json:"jobType,omitempty"`
}

// ProcessingEngine is the standard run facet "processing_engine".
type ProcessingEngine struct {
	Facet
	Version string `json:"version"`
	Name    string `json:"name,omitempty"`
}

// DatasetVersion is the standard dataset facet "version".
type DatasetVersion struct {
	Facet
	DatasetVersion string `json:"datasetVersion"`
}

// OutputStatistics is the standard output dataset facet "outputStatistics".
type OutputStatistics struct {
	Facet
	RowCount  int64 `json:"rowCount"`
	Size      int64 `json:"size"`
	FileCount int64 `json:"fileCount"`
}

// NewErrorMessage is the error facet for err.
func NewErrorMessage(producer string, err error) ErrorMessage {
	return ErrorMessage{Facet: Facet{Producer: producer, SchemaURL: ErrorFacetSchemaURL}, Message: err.Error(), ProgrammingLanguage: "Go"}
}

// File is a local file as a dataset: namespace "file", the absolute path as
// its name, which is how OpenLineage names files on a local file system.
func File(path string) Dataset {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return Dataset{Namespace: "file", Name: path}
}

// Time is the event time as the spec wants it: RFC 3339 with the offset.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// NewRunID returns a UUID version 7, which OpenLineage recommends for run
// ids: unique, and ordered by the time the run started.
func NewRunID(now time.Time) (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[6:]); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	copy(u[:6], ms[2:])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// MarshalJSON writes absent datasets as [], since the spec allows no null.
func (e RunEvent) MarshalJSON() ([]byte, error) {
	type plain RunEvent
	if e.Inputs == nil {
		e.Inputs = []Dataset{}
	}
	if e.Outputs == nil {
		e.Outputs = []Dataset{}
	}
	return json.Marshal(plain(e))
}
