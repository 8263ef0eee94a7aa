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
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/tokens"
)

// realEnv is a console over the real review queue (report.NewQueue) and a
// real store, with reports filed through the real code flow.
type realEnv struct {
	*env
	rep *report.Service
	dsn string
}

func newRealEnv(t *testing.T, dsn string) *realEnv {
	t.Helper()
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	pats, err := report.ParsePatterns(strings.NewReader("fb https://www.facebook.example/photo/{id}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{f: f, ops: operator.New(f.DB, f.Keys, f.Clock.Now), log: &syncBuffer{}, ev: &evidenceFile{}}
	con, err := New(Config{DB: f.DB, Keys: f.Keys, Catalog: f.Cat, Operators: e.ops, Queue: report.NewQueue(f.DB, f.Svc, f.Keys, pats, f.Clock.Now),
		Evidence: e.ev, BaseURL: "http://console.test", Now: f.Clock.Now, Log: slog.New(slog.NewTextHandler(e.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv = httptest.NewServer(contract.Check(t, con.Handler()))
	t.Cleanup(e.srv.Close)
	if dsn == "" {
		dsn = f.Path
	}
	return &realEnv{env: e, rep: report.New(f.Svc, f.DB, f.Keys, pats), dsn: dsn}
}

// file reports items for addr through the real flow and returns the
// report's reference.
func (e *realEnv) file(t *testing.T, addr string, items ...string) string {
	t.Helper()
	ctx := context.Background()
	st, err := e.rep.Start(ctx, report.Input{Email: addr, Items: items, Relation: report.RelationMe, Lang: "en", Channel: "api"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.rep.Verify(ctx, st.RequestID, e.f.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	return out.Reference
}

// objectionInReview files an objection through the real flow and puts it
// in review, as a policy that sends objections to review does.
func (e *realEnv) objectionInReview(t *testing.T, addr string) string {
	t.Helper()
	ctx := context.Background()
	st, err := e.f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr, Lang: "en", Scope: objection.AllAccounts, Channel: "api"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, e.f.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbtest.Raw(t, e.dsn).Exec("UPDATE objections SET status = 'in_review' WHERE id = '" + out.Reference + "'"); err != nil {
		t.Fatal(err)
	}
	return out.Reference
}

func apiDecision(t *testing.T, e *realEnv, tok, ref string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/admin/reviews/"+ref+"/decision", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error.Code
}

// Ordinary refusals of the real queue are answered with their own status
// and stable code, never 500: a note over review.MaxNote characters, a
// second decision on a decided case, a decision on an objection in review.
func TestAPIRefusalsOfTheRealQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRealEnv(t, dsn)
		tok := e.token(t, tokens.ScopeReviews, "robot")
		ref := e.file(t, "nobody@example.org", "fb:1001")

		// Characters, not bytes: MaxNote three-byte characters are a valid note
		// (rejected here only by the decision that follows, not the length).
		if st, code := apiDecision(t, e, tok, ref, map[string]string{"decision": "more_info", "note": strings.Repeat("€", review.MaxNote)}); st != 200 {
			t.Fatalf("note of %d characters: %d %s, want 200", review.MaxNote, st, code)
		}
		if st, code := apiDecision(t, e, tok, ref, map[string]string{"decision": "reject", "note": strings.Repeat("a", review.MaxNote+1)}); st != 400 || code != "note_invalid" {
			t.Fatalf("note of %d characters: %d %s, want 400 note_invalid", review.MaxNote+1, st, code)
		}
		if st, code := apiDecision(t, e, tok, ref, map[string]string{"decision": "reject", "note": "bell \a"}); st != 400 || code != "note_invalid" {
			t.Fatalf("control character: %d %s, want 400 note_invalid", st, code)
		}
		if st, code := apiDecision(t, e, tok, ref, map[string]string{"decision": "approve"}); st != 200 {
			t.Fatalf("approve: %d %s", st, code)
		}
		if st, code := apiDecision(t, e, tok, ref, map[string]string{"decision": "reject", "note": "changed my mind"}); st != 409 || code != "already_decided" {
			t.Fatalf("second decision: %d %s, want 409 already_decided", st, code)
		}
		obj := e.objectionInReview(t, "anna@example.de")
		if st, code := apiDecision(t, e, tok, obj, map[string]string{"decision": "approve"}); st != 409 || code != "not_decidable" {
			t.Fatalf("objection in review: %d %s, want 409 not_decidable", st, code)
		}
		if strings.Contains(e.log.String(), "level=ERROR") {
			t.Fatalf("a refusal was logged as an error:\n%s", e.log.String())
		}
	})
}

// On the pages a refusal is a message on the case page (or, when the case
// is no longer open, on the queue), not an error page; an objection in
// review has no decision forms and says why.
func TestPageRefusalsOfTheRealQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRealEnv(t, dsn)
		e.operator(t, "rita", operator.RoleReviewer, false)
		c := e.client(t)
		csrf := c.login("rita", "")
		ref := e.file(t, "nobody@example.org", "fb:1001")
		path := "/admin/reviews/" + ref

		resp, body := c.do("POST", path+"/decision", url.Values{"csrf": {csrf}, "decision": {"reject"}, "note": {strings.Repeat("a", review.MaxNote+1)}}, nil)
		if resp.StatusCode != 400 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, `id="approve"`) || !strings.Contains(body, "2000") {
			t.Fatalf("long note: %d, want the case page with the refusal:\n%.2000s", resp.StatusCode, body)
		}
		// Two tabs: the first decides, the second is refused, on the queue.
		if resp, body := c.do("POST", path+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve: %d %.300s", resp.StatusCode, body)
		}
		resp, body = c.do("POST", path+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}}, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, e.f.Cat.T("en", "admin_err_already_decided")) || !strings.Contains(body, `<h1>`+e.f.Cat.T("en", "admin_title_reviews")) {
			t.Fatalf("second decision: %d, want 409 on the queue page:\n%.2000s", resp.StatusCode, body)
		}

		obj := e.objectionInReview(t, "anna@example.de")
		resp, body = c.do("GET", "/admin/reviews/"+obj, nil, nil)
		if resp.StatusCode != 200 || strings.Contains(body, `id="approve"`) || strings.Contains(body, `name="decision"`) || !strings.Contains(body, `id="not-decidable"`) {
			t.Fatalf("objection case page: %d, want no decision forms and the reason:\n%.2000s", resp.StatusCode, body)
		}
		resp, body = c.do("POST", "/admin/reviews/"+obj+"/decision", url.Values{"csrf": {csrf}, "decision": {"approve"}}, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, e.f.Cat.T("en", "admin_err_not_decidable")) || !strings.Contains(body, `id="not-decidable"`) {
			t.Fatalf("decision on an objection: %d, want 409 on its case page:\n%.2000s", resp.StatusCode, body)
		}
		if strings.Contains(e.log.String(), "level=ERROR") {
			t.Fatalf("a refusal was logged as an error:\n%s", e.log.String())
		}
	})
}
