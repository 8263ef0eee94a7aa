package console

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/tokens"
)

// realQueueEnv is the console over the real report queue (not testQueue):
// the refusals below come from report.Queue's own errors, which testQueue
// never returns, so the console's tests never saw them.
func realQueueEnv(t *testing.T) (*env, *report.Service) {
	t.Helper()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	pats, err := report.ParsePatterns(strings.NewReader("fb https://www.facebook.example/photo/{id}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{f: f, ops: operator.New(f.DB, f.Keys, f.Clock.Now), log: &syncBuffer{}, ev: &evidenceFile{}}
	con, err := New(Config{DB: f.DB, Keys: f.Keys, Catalog: f.Cat, Operators: e.ops, Queue: report.NewQueue(f.DB, f.Svc, f.Keys, pats, f.Clock.Now),
		BaseURL: "http://console.test", Now: f.Clock.Now, Log: slog.New(slog.NewTextHandler(e.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv = httptest.NewServer(contract.Check(t, con.Handler()))
	t.Cleanup(e.srv.Close)
	return e, report.New(f.Svc, f.DB, f.Keys, pats)
}

func fileReport(t *testing.T, e *env, rep *report.Service, addr string) string {
	t.Helper()
	ctx := context.Background()
	st, err := rep.Start(ctx, report.Input{Email: addr, Items: []string{"fb:1001"}, Relation: report.RelationMe, Lang: "en", Channel: "api"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := rep.Verify(ctx, st.RequestID, e.f.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	return out.Reference
}

func apiDecide(t *testing.T, e *env, tok, ref, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/admin/reviews/"+ref+"/decision", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error.Code
}

// TestAttackDecisionRefusalsAreNot500: a decision on a case decided
// already (a retry, two reviewers at once: 9 of 10 concurrent decisions on
// a running server), a note the API admits (<= 4000) but the queue does not
// (> review.MaxNote = 2000 characters), and a note with a control character
// and any objection's reference (accepted, not in review)
// each gave 500 "internal" on the API and the decision form, with an ERROR
// in the log. Each is bad input or a conflict: a 4xx with a stable code.
func TestAttackDecisionRefusalsAreNot500(t *testing.T) {
	e, rep := realQueueEnv(t)
	tok := e.token(t, tokens.ScopeReviews, "triage")
	decided := fileReport(t, e, rep, "nobody@example.org")
	if st, code := apiDecide(t, e, tok, decided, `{"decision":"approve"}`); st != 200 {
		t.Fatalf("first approval: %d %s", st, code)
	}
	open := fileReport(t, e, rep, "anna@example.de")
	// An accepted objection (not in review): the queue answers
	// ErrObjectionDecision for any objection reference.
	ctx := context.Background()
	st, err := e.f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: "ben@example.com", Lang: "en", Scope: objection.AllAccounts, Channel: "api"})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, e.f.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, ref, body string }{
		{"an objection's reference", obj.Reference, `{"decision":"approve"}`},
		{"decided again", decided, `{"decision":"approve"}`},
		{"note 2500 characters", open, `{"decision":"reject","note":"` + strings.Repeat("a", 2500) + `"}`},
		{"note with a control character", open, `{"decision":"reject","note":"a\u0001b"}`},
	} {
		st, code := apiDecide(t, e, tok, tc.ref, tc.body)
		if st >= 500 || code == "internal" {
			t.Errorf("API, %s: %d %q, want a 4xx with a stable code", tc.name, st, code)
		}
	}

	e.operator(t, "rita", operator.RoleReviewer, false)
	c := e.client(t)
	csrf := c.login("rita", "")
	for _, tc := range []struct{ name, ref, note string }{
		{"decided again", decided, ""},
		{"note 2500 characters", open, strings.Repeat("a", 2500)},
		{"note with a control character", open, "a\x01b"},
	} {
		decision := "reject"
		if tc.note == "" {
			decision = "approve"
		}
		resp, _ := c.do("POST", "/admin/reviews/"+tc.ref+"/decision", url.Values{"csrf": {csrf}, "decision": {decision}, "note": {tc.note}}, nil)
		if resp.StatusCode >= 500 {
			t.Errorf("form, %s: %d, want a 4xx page", tc.name, resp.StatusCode)
		}
	}
}
