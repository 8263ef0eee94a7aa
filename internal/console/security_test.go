package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/tokens"
)

// concrete fills a route's path parameters with sample values.
func concrete(pattern, ref string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.NewReplacer("{reference}", ref, "{token}", "abc", "{name}", "rita", "{$}", "").Replace(path)
	return method, path
}

// Every route of the list that is not public refuses a caller without a
// session (pages) or without a token of scope reviews (API). The test walks
// the route list itself, so a route added later is covered by it.
func TestEveryAdminRouteRefusesWithoutCredentials(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "rita", operator.RoleReviewer, false)
	models := e.token(t, tokens.ScopeModels, "trainer")
	publics := 0
	for _, rt := range e.con.routeList() {
		method, path := concrete(rt.pattern, e.older)
		t.Run(rt.pattern, func(t *testing.T) {
			c := e.client(t)
			var form url.Values
			if method == "POST" {
				form = url.Values{"decision": {"approve"}, "name": {"x"}, "role": {"admin"}}
			}
			switch rt.access {
			case public:
				publics++
			case reviewer, admin:
				resp, body := c.do(method, path, form, nil)
				if method == "GET" && (resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/login") {
					t.Fatalf("no session: %d %s, want a redirect to the login", resp.StatusCode, resp.Header.Get("Location"))
				}
				if method == "POST" && resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("no session: %d %.200s, want 401", resp.StatusCode, body)
				}
				// A forged cookie is no session either.
				c.hc.Jar.SetCookies(mustURL(t, e.srv.URL+"/admin"), []*http.Cookie{{Name: sessionCookie, Value: "forged", Path: "/admin"}})
				if resp, _ := c.do(method, path, form, nil); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("forged cookie: %d", resp.StatusCode)
				}
			case machine:
				resp, body := c.do(method, path, nil, map[string]string{"Content-Type": "application/json"})
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) || resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("no token: %d %s", resp.StatusCode, body)
				}
				resp, body = c.do(method, path, nil, map[string]string{"Authorization": "Bearer " + models, "Content-Type": "application/json"})
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"code":"forbidden"`) {
					t.Fatalf("token of scope models: %d %s", resp.StatusCode, body)
				}
				// A session cookie is no token.
				c.login("rita", "")
				if resp, _ := c.do(method, path, nil, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("session instead of token: %d", resp.StatusCode)
				}
			default:
				t.Fatalf("route %s has no access level the test knows", rt.pattern)
			}
		})
	}
	if publics != 5 {
		t.Fatalf("%d public routes; the login and set-up pages and the stylesheet are the only ones meant to be", publics)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Every POST of a page needs the form token: none, a wrong one, and
// another session's are refused, and nothing happens.
func TestCSRFTokenRequiredOnEveryPost(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "otto", operator.RoleAdmin, false)
	e.operator(t, "rita", operator.RoleReviewer, false)
	other := e.client(t)
	otherCSRF := other.login("rita", "")
	c := e.client(t)
	good := c.login("otto", "")
	posts := 0
	for _, rt := range e.con.routeList() {
		method, path := concrete(rt.pattern, e.older)
		if method != "POST" || rt.access == machine {
			continue // the API takes a bearer token, which no other site's page can send
		}
		posts++
		t.Run(rt.pattern, func(t *testing.T) {
			for name, tok := range map[string]string{"none": "", "wrong": strings.Repeat("0", 64), "other session's": otherCSRF, "session token on a pre-session form": good} {
				if rt.access == public && name == "session token on a pre-session form" {
					// covered: a session's token is not the pre-session one
				} else if rt.access != public && name == "session token on a pre-session form" {
					continue
				}
				form := url.Values{"decision": {"approve"}, "name": {"newop"}, "role": {"reviewer"}, "password": {testPassword}, "confirm": {testPassword}}
				if tok != "" {
					form.Set("csrf", tok)
				}
				resp, body := c.do(method, path, form, nil)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%s token: %d %.200s, want 403", name, resp.StatusCode, body)
				}
			}
		})
	}
	if posts < 5 {
		t.Fatalf("only %d POST routes seen", posts)
	}
	// Nothing happened: both cases are still open, no operator was added.
	if cs, _ := e.queue.Open(t.Context()); len(cs) != 2 {
		t.Fatalf("%d open cases after refused posts, want 2", len(cs))
	}
	if ops, _ := e.ops.List(t.Context()); len(ops) != 2 {
		t.Fatalf("%d operators after refused posts, want 2", len(ops))
	}
	// With the right token the same post works.
	resp, _ := c.do("POST", "/admin/reviews/"+e.older+"/decision", url.Values{"csrf": {good}, "decision": {"approve"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the token: %d", resp.StatusCode)
	}
}

// A reviewer works the queue but cannot export evidence or manage operators.
func TestReviewerCannotDoAdminThings(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "rita", operator.RoleReviewer, false)
	e.operator(t, "otto", operator.RoleAdmin, false)
	c := e.client(t)
	csrf := c.login("rita", "")
	adminRoutes := 0
	for _, rt := range e.con.routeList() {
		if rt.access != admin {
			continue
		}
		adminRoutes++
		method, path := concrete(rt.pattern, e.older)
		var form url.Values
		if method == "POST" {
			form = url.Values{"csrf": {csrf}, "name": {"mallory"}, "role": {"admin"}}
		}
		if resp, body := c.do(method, path, form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("reviewer %s: %d %.200s, want 403", rt.pattern, resp.StatusCode, body)
		}
	}
	if adminRoutes < 3 {
		t.Fatalf("only %d admin routes", adminRoutes)
	}
	if len(e.ev.asks) != 0 {
		t.Fatalf("evidence exported for a reviewer: %v", e.ev.asks)
	}
	if _, err := e.f.DB.OperatorByName(t.Context(), "mallory"); err == nil {
		t.Fatal("a reviewer added an operator")
	}
	// The reviewer's page shows no admin links.
	if _, body := c.do("GET", "/admin/reviews/"+e.older, nil, nil); strings.Contains(body, "/evidence") || strings.Contains(body, "/admin/operators") {
		t.Fatal("reviewer's case page links to admin things")
	}
	// An admin can do both; the export names the admin.
	a := e.client(t)
	acsrf := a.login("otto", "")
	resp, body := a.do("POST", "/admin/reviews/"+e.older+"/evidence", url.Values{"csrf": {acsrf}}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename="evidence-`+e.older+`.json"` || body != `{"reference":"`+e.older+`"}` {
		t.Fatalf("admin evidence: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	if len(e.ev.asks) != 1 || e.ev.asks[0] != e.older+"/otto" {
		t.Fatalf("export asks %v", e.ev.asks)
	}
	resp, body = a.do("POST", "/admin/operators", url.Values{"csrf": {acsrf}, "name": {"nina"}, "role": {"reviewer"}}, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "http://console.test/admin/setup/") {
		t.Fatalf("admin adds operator: %d %.300s", resp.StatusCode, body)
	}
	var by string
	if err := dbtest.Raw(t, e.f.Path).QueryRow(`SELECT body FROM ledger WHERE kind = 'operator.added' AND body LIKE $1`, "%"+e.f.Keys.OperatorPseudonym("nina")+"%").Scan(&by); err != nil || !strings.Contains(by, `"by":"`+e.f.Keys.OperatorPseudonym("otto")+`"`) {
		t.Fatalf("ledger for nina: %s %v", by, err)
	}
}

// The password never reaches the log, the page or the tables in clear,
// through the pages' set-up and login.
func TestPasswordNeverLoggedOrStored(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		tok, err := e.ops.Add(t.Context(), "rita", operator.RoleReviewer, "cli")
		if err != nil {
			t.Fatal(err)
		}
		c := e.client(t)
		setup := "/admin/setup/" + tok
		resp, body := c.do("POST", setup, url.Values{"csrf": {c.csrf(setup)}, "password": {testPassword}, "confirm": {testPassword}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("setup: %d %.300s", resp.StatusCode, body)
		}
		c.do("POST", "/admin/login", url.Values{"csrf": {c.csrf("/admin/login")}, "name": {"rita"}, "password": {testPassword + "-typo"}}, nil)
		_, page := c.do("POST", "/admin/login", url.Values{"csrf": {c.csrf("/admin/login")}, "name": {"rita"}, "password": {testPassword + "-typo"}}, nil)
		if strings.Contains(page, testPassword) {
			t.Fatal("the login page echoes the password")
		}
		c.login("rita", "")
		if strings.Contains(e.log.String(), testPassword) || strings.Contains(e.log.String(), tok) {
			t.Fatalf("the log holds the password or the set-up token:\n%s", e.log.String())
		}
		if !strings.Contains(e.log.String(), "operator logged in") {
			t.Fatalf("the log is not being captured:\n%s", e.log.String())
		}
		raw := dbtest.Raw(t, dsn)
		for _, q := range []string{"SELECT password_hash FROM operators", "SELECT body FROM ledger", "SELECT hash FROM operator_sessions", "SELECT key FROM operator_login_failures"} {
			rows, err := raw.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				rows.Scan(&v)
				if strings.Contains(v, testPassword) || strings.Contains(v, "rita") && strings.Contains(q, "failures") {
					t.Errorf("%s: %s", q, v)
				}
			}
			rows.Close()
		}
	})
}

// The login page's rate limit: the sixth try inside the window is refused
// as locked even with the right password, for a real and an unknown name
// alike, and the answers before it do not differ between the two.
func TestLoginPageRateLimit(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "rita", operator.RoleReviewer, false)
	var answers []string
	for _, name := range []string{"rita", "nobody"} {
		// Both tries come from one address, which locks too: a new window.
		e.f.Clock.Advance(operator.LoginWindow + time.Second)
		c := e.client(t)
		var first string
		for i := range operator.LoginMaxFailed {
			resp, body := c.do("POST", "/admin/login", url.Values{"csrf": {c.csrf("/admin/login")}, "name": {name}, "password": {"not the password"}}, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s try %d: %d", name, i, resp.StatusCode)
			}
			if i == 0 {
				first = csrfRE.ReplaceAllString(strings.ReplaceAll(body, name, "NAME"), "")
			}
		}
		answers = append(answers, first)
		resp, _ := c.do("POST", "/admin/login", url.Values{"csrf": {c.csrf("/admin/login")}, "name": {name}, "password": {testPassword}}, nil)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s after %d failures: %d, want 429", name, operator.LoginMaxFailed, resp.StatusCode)
		}
	}
	if answers[0] != answers[1] {
		t.Fatal("the failed-login page differs between a real and an unknown name")
	}
}

// With a second factor enrolled, the password alone does not log in.
func TestTOTPRequiredOnLoginPage(t *testing.T) {
	e := newEnv(t, "")
	secret := e.operator(t, "otto", operator.RoleAdmin, true)
	c := e.client(t)
	resp, _ := c.do("POST", "/admin/login", url.Values{"csrf": {c.csrf("/admin/login")}, "name": {"otto"}, "password": {testPassword}}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without code: %d", resp.StatusCode)
	}
	code, _ := operator.TOTPCode(secret, e.f.Clock.Now())
	c.login("otto", code)
}

// Cookies: HttpOnly, SameSite=Strict, scoped to /admin, Secure unless the
// console is served to loopback over plain HTTP.
func TestSessionCookieFlags(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "rita", operator.RoleReviewer, false)
	for _, host := range []string{"", "console.example"} {
		c := e.client(t)
		csrf := c.csrf("/admin/login")
		hdr := map[string]string{}
		if host != "" {
			hdr["Host"] = host
		}
		req, _ := http.NewRequest("POST", e.srv.URL+"/admin/login", strings.NewReader(url.Values{"csrf": {csrf}, "name": {"rita"}, "password": {testPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if host != "" {
			req.Host = host
		}
		for _, ck := range c.hc.Jar.Cookies(mustURL(t, e.srv.URL+"/admin")) {
			req.AddCookie(ck)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var sc string
		for _, v := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(v, sessionCookie+"=") {
				sc = v
			}
		}
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") ||
			!strings.Contains(sc, "Path=/admin") || strings.Contains(sc, "Secure") != (host != "") {
			t.Fatalf("host %q: %d cookie %q", host, resp.StatusCode, sc)
		}
	}
}

// An oversized form is 413 on every form post, logged in or not; nothing
// is decided.
func TestOversizedFormIs413(t *testing.T) {
	e := newEnv(t, "")
	e.operator(t, "otto", operator.RoleAdmin, false)
	c := e.client(t)
	csrf := c.login("otto", "")
	for _, path := range []string{"/admin/login", "/admin/reviews/" + e.older + "/decision", "/admin/operators", "/admin/logout"} {
		form := url.Values{"csrf": {csrf}, "decision": {"approve"}, "note": {strings.Repeat("x", MaxBody)}}
		if resp, _ := c.do("POST", path, form, nil); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d, want 413", path, resp.StatusCode)
		}
	}
	if len(e.decisions(t)) != 0 {
		t.Fatal("an oversized form decided a case")
	}
}
