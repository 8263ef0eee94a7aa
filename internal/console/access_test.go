package console

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	evidencepkg "github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/testutil/contract"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// withEvidence puts the real evidence export behind e's console.
func (e *realEnv) withEvidence(t *testing.T) {
	t.Helper()
	f := e.f
	con, err := New(Config{DB: f.DB, Keys: f.Keys, Catalog: f.Cat, Operators: e.ops, Queue: report.NewQueue(f.DB, f.Svc, f.Keys, nil, f.Clock.Now),
		Evidence: evidencepkg.New(f.DB, f.Keys, f.LogKey, f.Clock.Now), BaseURL: "http://console.test", Now: f.Clock.Now,
		Log: slog.New(slog.NewTextHandler(e.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.con = con
	e.srv.Config.Handler = contract.Check(t, con.Handler())
}

func ledgerCount(t *testing.T, dsn, kind string) int {
	t.Helper()
	var n int
	if err := dbtest.Raw(t, dsn).QueryRow(`SELECT COUNT(*) FROM ledger WHERE kind = $1`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The evidence form takes any reference the ledger names — a decided
// report, an objection, its withdrawal — not only open cases; the export is
// a POST with the form token (it writes a ledger entry), and the old GET
// does nothing.
func TestEvidenceForAnyReference(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRealEnv(t, dsn)
		e.withEvidence(t)
		e.operator(t, "otto", operator.RoleAdmin, false)
		ctx := context.Background()
		rep := e.file(t, "nobody@example.org", "fb:1001")
		if _, err := e.con.cfg.Queue.Decide(ctx, rep, review.Decision{Decision: review.Approve, Operator: "otto"}); err != nil {
			t.Fatal(err)
		}
		st, err := e.f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: "anna@example.de", Lang: "en", Scope: objection.AllAccounts, Channel: "api"})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := e.f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, e.f.CodeFor(t, st.RequestID))
		if err != nil {
			t.Fatal(err)
		}
		st, err = e.f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowWithdrawal, Email: "anna@example.de", Lang: "en", Scope: objection.AllAccounts, Channel: "api"})
		if err != nil {
			t.Fatal(err)
		}
		wd, err := e.f.Svc.Verify(ctx, objection.FlowWithdrawal, st.RequestID, e.f.CodeFor(t, st.RequestID))
		if err != nil {
			t.Fatal(err)
		}

		c := e.client(t)
		csrf := c.login("otto", "")
		if resp, body := c.do("GET", "/admin/evidence", nil, nil); resp.StatusCode != 200 || !strings.Contains(body, `<label for="reference">`) {
			t.Fatalf("evidence page: %d %.500s", resp.StatusCode, body)
		}
		for _, ref := range []string{rep, obj.Reference, wd.Reference} {
			resp, body := c.do("POST", "/admin/evidence", url.Values{"csrf": {csrf}, "reference": {ref}}, nil)
			var doc struct {
				Payload string `json:"payload"`
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename="evidence-`+ref+`.json"` || json.Unmarshal([]byte(body), &doc) != nil || doc.Payload == "" {
				t.Fatalf("evidence for %s: %d %q %.300s", ref, resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
			}
		}
		if n := ledgerCount(t, dsn, "evidence.exported"); n != 3 {
			t.Fatalf("%d evidence.exported entries, want 3", n)
		}
		// From the case page's button (a POST) too.
		open := e.file(t, "other@example.org", "fb:2002")
		if resp, body := c.do("GET", "/admin/reviews/"+open, nil, nil); !strings.Contains(body, `action="/admin/reviews/`+open+`/evidence"`) || resp.StatusCode != 200 {
			t.Fatalf("case page has no evidence form: %.1000s", body)
		}
		if resp, _ := c.do("POST", "/admin/reviews/"+open+"/evidence", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != 200 {
			t.Fatalf("case page evidence: %d", resp.StatusCode)
		}
		// A GET exports nothing.
		if resp, _ := c.do("GET", "/admin/reviews/"+open+"/evidence", nil, nil); resp.StatusCode == 200 {
			t.Fatal("GET still exports evidence")
		}
		if n := ledgerCount(t, dsn, "evidence.exported"); n != 4 {
			t.Fatalf("%d evidence.exported entries, want 4", n)
		}
		// Unknown and malformed references: the form again, with the reason.
		resp, body := c.do("POST", "/admin/evidence", url.Values{"csrf": {csrf}, "reference": {"R-NOSUCHTHING"}}, nil)
		if resp.StatusCode != 404 || !strings.Contains(body, e.f.Cat.T("en", "admin_err_unknown_reference")) || !strings.Contains(body, `value="R-NOSUCHTHING"`) {
			t.Fatalf("unknown reference: %d %.1000s", resp.StatusCode, body)
		}
		resp, body = c.do("POST", "/admin/evidence", url.Values{"csrf": {csrf}, "reference": {`"><script>`}}, nil)
		if resp.StatusCode != 400 || strings.Contains(body, "<script>") || !strings.Contains(body, `<label for="reference">`) {
			t.Fatalf("malformed reference: %d %.1000s", resp.StatusCode, body)
		}
		if strings.Contains(e.log.String(), "level=ERROR") {
			t.Fatalf("a refusal was logged as an error:\n%s", e.log.String())
		}
	})
}

var setupLinkRE = regexp.MustCompile(`<code id="setup-link">(http://console\.test/admin/setup/[0-9a-f]{64})</code>`)

// An admin disables and resets an operator on /admin/operators: the
// disabled one's session ends at once and its login gets the wrong-password
// answer; the reset shows a new set-up link and the old password is dead;
// both are ledger entries naming the admin.
func TestAdminDisablesAndResetsOperators(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newRealEnv(t, dsn)
		e.operator(t, "otto", operator.RoleAdmin, false)
		e.operator(t, "rita", operator.RoleReviewer, false)
		a := e.client(t)
		acsrf := a.login("otto", "")
		r := e.client(t)
		r.login("rita", "")

		resp, body := a.do("POST", "/admin/operators/rita/disable", url.Values{"csrf": {acsrf}}, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, e.f.Cat.T("en", "admin_state_disabled")) {
			t.Fatalf("disable: %d %.1000s", resp.StatusCode, body)
		}
		if resp, _ := r.do("GET", "/admin/reviews", nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("disabled operator's session: %d, want a redirect to the login", resp.StatusCode)
		}
		wrong := e.client(t)
		_, wrongBody := wrong.do("POST", "/admin/login", url.Values{"csrf": {wrong.csrf("/admin/login")}, "name": {"rita"}, "password": {"not the password!"}}, nil)
		resp, body = r.do("POST", "/admin/login", url.Values{"csrf": {r.csrf("/admin/login")}, "name": {"rita"}, "password": {testPassword}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, e.f.Cat.T("en", "admin_err_login_failed")) || alertOf(body) != alertOf(wrongBody) {
			t.Fatalf("disabled login: %d, answer %q, want the wrong-password answer %q", resp.StatusCode, alertOf(body), alertOf(wrongBody))
		}

		resp, body = a.do("POST", "/admin/operators/rita/reset", url.Values{"csrf": {acsrf}}, nil)
		m := setupLinkRE.FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("reset: %d %.1000s", resp.StatusCode, body)
		}
		link := strings.TrimPrefix(m[1], "http://console.test")
		if resp, _ := r.do("GET", link, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("reset link: %d", resp.StatusCode)
		}
		if resp, _ := a.do("POST", "/admin/operators/nobody/reset", url.Values{"csrf": {acsrf}}, nil); resp.StatusCode != 404 {
			t.Fatalf("reset of an unknown name: %d", resp.StatusCode)
		}
		if _, _, err := e.ops.Login(context.Background(), "rita", testPassword, "", "198.51.100.7"); err == nil {
			t.Fatal("the old password works after a reset")
		}
		for _, kind := range []string{"operator.disabled", "operator.reset"} {
			var b string
			if err := dbtest.Raw(t, dsn).QueryRow(`SELECT body FROM ledger WHERE kind = $1`, kind).Scan(&b); err != nil || !strings.Contains(b, `"by":"`+e.f.Keys.OperatorPseudonym("otto")+`"`) {
				t.Fatalf("%s: %s %v", kind, b, err)
			}
		}
	})
}

var alertRE = regexp.MustCompile(`role="alert"><p>([^<]*)</p>`)

func alertOf(body string) string {
	if m := alertRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// A console that only knows 0.0.0.0 (or ::) as its address makes no set-up
// link to it: it says to set --admin-base-url, and changes nothing.
func TestNoSetupLinkToAnUnspecifiedHost(t *testing.T) {
	for _, base := range []string{"http://0.0.0.0:9000", "http://[::]:9000"} {
		e := newEnv(t, "")
		con, err := New(Config{DB: e.f.DB, Keys: e.f.Keys, Catalog: e.f.Cat, Operators: e.ops, BaseURL: base, Now: e.f.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		e.con = con
		srv := httptest.NewServer(contract.Check(t, con.Handler()))
		t.Cleanup(srv.Close)
		e.srv = srv
		e.operator(t, "otto", operator.RoleAdmin, false)
		c := e.client(t)
		csrf := c.login("otto", "")
		for _, path := range []string{"/admin/operators", "/admin/operators/otto/reset"} {
			resp, body := c.do("POST", path, url.Values{"csrf": {csrf}, "name": {"nina"}, "role": {"reviewer"}}, nil)
			if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(body, "/admin/setup/") || !strings.Contains(body, "--admin-base-url") {
				t.Fatalf("%s with base %s: %d %.1000s", path, base, resp.StatusCode, body)
			}
		}
		if _, err := e.f.DB.OperatorByName(t.Context(), "nina"); err == nil {
			t.Fatal("an operator was added without a usable link")
		}
		if resp, _ := c.do("GET", "/admin/reviews", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("otto's session ended: %d", resp.StatusCode)
		}
	}
}
