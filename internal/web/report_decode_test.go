package web

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/report"
)

// FuzzReportBody: a report body is decoded by the strict decoder and
// validated by the report service without panicking; every refusal is a
// stable code (a 400 of the decoder or of the service).
func FuzzReportBody(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@b.de","items":["fb:1","https://www.facebook.example/photo/2"],"relation":"me","lang":"de"}`,
		`{"email":"a@b.de","items":[],"relation":"other"}`, `{"items":"fb:1"}`, `{"items":[1]}`, `{"relation":"me","relation":"me"}`,
		`{"email":"a@b.de","items":["fb:1"],"relation":"my_child","description":"\u0000","account":"x"}`, "\ufeff{}",
		`{"email":"a@b.de","items":["fb:1"],"relation":"me","follows":"NTR-AB12-CD34-EF56"}`, `{"follows":"NTR-\u0000"}`, `{"follows":7}`,
	} {
		f.Add([]byte(s))
	}
	pats, err := report.ParsePatterns(strings.NewReader("fb https://www.facebook.example/photo/{id}\n"))
	if err != nil {
		f.Fatal(err)
	}
	codes := append(report.Codes(), objection.Codes()...)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req apiReportRequest
		if err := decodeBody(body, &req); err != nil {
			var de *decodeError
			if !errors.As(err, &de) || (de.code != "invalid_json" && de.code != "invalid_request") || de.status != 400 {
				t.Fatalf("decodeBody(%q) = %v, not a stable 400", body, err)
			}
			return
		}
		var std apiReportRequest
		if err := json.Unmarshal(body, &std); err != nil || !slices.Equal(std.Items, req.Items) || std.Relation != req.Relation {
			t.Fatalf("decodeBody(%q) = %+v, encoding/json: %+v %v", body, req, std, err)
		}
		data, errs := report.Validate(pats, report.Input{Email: req.Email, Items: req.Items, Relation: req.Relation, Description: req.Description, Account: req.Account, Follows: req.Follows})
		for _, e := range errs {
			if !slices.Contains(codes, e.Code) || refusalStatus(e.Code) != 400 {
				t.Fatalf("refusal %q is not a stable 400 code", e.Code)
			}
		}
		if len(errs) == 0 && !json.Valid([]byte(data)) {
			t.Fatalf("carried data is not JSON: %q", data)
		}
	})
}
