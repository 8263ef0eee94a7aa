package contract_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/testutil/contract"
)

// TestCheckerRefusesWhatTheDocumentDoesNotSay feeds the checker answers
// that break the document in each way it must notice.
func TestCheckerRefusesWhatTheDocumentDoesNotSay(t *testing.T) {
	cv, err := contract.New()
	if err != nil {
		t.Fatal(err)
	}
	jsonHdr := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	started := `{"request_id":"r1","status":"code_sent","expires_at":"2026-05-12T11:00:00Z","resend_after":"2026-05-12T10:01:00Z","code_delayed":false}`
	envelope := `{"error":{"code":"rate_limited","message":"Too many."}}`
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"documented answer", "POST", "/api/v1/objections", 202, jsonHdr, started, true},
		{"documented refusal", "POST", "/api/v1/objections", 429, jsonHdr, envelope, true},
		{"undocumented status", "POST", "/api/v1/objections", 418, jsonHdr, envelope, false},
		{"member missing", "POST", "/api/v1/objections", 202, jsonHdr, strings.Replace(started, `"status":"code_sent",`, "", 1), false},
		{"member added", "POST", "/api/v1/objections", 202, jsonHdr, strings.Replace(started, `{`, `{"email":"a@b.c",`, 1), false},
		{"code not in the enum", "POST", "/api/v1/objections", 429, jsonHdr, `{"error":{"code":"slow_down","message":"x"}}`, false},
		{"bad date-time", "POST", "/api/v1/objections", 202, jsonHdr, strings.Replace(started, "2026-05-12T11:00:00Z", "tomorrow", 1), false},
		{"wrong media type", "POST", "/api/v1/objections", 202, http.Header{"Content-Type": {"text/html"}}, "<p>", false},
		{"catch-all 404", "GET", "/api/v1/nothing", 404, jsonHdr, `{"error":{"code":"not_found","message":"No."}}`, true},
		{"undocumented route answering", "GET", "/api/v1/nothing", 200, jsonHdr, `{"error":{"code":"internal","message":"No."}}`, false},
		{"tile path with slashes", "GET", "/log/tile/0/x001/234.p/5", 200, http.Header{"Content-Type": {"application/octet-stream"}}, "\x00", true},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		err := cv.Response(r, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: ok %v, got %v", tc.name, tc.ok, err)
		}
	}
}
