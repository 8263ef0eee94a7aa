package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
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
	older, newer := strings.Index(body, e.older), strings.Index(body, e.newer)
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
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.operator(t, "rita", operator.RoleReviewer, false)
		c := e.client(t)
		csrf := c.login("rita", "")
		resp, body := c.do("POST", "/admin/reviews/"+e.newer+"/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}, "note": {"  "}}, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "write a note") {
			t.Fatalf("reject without note: %d %.300s", resp.StatusCode, body)
		}
		resp, _ = c.do("POST", "/admin/reviews/"+e.newer+"/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}, "note": {"The photo does not show a person."}}, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/reviews?decided="+e.newer {
			t.Fatalf("reject: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		var b string
		if err := dbtest.Raw(t, e.f.Path).QueryRow(`SELECT body FROM ledger WHERE kind = 'report.decided'`).Scan(&b); err != nil || !strings.Contains(b, `"operator":"`+e.f.Keys.OperatorPseudonym("rita")+`"`) {
			t.Fatalf("ledger: %s %v", b, err)
		}
		if resp, _ := c.do("GET", "/admin/reviews/"+e.newer, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("decided case still open: %d", resp.StatusCode)
		}
		// The person (who reported in German) reads the reason in the decision mail.
		if ms := e.f.MailsTo(t, "parent@example.org"); ms[0].Kind != mail.KindReportRejected || !strings.Contains(ms[0].Text, "Unsere Begründung:\nThe photo does not show a person.") {
			t.Fatalf("decision mail %s:\n%s", ms[0].Kind, ms[0].Text)
		}
		// A decision is final: a second one is refused and not recorded.
		resp, body = c.do("POST", "/admin/reviews/"+e.newer+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}}, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already decided") || len(e.decisions(t)) != 1 {
			t.Fatalf("second decision: %d %.300s", resp.StatusCode, body)
		}
	})
}

// The machine API: list oldest first, decide, and stable error codes for
// bad input.
func TestAdminAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		tok := e.token(t, tokens.ScopeReviews, "triage-bot")
		c := e.client(t)
		auth := map[string]string{"Authorization": "Bearer " + tok}
		resp, body := c.do("GET", "/api/v1/admin/reviews", nil, auth)
		var list struct{ Reviews []review.Case }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Reviews) != 2 || list.Reviews[0].Reference != e.older ||
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
			{e.older, `{"decision":"maybe"}`, 400, "invalid_decision"},
			{e.older, `{"decision":"reject"}`, 400, "note_required"},
			{e.older, `{"decision":"more_info","note":""}`, 400, "note_required"},
			{e.older, `{"decision":"approve","extra":1}`, 400, "invalid_request"},
			{e.older, `{"decision":"approve"`, 400, "invalid_json"},
			{e.older, `{"decision":"approve","note":"` + strings.Repeat("x", MaxBody) + `"}`, 413, "body_too_large"},
			{"NOPE", `{"decision":"approve"}`, 404, "not_found"},
			{e.older, `{"decision":"more_info","note":"Which photo?"}`, 200, review.StatusInfoRequested},
			{e.older, `{"decision":"approve","note":""}`, 200, "approved"},
			// A decision is final: a second one is refused, not recorded.
			{e.older, `{"decision":"approve"}`, 409, "already_decided"},
			{e.newer, `{"decision":"reject","note":"` + strings.Repeat("x", review.MaxNote+1) + `"}`, 400, "note_invalid"},
			{e.newer, `{"decision":"reject","note":"a\u0007b"}`, 400, "note_invalid"},
		} {
			if status, code := post(tc.ref, tc.body, auth); status != tc.status || code != tc.code {
				t.Errorf("%s %.60s: %d %s, want %d %s", tc.ref, tc.body, status, code, tc.status, tc.code)
			}
		}
		if d := e.decisions(t); len(d) != 2 {
			t.Fatalf("%d decisions recorded: %v", len(d), d)
		}
		var b string
		if err := dbtest.Raw(t, e.f.Path).QueryRow(`SELECT body FROM ledger WHERE kind = 'report.decided' ORDER BY seq DESC LIMIT 1`).Scan(&b); err != nil || !strings.Contains(b, `"operator":"`+e.f.Keys.OperatorPseudonym("token:triage-bot")+`"`) {
			t.Fatalf("ledger names the token: %s %v", b, err)
		}
	})
}

// Without a queue or exporter wired in, the pages say so instead of failing.
func TestNotConfigured(t *testing.T) {
	e := newEnv(t, "")
	con, err := New(Config{DB: e.f.DB, Keys: e.f.Keys, Catalog: e.f.Cat, Operators: e.ops, Now: e.f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv.Config.Handler = contract.Check(t, con.Handler())
	e.operator(t, "otto", operator.RoleAdmin, false)
	c := e.client(t)
	csrf := c.login("otto", "")
	if _, body := c.do("GET", "/admin/reviews", nil, nil); !strings.Contains(body, "not configured") {
		t.Error("queue page does not say the queue is not configured")
	}
	if resp, body := c.do("GET", "/admin", nil, nil); resp.StatusCode != 200 || !strings.Contains(body, "<svg") {
		t.Errorf("dashboard without a queue: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/admin/reviews/"+e.older+"/evidence", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("evidence without exporter: %d", resp.StatusCode)
	}
	tok := e.token(t, tokens.ScopeReviews, "bot")
	if resp, body := c.do("GET", "/api/v1/admin/reviews", nil, map[string]string{"Authorization": "Bearer " + tok}); resp.StatusCode != 503 || !strings.Contains(body, "not_configured") {
		t.Errorf("API without queue: %d %s", resp.StatusCode, body)
	}
}

// An objection a policy sent to review is listed, so none is forgotten,
// but the real queue cannot decide it yet: the API and the page refuse
// with 409 and a message, not a server error, and nothing is recorded.
func TestObjectionInReviewIsListedNotDecided(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.f.Import(t, fixture.Accounts)
		st, err := e.f.Svc.Start(t.Context(), objection.StartInput{Flow: objection.FlowObjection, Email: "anna@example.de", Scope: objection.AllAccounts, Lang: "en", Channel: "web"})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.f.Svc.Verify(t.Context(), objection.FlowObjection, st.RequestID, e.f.CodeFor(t, st.RequestID))
		if err != nil {
			t.Fatal(err)
		}
		// Nothing sends an objection to review yet; the state is set as such a
		// policy would leave it.
		if _, err := dbtest.Raw(t, e.f.Path).Exec(`UPDATE objections SET status = 'in_review' WHERE id = $1`, out.Reference); err != nil {
			t.Fatal(err)
		}
		tok := e.token(t, tokens.ScopeReviews, "bot")
		c := e.client(t)
		auth := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
		resp, body := c.do("GET", "/api/v1/admin/reviews", nil, auth)
		if resp.StatusCode != 200 || !strings.Contains(body, `"reference":"`+out.Reference+`","kind":"objection"`) {
			t.Fatalf("list: %d %s", resp.StatusCode, body)
		}
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/admin/reviews/"+out.Reference+"/decision", strings.NewReader(`{"decision":"approve"}`))
		for k, v := range auth {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"code":"not_decidable"`) {
			t.Fatalf("API decision: %d %s", r.StatusCode, b)
		}
		e.operator(t, "rita", operator.RoleReviewer, false)
		csrf := c.login("rita", "")
		resp, body = c.do("POST", "/admin/reviews/"+out.Reference+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}}, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "cannot be decided here yet") || !strings.Contains(body, out.Reference) {
			t.Fatalf("page decision: %d %.400s", resp.StatusCode, body)
		}
		if d := e.decisions(t); len(d) != 0 {
			t.Fatalf("decisions recorded: %v", d)
		}
	})
}
