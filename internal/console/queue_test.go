package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/tokens"
)

// The queue page lists cases oldest first, with age, the due date of the
// one-month clock (overdue marked), and items linked where a URL is known.
func TestQueuePage(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "rita", operator.RoleReviewer, false)
	c := e.client(t)
	c.login("rita", "")
	resp, body := c.do("GET", "/admin/reviews", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("queue: %d", resp.StatusCode)
	}
	older, newer := strings.Index(body, "R-OLDER"), strings.Index(body, "R-NEWER")
	if older < 0 || newer < 0 || older > newer {
		t.Fatalf("not oldest first: %d %d", older, newer)
	}
	for _, want := range []string{
		`<a href="https://facebook.example/posts/1001" rel="noreferrer noopener">fb:1001</a>`,
		`<li>ig:77</li>`, // no URL configured for it: plain text
		`class="late"`, "overdue", "40\u00a0d", "2\u00a0h",
		review.Due(e.f.Clock.Now().Add(-40 * 24 * 3600e9)).Format("2006-01-02"),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("queue page lacks %q", want)
		}
	}
	_, de := c.do("GET", "/admin/reviews?lang=de", nil, nil)
	if !strings.Contains(de, `lang="de"`) || !strings.Contains(de, "überfällig") {
		t.Error("German queue page")
	}
}

// Decisions through the page: a rejection needs a note, and the ledger
// entry names the operator.
func TestDecisionThroughPage(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "rita", operator.RoleReviewer, false)
	c := e.client(t)
	csrf := c.login("rita", "")
	resp, body := c.do("POST", "/admin/reviews/R-NEWER/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}, "note": {"  "}}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "write a note") {
		t.Fatalf("reject without note: %d %.300s", resp.StatusCode, body)
	}
	resp, _ = c.do("POST", "/admin/reviews/R-NEWER/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}, "note": {"The photo does not show a person."}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/reviews?decided=R-NEWER" {
		t.Fatalf("reject: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var b string
	if err := dbtest.Raw(t, e.f.Path).QueryRow(`SELECT body FROM ledger WHERE kind = 'report.decided'`).Scan(&b); err != nil || !strings.Contains(b, `"operator":"rita"`) {
		t.Fatalf("ledger: %s %v", b, err)
	}
	if resp, _ := c.do("GET", "/admin/reviews/R-NEWER", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("decided case still open: %d", resp.StatusCode)
	}
}

// The machine API: list oldest first, decide, and stable error codes for
// bad input.
func TestAdminAPI(t *testing.T) {
	e := newEnv(t, "")
	tok := e.token(t, tokens.ScopeReviews, "triage-bot")
	c := e.client(t)
	auth := map[string]string{"Authorization": "Bearer " + tok}
	resp, body := c.do("GET", "/api/v1/admin/reviews", nil, auth)
	var list struct{ Reviews []review.Case }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Reviews) != 2 || list.Reviews[0].Reference != "R-OLDER" ||
		list.Reviews[0].Items[0].URL != "https://facebook.example/posts/1001" || list.Reviews[0].DueAt.IsZero() {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	post := func(ref, body string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/admin/reviews/"+ref+"/decision", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if e, ok := out["error"].(map[string]any); ok {
			if e["message"] == "" {
				t.Errorf("error without message: %v", out)
			}
			return resp.StatusCode, e["code"].(string)
		}
		return resp.StatusCode, out["status"].(string)
	}
	for _, tc := range []struct {
		ref, body string
		status    int
		code      string
	}{
		{"R-OLDER", `{"decision":"maybe"}`, 400, "invalid_decision"},
		{"R-OLDER", `{"decision":"reject"}`, 400, "note_required"},
		{"R-OLDER", `{"decision":"more_info","note":""}`, 400, "note_required"},
		{"R-OLDER", `{"decision":"approve","extra":1}`, 400, "invalid_request"},
		{"R-OLDER", `{"decision":"approve"`, 400, "invalid_json"},
		{"R-OLDER", `{"decision":"approve","note":"` + strings.Repeat("x", MaxBody) + `"}`, 413, "body_too_large"},
		{"NOPE", `{"decision":"approve"}`, 404, "not_found"},
		{"R-OLDER", `{"decision":"more_info","note":"Which photo?"}`, 200, review.StatusInfoRequested},
		{"R-OLDER", `{"decision":"approve","note":""}`, 200, "approved"},
		{"R-OLDER", `{"decision":"approve"}`, 404, "not_found"},
	} {
		if status, code := post(tc.ref, tc.body, auth); status != tc.status || code != tc.code {
			t.Errorf("%s %.60s: %d %s, want %d %s", tc.ref, tc.body, status, code, tc.status, tc.code)
		}
	}
	if len(e.queue.done) != 2 {
		t.Fatalf("%d decisions recorded", len(e.queue.done))
	}
	var b string
	if err := dbtest.Raw(t, e.f.Path).QueryRow(`SELECT body FROM ledger WHERE kind = 'report.decided' ORDER BY seq DESC LIMIT 1`).Scan(&b); err != nil || !strings.Contains(b, `"operator":"token:triage-bot"`) {
		t.Fatalf("ledger names the token: %s %v", b, err)
	}
}

// Without a queue or exporter wired in, the pages say so instead of failing.
func TestNotConfigured(t *testing.T) {
	e := newEnv(t, "")
	con, err := New(Config{DB: e.f.DB, Keys: e.f.Keys, Catalog: e.f.Cat, Operators: e.ops, Now: e.f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv.Config.Handler = con.Handler()
	e.operator(t, "otto", operator.RoleAdmin, false)
	c := e.client(t)
	csrf := c.login("otto", "")
	if _, body := c.do("GET", "/admin/reviews", nil, nil); !strings.Contains(body, "not configured") {
		t.Error("queue page does not say the queue is not configured")
	}
	if resp, body := c.do("GET", "/admin", nil, nil); resp.StatusCode != 200 || !strings.Contains(body, "<svg") {
		t.Errorf("dashboard without a queue: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/admin/reviews/R-OLDER/evidence", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("evidence without exporter: %d", resp.StatusCode)
	}
	tok := e.token(t, tokens.ScopeReviews, "bot")
	if resp, body := c.do("GET", "/api/v1/admin/reviews", nil, map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 503 || !strings.Contains(body, "not_configured") {
		t.Errorf("API without queue: %d %s", resp.StatusCode, body)
	}
}
