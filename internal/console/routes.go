package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/tokens"
)

// access is who may use a route.
type access int

const (
	public   access = iota // anyone: the login and set-up pages, the stylesheet
	reviewer               // a logged-in operator of either role
	admin                  // a logged-in admin
	machine                // a bearer token of scope reviews
)

// route is one entry of the console's URL space.
type route struct {
	pattern string // method and path, as http.ServeMux reads it
	access  access
	handler http.HandlerFunc
}

// routeList is the whole console, in one place. The wrapper in routes
// enforces each route's access (and the CSRF token on every POST of a page),
// and a test walks this list, so no route can be added unguarded.
func (c *Console) routeList() []route {
	return []route{
		{"GET /admin/style.css", public, c.stylesheet},
		{"GET /admin/login", public, c.loginForm},
		{"POST /admin/login", public, c.login},
		{"GET /admin/setup/{token}", public, c.setupForm},
		{"POST /admin/setup/{token}", public, c.setup},

		{"POST /admin/logout", reviewer, c.logout},
		{"GET /admin", reviewer, c.dashboardPage},
		{"GET /admin/{$}", reviewer, c.dashboardPage},
		{"GET /admin/reviews", reviewer, c.reviewsPage},
		{"GET /admin/reviews/{reference}", reviewer, c.casePage},
		{"POST /admin/reviews/{reference}/decision", reviewer, c.decidePage},

		// The export writes a ledger entry, so it is a POST with the form
		// token, never a GET a link or a prefetch could set off.
		{"POST /admin/reviews/{reference}/evidence", admin, c.evidenceDownload},
		{"GET /admin/evidence", admin, c.evidencePage},
		{"POST /admin/evidence", admin, c.evidenceDownload},
		{"GET /admin/operators", admin, c.operatorsPage},
		{"POST /admin/operators", admin, c.addOperator},
		{"POST /admin/operators/{name}/reset", admin, c.resetOperator},
		{"POST /admin/operators/{name}/disable", admin, c.disableOperator},

		{"GET /api/v1/admin/reviews", machine, c.apiReviews},
		{"POST /api/v1/admin/reviews/{reference}/decision", machine, c.apiDecide},
	}
}

// Operations lists every "METHOD /path" of the console, in the ServeMux's
// pattern syntax. The API document is checked against it.
func Operations() []string {
	var out []string
	for _, rt := range (&Console{}).routeList() {
		out = append(out, rt.pattern)
	}
	return out
}

// routes builds the mux from routeList. Anything else under /admin or
// /api/v1/admin is 404.
func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range c.routeList() {
		mux.Handle(rt.pattern, c.guard(rt))
	}
	mux.HandleFunc("/api/v1/admin/", func(w http.ResponseWriter, r *http.Request) { c.apiError(w, r, http.StatusNotFound, "not_found") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.message(w, r, http.StatusNotFound, "admin_err_not_found")
	})
	return mux
}

// guard enforces a route's access.
func (c *Console) guard(rt route) http.Handler {
	switch rt.access {
	case public:
		return rt.handler
	case machine:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, err := tokens.Holder(r.Context(), c.cfg.DB, c.cfg.Keys, bearer(r), tokens.ScopeReviews)
			switch {
			case errors.Is(err, tokens.ErrUnauthorized):
				w.Header().Set("WWW-Authenticate", `Bearer realm="notrain-admin"`)
				c.apiError(w, r, http.StatusUnauthorized, "unauthorized")
				return
			case errors.Is(err, tokens.ErrForbidden):
				c.apiError(w, r, http.StatusForbidden, "forbidden")
				return
			case err != nil:
				c.apiFail(w, r, err)
				return
			}
			// Decisions taken with a token name it, as a person's name them.
			s := operator.Session{Operator: "token:" + name, Role: operator.RoleReviewer}
			rt.handler(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
		})
	}
	need := rt.access
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		var s operator.Session
		if err == nil {
			s, err = c.cfg.Operators.Session(r.Context(), ck.Value)
		}
		if err != nil {
			if !errors.Is(err, operator.ErrNoSession) && !errors.Is(err, http.ErrNoCookie) {
				c.log.Error("console session", "err", err)
				c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
				return
			}
			c.message(w, r, http.StatusUnauthorized, "admin_err_login_needed")
			return
		}
		if need == admin && !s.IsAdmin() {
			c.message(w, r, http.StatusForbidden, "admin_err_admin_only")
			return
		}
		if r.Method == http.MethodPost && !c.formWithToken(w, r, s.CSRF) {
			return
		}
		rt.handler(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

// formWithToken reads a posted form and compares its token with want in
// constant time; on failure it has answered: 413 for a body over MaxBody,
// 400 for one that does not parse, 403 for a missing or wrong token.
func (c *Console) formWithToken(w http.ResponseWriter, r *http.Request, want string) bool {
	if err := r.ParseForm(); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			c.message(w, r, http.StatusRequestEntityTooLarge, "admin_err_too_large")
		} else {
			c.message(w, r, http.StatusBadRequest, "admin_err_bad_form")
		}
		return false
	}
	got := r.PostForm.Get("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		c.message(w, r, http.StatusForbidden, "admin_err_csrf")
		return false
	}
	return true
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}
