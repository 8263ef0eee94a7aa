package cli_test

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	if code, body := get(m[1]); code != http.StatusOK || !strings.Contains(body, "notrain_http_requests_total") {
		t.Fatalf("%s: %d %.200s", m[1], code, body)
	}
}

func TestMetricsAddrMustBeHostPort(t *testing.T) {
	code, _, stderr := run(t, t.TempDir(), nil, "serve", "--db", filepath.Join(t.TempDir(), "n.db"), "--metrics-addr", "9464")
	if code == 0 || !strings.Contains(stderr, "--metrics-addr") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
