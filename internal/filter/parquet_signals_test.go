package filter

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type pqUse struct {
	Use string `parquet:"use"`
}

// pqTraining is a C2PA/CAWG training-mining assertion as a Parquet group.
type pqTraining struct {
	Entries struct {
		AITraining  *pqUse `parquet:"cawg.ai_training,optional"`
		AIInference *pqUse `parquet:"cawg.ai_inference,optional"`
	} `parquet:"entries"`
}

type pqSignalRow struct {
	ID             string      `parquet:"id"`
	Product        string      `parquet:"product"`
	AuthorID       string      `parquet:"author_id"`
	Kind           string      `parquet:"kind"`
	Visibility     string      `parquet:"visibility"`
	CreatedAt      string      `parquet:"created_at"`
	ContentUsage   *string     `parquet:"content_usage,optional"`
	TDMReservation *int64      `parquet:"tdm_reservation,optional"`
	TrainingMining *pqTraining `parquet:"training_mining,optional"`
}

// The same assertion as JSON text in a string column.
type pqSignalTextRow struct {
	ID             string  `parquet:"id"`
	Product        string  `parquet:"product"`
	AuthorID       string  `parquet:"author_id"`
	Kind           string  `parquet:"kind"`
	Visibility     string  `parquet:"visibility"`
	CreatedAt      string  `parquet:"created_at"`
	TrainingMining *string `parquet:"training_mining,optional"`
}

func TestParquetSignals(t *testing.T) {
	str := func(s string) *string { return &s }
	use := func(training, inference string) *pqTraining {
		var tm pqTraining
		if training != "" {
			tm.Entries.AITraining = &pqUse{Use: training}
		}
		if inference != "" {
			tm.Entries.AIInference = &pqUse{Use: inference}
		}
		return &tm
	}
	row := func(id string, f func(*pqSignalRow)) pqSignalRow {
		r := pqSignalRow{ID: id, Product: "facebook", AuthorID: "ben", Kind: "post", Visibility: "public", CreatedAt: "2026-01-01T10:00:00Z"}
		f(&r)
		return r
	}
	rows := []pqSignalRow{
		row("keep", func(r *pqSignalRow) {}),
		row("aipref", func(r *pqSignalRow) { r.ContentUsage = str("train-ai=n, search=y") }),
		row("aipref-y", func(r *pqSignalRow) { r.ContentUsage = str("train-ai=y") }),
		row("aipref-bad", func(r *pqSignalRow) { r.ContentUsage = str("train-ai=") }),
		row("tdm", func(r *pqSignalRow) { r.TDMReservation = pqInt64(1) }),
		row("tdm-0", func(r *pqSignalRow) { r.TDMReservation = pqInt64(0) }),
		row("c2pa", func(r *pqSignalRow) { r.TrainingMining = use("notAllowed", "") }),
		row("c2pa-constrained", func(r *pqSignalRow) { r.TrainingMining = use("constrained", "allowed") }),
		row("c2pa-allowed", func(r *pqSignalRow) { r.TrainingMining = use("allowed", "notAllowed") }),
		row("c2pa-empty", func(r *pqSignalRow) { r.TrainingMining = use("", "") }),
		row("objection-first", func(r *pqSignalRow) { r.AuthorID = "obj"; r.TDMReservation = pqInt64(1) }),
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	pqWrite(t, in, rows, parquet.MaxRowsPerRowGroup(4))
	for _, c := range []struct {
		policy string
		kept   []string
		counts map[string]int64
	}{
		{"", []string{"keep", "aipref-y", "tdm-0", "c2pa-allowed", "c2pa-empty"},
			map[string]int64{"signal_aipref": 2, "signal_tdmrep": 1, "signal_c2pa": 2, "objection": 1}},
		{"signals: {aipref: false, tdmrep: false, c2pa: false}",
			[]string{"keep", "aipref", "aipref-y", "aipref-bad", "tdm", "tdm-0", "c2pa", "c2pa-constrained", "c2pa-allowed", "c2pa-empty"},
			map[string]int64{"objection": 1}},
	} {
		out := filepath.Join(t.TempDir(), "out.parquet")
		res := pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, c.policy), Workers: 2})
		got, err := parquet.ReadFile[pqSignalRow](out)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, c.kept) {
			t.Errorf("policy %q: kept %v, want %v", c.policy, ids, c.kept)
		}
		for reason, n := range c.counts {
			if res.Counts.ExcludedByReason()[reason] != n {
				t.Errorf("policy %q: %s = %d, want %d (%v)", c.policy, reason, res.Counts.ExcludedByReason()[reason], n, res.Counts.ExcludedByReason())
			}
		}
	}

	// The assertion as JSON text in a string column.
	text := []pqSignalTextRow{
		{ID: "t-no", TrainingMining: str(`{"entries":{"c2pa.ai_generative_training":{"use":"notAllowed"}}}`)},
		{ID: "t-yes", TrainingMining: str(`{"entries":{"c2pa.ai_generative_training":{"use":"allowed"}}}`)},
		{ID: "t-garbled", TrainingMining: str(`{"entries":`)},
		{ID: "t-null"},
	}
	for i := range text {
		r := &text[i]
		r.Product, r.AuthorID, r.Kind, r.Visibility, r.CreatedAt = "facebook", "ben", "post", "public", "2026-01-01T10:00:00Z"
	}
	in = filepath.Join(dir, "text.parquet")
	pqWrite(t, in, text)
	out := filepath.Join(t.TempDir(), "out.parquet")
	res := pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, ""), Workers: 2})
	got, err := parquet.ReadFile[pqSignalTextRow](out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "t-yes" || got[1].ID != "t-null" || res.Counts.ExcludedByReason()["signal_c2pa"] != 2 {
		t.Errorf("kept %+v, counts %v", got, res.Counts.ExcludedByReason())
	}
}
