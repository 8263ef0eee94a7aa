package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/review"
)

// FuzzDecisionBody: whatever the body, the admin API's decision parser
// answers with a known status and code and never panics; what it accepts
// is a decision the queue understands.
func FuzzDecisionBody(f *testing.F) {
	for _, s := range []string{`{"decision":"approve"}`, `{"decision":"reject","note":"x"}`, `{"decision":"more_info","note":""}`,
		`{"decision":"approve","decision":"reject"}`, `{"Decision":"approve"}`, `[]`, `{"note":1}`, "\xef\xbb\xbf{}", `{"decision":"\ud800"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/admin/reviews/R/decision", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, MaxBody)
		var req decisionRequest
		status, code := decodeJSON(r, &req)
		switch status {
		case 0:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if code != "invalid_json" && code != "invalid_request" && code != "body_too_large" {
				t.Fatalf("status %d with code %q", status, code)
			}
			return
		default:
			t.Fatalf("status %d", status)
		}
		if err := validDecision(req); err == nil {
			if req.Decision != review.Approve && req.Decision != review.Reject && req.Decision != review.MoreInfo {
				t.Fatalf("accepted decision %q", req.Decision)
			}
			if req.Decision != review.Approve && strings.TrimSpace(req.Note) == "" {
				t.Fatal("accepted a rejection without a note")
			}
		}
	})
}
