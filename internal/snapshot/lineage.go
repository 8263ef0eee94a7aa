package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/lineage"
)

// Lineage names of the filter's job.
const (
	LineageNamespace = "notrain"
	LineageJob       = "filter"
	// LineageProducer is the producer URI every event and facet carries.
	LineageProducer = "https://github.com/notrain/notrain"
	// lineageFacets is where the schemas of notrain's own facets live.
	lineageFacets = "https://github.com/notrain/notrain/blob/main/internal/snapshot/lineagefacets.json#/$defs/"
)

// PolicyFacet is the run facet "notrain_policy": the policy the run applied.
type PolicyFacet struct {
	lineage.Facet
	SHA256 string `json:"sha256"`
	Source string `json:"source"`
	Name   string `json:"name,omitempty"`
}

// LedgerHeadFacet is the run facet "notrain_ledgerHead": the eligibility
// ledger entry the run's eligibility is read at.
type LedgerHeadFacet struct {
	lineage.Facet
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// CountsFacet is the run facet "notrain_counts": records read, kept, and
// excluded per reason.
type CountsFacet struct {
	lineage.Facet
	Read     int64            `json:"read"`
	Eligible int64            `json:"eligible"`
	Excluded map[string]int64 `json:"excluded"`
}

// ManifestFacet is the run facet "notrain_manifest": the snapshot's manifest.
type ManifestFacet struct {
	lineage.Facet
	SnapshotID string `json:"snapshotId"`
	Path       string `json:"path"`
	SHA256     string `json:"sha256"`
	Registered bool   `json:"registered"`
}

// LineageRun reports one filter run as OpenLineage events: START when it
// is made, then COMPLETE or FAIL from Finish. A nil emitter reports nothing.
type LineageRun struct {
	em       *lineage.Emitter
	now      func() time.Time
	runID    string
	inputs   []lineage.Dataset
	outputs  []lineage.Dataset
	manifest string
	version  string
}

// StartLineage sends the START event of a run over inputs into output,
// before anything is read. If it cannot be delivered the error says so and
// the caller should not run: a run the lineage system never heard of would
// be a run without a record. Version is notrain's, for the processing_engine facet.
func StartLineage(ctx context.Context, em *lineage.Emitter, now func() time.Time, version string, inputs []string, output, manifest string) (*LineageRun, error) {
	if now == nil {
		now = time.Now
	}
	l := &LineageRun{em: em, now: now, version: version, manifest: manifest}
	if em == nil {
		return l, nil
	}
	id, err := lineage.NewRunID(now())
	if err != nil {
		return nil, err
	}
	l.runID = id
	for _, p := range inputs {
		l.inputs = append(l.inputs, lineage.File(p))
	}
	l.outputs = []lineage.Dataset{lineage.File(output)}
	if err := em.Emit(ctx, l.event(lineage.Start, nil)); err != nil {
		// A transport that did take the START gets the run's end too, so
		// it holds no run that seems to go on for ever. The FAIL's own
		// delivery error is the START's over again and is not repeated.
		err = fmt.Errorf("%w (nothing was read or written)", err)
		_ = l.Finish(ctx, nil, err)
		return nil, err
	}
	return l, nil
}

// RunID is the run's OpenLineage id ("" without an emitter).
func (l *LineageRun) RunID() string { return l.runID }

// Finish sends COMPLETE for a built snapshot (res, with buildErr nil) or
// FAIL with the error. Its error is only about delivering the event: the
// snapshot, built or not, is what res and buildErr say.
func (l *LineageRun) Finish(ctx context.Context, res *Result, buildErr error) error {
	if l == nil || l.em == nil {
		return nil
	}
	// An interrupted run still reports its end: the run's context may be
	// cancelled by now, so the event gets its own bounded time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if buildErr != nil || res == nil {
		if buildErr == nil {
			buildErr = fmt.Errorf("no snapshot was built")
		}
		return l.em.Emit(ctx, l.event(lineage.Fail, map[string]any{"errorMessage": lineage.NewErrorMessage(LineageProducer, buildErr)}))
	}
	facet := func(name string) lineage.Facet {
		return lineage.Facet{Producer: LineageProducer, SchemaURL: lineageFacets + name}
	}
	m := res.Manifest
	facets := map[string]any{
		"notrain_policy":     PolicyFacet{Facet: facet("PolicyRunFacet"), SHA256: m.PolicySHA256, Source: m.Policy.Source, Name: m.Policy.Name},
		"notrain_ledgerHead": LedgerHeadFacet{Facet: facet("LedgerHeadRunFacet"), Seq: m.LedgerHead.Seq, Hash: m.LedgerHead.Hash},
		"notrain_manifest": ManifestFacet{Facet: facet("ManifestRunFacet"), SnapshotID: m.SnapshotID,
			Path: lineage.File(l.manifest).Name, SHA256: res.ManifestSHA256, Registered: m.Registered},
	}
	if res.Filter != nil {
		c := res.Filter.Counts
		facets["notrain_counts"] = CountsFacet{Facet: facet("CountsRunFacet"), Read: c.Read, Eligible: c.Eligible, Excluded: c.ExcludedByReason()}
	}
	ev := l.event(lineage.Complete, facets)
	// The datasets' versions are their contents' digests as the manifest
	// records them ("sha256:…" or "blake3:…"), so a lineage graph tells two
	// runs' files apart.
	std := func(schema string) lineage.Facet { return lineage.Facet{Producer: LineageProducer, SchemaURL: schema} }
	version := func(f filter.FileInfo) map[string]any {
		alg, sum := f.Digest()
		if alg == "" {
			return nil
		}
		return map[string]any{"version": lineage.DatasetVersion{Facet: std(lineage.DatasetVersionFacetSchemaURL), DatasetVersion: string(alg) + ":" + sum}}
	}
	if res.Filter != nil {
		byName := map[string]filter.FileInfo{}
		for _, in := range res.Filter.Inputs {
			byName[lineage.File(in.Path).Name] = in
		}
		ev.Inputs = append([]lineage.Dataset(nil), ev.Inputs...)
		for i, d := range ev.Inputs {
			if in, ok := byName[d.Name]; ok {
				ev.Inputs[i].Facets = version(in)
			}
		}
		out := res.Filter.Output
		ev.Outputs = []lineage.Dataset{l.outputs[0]}
		ev.Outputs[0].Facets = version(out)
		ev.Outputs[0].OutputFacets = map[string]any{"outputStatistics": lineage.OutputStatistics{
			Facet: std(lineage.OutputStatisticsFacetSchemaURL), RowCount: res.Filter.Counts.Eligible, Size: out.Bytes, FileCount: int64(max(1, len(m.Outputs)))}}
	}
	return l.em.Emit(ctx, ev)
}

func (l *LineageRun) event(typ string, facets map[string]any) lineage.RunEvent {
	std := func(schema string) lineage.Facet { return lineage.Facet{Producer: LineageProducer, SchemaURL: schema} }
	if facets == nil {
		facets = map[string]any{}
	}
	if l.version != "" {
		facets["processing_engine"] = lineage.ProcessingEngine{Facet: std(lineage.ProcessingEngineFacetSchemaURL), Name: "notrain", Version: l.version}
	}
	return lineage.RunEvent{
		EventType: typ, EventTime: lineage.Time(l.now()),
		Run: lineage.Run{RunID: l.runID, Facets: facets},
		Job: lineage.Job{Namespace: LineageNamespace, Name: LineageJob, Facets: map[string]any{
			"jobType": lineage.JobType{Facet: std(lineage.JobTypeFacetSchemaURL), ProcessingType: "BATCH", Integration: "NOTRAIN", JobType: "JOB"}}},
		Inputs: l.inputs, Outputs: l.outputs,
		Producer: LineageProducer, SchemaURL: lineage.SchemaURL,
	}
}
