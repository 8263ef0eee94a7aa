// Package signal reads creators' machine-readable do-not-train reservations
// carried on a content record: IETF AIPREF's Content-Usage, W3C TDMRep's
// tdm-reservation and the C2PA/CAWG training-and-data-mining assertion.
//
// Each function takes the field's raw JSON value (as it stands in the
// record; nil when the field is absent) and reports whether it reserves the
// content from AI training. A value that cannot be read with certainty
// reserves it: a false exclusion costs one training example, a false
// inclusion ignores a creator's stated wish (DESIGN.md, "when in doubt,
// exclude").
package signal

import (
	"bytes"

	"github.com/dunglas/httpsfv"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The record fields, as the contract names them.
const (
	FieldAIPref = "content_usage"   // a Content-Usage header value (RFC 9651 dictionary)
	FieldTDMRep = "tdm_reservation" // 1: rights reserved (TDMRep)
	FieldC2PA   = "training_mining" // a C2PA/CAWG training-mining assertion
)

// isNull reports whether raw is absent or JSON null: no signal.
func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// aiprefKeys are the Content-Usage categories that cover training an AI
// model on the content, most specific first. The platform trains
// generative models, so train-genai speaks to it as much as train-ai does;
// bulk (all automated processing) holds only when neither is stated, as
// the vocabulary's more specific categories override the broader one.
var aiprefKeys = [...]string{"train-genai", "train-ai"}

// AIPref reports whether a content_usage value reserves the content: its
// train-ai or train-genai preference is n (or, when neither is stated,
// bulk is n). A value that is not a string, does not parse as a
// structured-field dictionary, or gives one of these categories anything
// but the token y or n reserves it.
func AIPref(raw []byte) bool {
	if isNull(raw) {
		return false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return true
	}
	d, err := httpsfv.UnmarshalDictionary([]string{s})
	if err != nil {
		return true
	}
	stated := false
	for _, k := range aiprefKeys {
		if m, ok := d.Get(k); ok {
			stated = true
			if !allows(m) {
				return true
			}
		}
	}
	if stated {
		return false
	}
	if m, ok := d.Get("bulk"); ok {
		return !allows(m)
	}
	return false
}

// allows reports whether a dictionary member is the token y.
func allows(m httpsfv.Member) bool {
	it, ok := m.(httpsfv.Item)
	if !ok {
		return false
	}
	t, ok := it.Value.(httpsfv.Token)
	return ok && t == "y"
}

// TDMRep reports whether a tdm_reservation value reserves the content.
// TDMRep knows 0 (not reserved) and 1 (reserved); anything but 0 — as a
// number or a string — and null reserves it.
func TDMRep(raw []byte) bool {
	if isNull(raw) {
		return false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return true
	}
	switch v := v.(type) {
	case float64:
		return v != 0
	case string:
		return v != "0"
	}
	return true
}

// c2paEntries are the assertion's entries that govern AI training: CAWG's
// (cawg.training-mining) and C2PA's earlier c2pa.training-mining names.
// Inference and plain data mining are not training and are not read.
var c2paEntries = [...]string{"cawg.ai_training", "cawg.ai_generative_training", "c2pa.ai_training", "c2pa.ai_generative_training"}

// C2PA reports whether a training_mining value reserves the content: an
// AI-training entry's use is notAllowed or constrained. The value is the
// assertion — an object with "entries", the same as a manifest lists it
// ({"label": "cawg.training-mining", "data": {"entries": …}}), or the
// entries object itself —
// or a JSON string holding it (as a Parquet string column carries it). An
// unreadable value, or such an entry without a use of allowed, notAllowed
// or constrained, reserves it.
func C2PA(raw []byte) bool {
	if isNull(raw) {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if isNull([]byte(s)) {
			return true // a string that says nothing is no assertion
		}
		raw = []byte(s)
	}
	var a map[string]jsontext.Value
	if err := json.Unmarshal(raw, &a); err != nil {
		return true
	}
	// A manifest's assertion as C2PA tools print it: {"label": …, "data": {"entries": …}}.
	if d, ok := a["data"]; ok && !isNull(d) {
		if _, ok := a["entries"]; !ok {
			a = nil
			if err := json.Unmarshal(d, &a); err != nil {
				return true
			}
		}
	}
	if e, ok := a["entries"]; ok {
		a = nil
		if err := json.Unmarshal(e, &a); err != nil {
			return true
		}
	}
	for _, k := range c2paEntries {
		e, ok := a[k]
		if !ok || isNull(e) { // null: not stated, as a Parquet group's missing entry reads
			continue
		}
		var entry struct {
			Use *string `json:"use"`
		}
		if err := json.Unmarshal(e, &entry); err != nil || entry.Use == nil {
			return true
		}
		if *entry.Use != "allowed" { // notAllowed, constrained, or unknown
			return true
		}
	}
	return false
}
