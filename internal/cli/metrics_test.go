package cli_test

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// /metrics is served on --metrics-addr only; the portal's own listener
// answers 404 for it.
func TestMetricsListenerIsSeparate(t *testing.T) {
	base, out := serverOut(t, nil, "--demo", "--db", filepath.Join(t.TempDir(), "n.db"))
	m := regexp.MustCompile(`metrics: (http://127\.0\.0\.1:\d+/metrics)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the banner names no metrics listener:\n%s", out.String())
	}
	postJSON(t, base+"/api/v1/objections", map[string]any{"email": "anna@example.de"})
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(base + "/metrics"); code != http.StatusNotFound || strings.Contains(body, "notrain_") {
		t.Fatalf("portal /metrics: %d %.200s", code, body)
	}
	// The histogram has a series once the dispatcher has sent the code.
	var code int
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, body = get(m[1]); code != http.StatusOK || strings.Contains(body, `notrain_mail_delivery_delay_seconds_count{kind="code"} 1`) {
			break
		}
	}
	if code != http.StatusOK {
		t.Fatalf("%s: %d %.200s", m[1], code, body)
	}
	// serve wires the backlog gauges and the delivery delay histogram.
	for _, name := range []string{"notrain_http_requests_total", `notrain_outbox_backlog{priority="urgent"}`,
		"notrain_outbox_oldest_urgent_age_seconds", "notrain_mail_behind", "notrain_store_write_queue_depth",
		"notrain_store_write_queue_capacity", "notrain_mail_delivery_delay_seconds_count"} {
		if !strings.Contains(body, name) {
			t.Errorf("%s lacks %s", m[1], name)
		}
	}
}

func TestMetricsAddrMustBeHostPort(t *testing.T) {
	code, _, stderr := run(t, t.TempDir(), nil, "serve", "--db", filepath.Join(t.TempDir(), "n.db"), "--metrics-addr", "9464")
	if code == 0 || !strings.Contains(stderr, "--metrics-addr") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
