package web

import (
	"errors"
	"testing"
)

func FuzzDecodeStartRequest(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.de","scope":"all","lang":"de"}`, `{"email":"a@b.de","scope":["instagram"]}`,
		`{"email":1}`, `{"x":1}`, `{} {}`, `[]`, `null`, `{"scope":{"a":1}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req apiStartRequest
		err := decodeBody(body, &req)
		if err != nil {
			var de *decodeError
			if !errors.As(err, &de) || (de.code != "invalid_json" && de.code != "invalid_request") || de.status != 400 {
				t.Fatalf("decodeBody(%q) = %v, not a stable 400", body, err)
			}
			return
		}
		if _, err := parseScope(req.Scope); err != nil {
			if err.Error() != "scope_invalid" {
				t.Fatalf("parseScope(%q) = %v", req.Scope, err)
			}
		}
	})
}
