package web

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzBearer: the header parser returns a token only for the Bearer scheme,
// never with surrounding space.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer ntk_abc", "bearer  ntp_1 ", "Basic xyz", "Bearer", "", "Bearer\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := &http.Request{Header: http.Header{"Authorization": {h}}}
		tok := bearer(r)
		if tok != strings.TrimSpace(tok) || tok != "" && !strings.EqualFold(h[:7], "bearer ") {
			t.Fatalf("%q → %q", h, tok)
		}
	})
}

// FuzzModelBody: any body either decodes to the request shape or is
// refused with a stable code.
func FuzzModelBody(f *testing.F) {
	for _, s := range []string{`{"name":"a","snapshots":["s"],"trained_at":"2026-01-01T00:00:00Z"}`, `{"name":1}`, `{}`, `[`, `{"Name":"a"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req apiModelRequest
		err := decodeBody(b, &req)
		if err == nil {
			return
		}
		if de, ok := err.(*decodeError); !ok || de.code != "invalid_json" && de.code != "invalid_request" {
			t.Fatalf("%q: %v", b, err)
		}
	})
}
