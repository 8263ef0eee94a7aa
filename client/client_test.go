package client

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// An answer that is not the envelope (a proxy's page, a truncated body)
// is still an *Error with the status, and never a panic.
func TestAnswerErrorWithoutEnvelope(t *testing.T) {
	resp := &http.Response{StatusCode: 502, Header: http.Header{"Retry-After": {"7"}}}
	e := answerError(resp, []byte("<html>"+strings.Repeat("x", 500)))
	if e.Status != 502 || e.Code != "" || len(e.Message) > 200 || e.RetryAfter != 7*time.Second || !strings.HasPrefix(e.Error(), "notrain: 502: <html>") {
		t.Fatalf("%+v %q", e, e.Error())
	}
	e = answerError(&http.Response{StatusCode: 400, Header: http.Header{}},
		[]byte(`{"error":{"code":"code_invalid","message":"Wrong.","field":"code","attempts_remaining":2}}`))
	if e.Code != "code_invalid" || e.Field != "code" || e.AttemptsRemaining == nil || *e.AttemptsRemaining != 2 || e.Error() != "notrain: 400 code_invalid (code): Wrong." {
		t.Fatalf("%+v %q", e, e.Error())
	}
}

func FuzzAnswerError(f *testing.F) {
	f.Add(429, "30", []byte(`{"error":{"code":"rate_limited","message":"Later.","retry_after":30}}`))
	f.Add(413, "", []byte(`{"error":{"code":"body_too_large","message":"x","snapshots":["a"]}}`))
	f.Add(500, "x", []byte("internal error\n"))
	f.Add(400, "-1", []byte(`{"error":{"code":1}}`))
	f.Add(429, "", []byte(`{"error":{"code":"rate_limited","message":"x","retry_after":-5}}`))
	f.Fuzz(func(t *testing.T, status int, retry string, body []byte) {
		e := answerError(&http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retry}}}, body)
		if e.Status != status || e.Error() == "" || e.RetryAfter < 0 {
			t.Fatalf("%+v", e)
		}
	})
}
