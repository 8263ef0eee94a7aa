package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/dashboard"
	"github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
)

func (c *Console) stylesheet(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("static/console.css")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}

// preCSRF returns the form token for pages without a session, setting the
// random cookie it is bound to when the browser has none yet.
func (c *Console) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preCookie); err == nil && len(ck.Value) == 32 {
		return c.cfg.Operators.PreCSRF(ck.Value)
	}
	v := ids.Random(16)
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secureCookie(r)})
	return c.cfg.Operators.PreCSRF(v)
}

// preForm is formWithToken for a page without a session.
func (c *Console) preForm(w http.ResponseWriter, r *http.Request) bool {
	want := ""
	if ck, err := r.Cookie(preCookie); err == nil && len(ck.Value) == 32 {
		want = c.cfg.Operators.PreCSRF(ck.Value)
	}
	return c.formWithToken(w, r, want)
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	d := &pageData{CSRF: c.preCSRF(w, r)}
	if r.URL.Query().Get("setup") == "done" {
		d.Notice = c.cfg.Catalog.T(c.lang(w, r), "admin_setup_done")
	}
	c.page(w, r, http.StatusOK, "login", "admin_title_login", d)
}

// login never logs or echoes the password; the answer for a wrong name, a
// wrong password and a wrong code is one and the same.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.preForm(w, r) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	tok, sess, err := c.cfg.Operators.Login(r.Context(), name, r.PostForm.Get("password"), strings.TrimSpace(r.PostForm.Get("code")), c.cfg.ClientAddr(r))
	if err != nil {
		lang := c.lang(w, r)
		status, key := http.StatusUnauthorized, "admin_err_login_failed"
		switch {
		case errors.Is(err, operator.ErrLocked):
			status, key = http.StatusTooManyRequests, "admin_err_locked"
		case !errors.Is(err, operator.ErrLoginFailed):
			c.log.Error("console login", "err", err)
			status, key = http.StatusInternalServerError, "admin_err_internal"
		}
		c.page(w, r, status, "login", "admin_title_login", &pageData{CSRF: c.preCSRF(w, r), Error: c.cfg.Catalog.T(lang, key), Name: name})
		return
	}
	c.log.Info("operator logged in", "operator", sess.Operator)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/admin", MaxAge: int(sess.Expires.Sub(c.now()) / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secureCookie(r)})
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if err := c.cfg.Operators.Logout(r.Context(), ck.Value); err != nil {
			c.log.Error("console logout", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secureCookie(r)})
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

func (c *Console) setupForm(w http.ResponseWriter, r *http.Request) {
	name, err := c.cfg.Operators.SetupFor(r.Context(), r.PathValue("token"))
	if err != nil {
		c.setupFailed(w, r, err)
		return
	}
	e, err := operator.NewTOTP(name)
	if err != nil {
		c.setupFailed(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "setup", "admin_title_setup", &pageData{CSRF: c.preCSRF(w, r), Name: name, Token: r.PathValue("token"), TOTP: e})
}

func (c *Console) setupFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, operator.ErrSetupLink) {
		c.message(w, r, http.StatusNotFound, "admin_err_setup_link")
		return
	}
	c.log.Error("console setup", "err", err)
	c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
}

func (c *Console) setup(w http.ResponseWriter, r *http.Request) {
	if !c.preForm(w, r) {
		return
	}
	tok := r.PathValue("token")
	in := operator.Setup{Password: r.PostForm.Get("password"), Confirm: r.PostForm.Get("confirm"),
		TOTPSecret: strings.TrimSpace(r.PostForm.Get("totp_secret")), TOTPCode: strings.TrimSpace(r.PostForm.Get("totp_code"))}
	if in.TOTPCode == "" {
		// The secret is always on the form; without a code, no second factor.
		in.TOTPSecret = ""
	}
	name, err := c.cfg.Operators.CompleteSetup(r.Context(), tok, in)
	if err == nil {
		c.log.Info("operator set up", "operator", name, "totp", in.TOTPSecret != "")
		http.Redirect(w, r, "/admin/login?setup=done", http.StatusSeeOther)
		return
	}
	key := ""
	switch {
	case errors.Is(err, operator.ErrPassword):
		key = "admin_err_password"
	case errors.Is(err, operator.ErrMismatch):
		key = "admin_err_mismatch"
	case errors.Is(err, operator.ErrTOTPCode):
		key = "admin_err_totp"
	default:
		c.setupFailed(w, r, err)
		return
	}
	name, err = c.cfg.Operators.SetupFor(r.Context(), tok)
	if err != nil {
		c.setupFailed(w, r, err)
		return
	}
	e, err := operator.Enrol(name, r.PostForm.Get("totp_secret"))
	if err != nil {
		c.setupFailed(w, r, err)
		return
	}
	lang := c.lang(w, r)
	c.page(w, r, http.StatusBadRequest, "setup", "admin_title_setup", &pageData{CSRF: c.preCSRF(w, r), Name: name, Token: tok, TOTP: e, Error: c.cfg.Catalog.T(lang, key)})
}

func (c *Console) dashboardPage(w http.ResponseWriter, r *http.Request) {
	rep, err := dashboard.Build(r.Context(), c.cfg.DB, c.cfg.Queue, c.now())
	if err != nil {
		c.log.Error("console dashboard", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
		return
	}
	lang := c.lang(w, r)
	c.page(w, r, http.StatusOK, "dashboard", "admin_title_dashboard", &pageData{Report: rep, Charts: charts(c.cfg.Catalog, lang, rep), QueueOn: c.cfg.Queue != nil})
}

// view adds the SLA clock and item links to a case.
func (c *Console) view(cs review.Case) caseView {
	now := c.now()
	if cs.DueAt.IsZero() {
		cs.DueAt = review.Due(cs.ReceivedAt)
	}
	for i := range cs.Items {
		if cs.Items[i].URL == "" {
			cs.Items[i].URL = c.cfg.ItemURL(cs.Items[i].ID)
		}
		if !strings.HasPrefix(cs.Items[i].URL, "https://") && !strings.HasPrefix(cs.Items[i].URL, "http://") {
			cs.Items[i].URL = "" // only web links become links
		}
	}
	age := now.Sub(cs.ReceivedAt)
	v := caseView{Case: cs, Late: !now.Before(cs.DueAt)}
	v.DaysLeft = int(cs.DueAt.Sub(now).Hours() / 24)
	switch {
	case age < time.Hour:
		v.Age = fmt.Sprintf("%d\u00a0min", int(age.Minutes()))
	case age < 48*time.Hour:
		v.Age = fmt.Sprintf("%d\u00a0h", int(age.Hours()))
	default:
		v.Age = fmt.Sprintf("%d\u00a0d", int(age.Hours()/24))
	}
	return v
}

func (c *Console) reviewsPage(w http.ResponseWriter, r *http.Request) {
	d := &pageData{}
	if ref := r.URL.Query().Get("decided"); ref != "" && len(ref) < 64 {
		d.Notice = c.cfg.Catalog.T(c.lang(w, r), "admin_decided", "reference", ref)
	}
	c.renderReviews(w, r, http.StatusOK, d)
}

func (c *Console) renderReviews(w http.ResponseWriter, r *http.Request, status int, d *pageData) {
	d.QueueOn, d.EvidenceOn = c.cfg.Queue != nil, c.cfg.Evidence != nil
	if c.cfg.Queue != nil {
		cases, err := c.cfg.Queue.Open(r.Context())
		if err != nil {
			c.log.Error("console queue", "err", err)
			c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
			return
		}
		for _, cs := range oldestFirst(cases) {
			d.Cases = append(d.Cases, c.view(cs))
		}
	}
	c.page(w, r, status, "reviews", "admin_title_reviews", d)
}

// findCase looks a reference up among the open cases.
func (c *Console) findCase(r *http.Request, ref string) (review.Case, error) {
	cases, err := c.cfg.Queue.Open(r.Context())
	if err != nil {
		return review.Case{}, err
	}
	for _, cs := range cases {
		if cs.Reference == ref {
			return cs, nil
		}
	}
	return review.Case{}, review.ErrNotFound
}

func (c *Console) casePage(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Queue == nil {
		c.message(w, r, http.StatusServiceUnavailable, "admin_err_no_queue")
		return
	}
	cs, err := c.findCase(r, r.PathValue("reference"))
	if errors.Is(err, review.ErrNotFound) {
		c.message(w, r, http.StatusNotFound, "admin_err_case_not_found")
		return
	}
	if err != nil {
		c.log.Error("console case", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
		return
	}
	c.page(w, r, http.StatusOK, "case", "admin_title_case", &pageData{Case: c.view(cs), QueueOn: true, EvidenceOn: c.cfg.Evidence != nil})
}

// decidePage records a decision from the case page's forms.
func (c *Console) decidePage(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Queue == nil {
		c.message(w, r, http.StatusServiceUnavailable, "admin_err_no_queue")
		return
	}
	ref := r.PathValue("reference")
	s := sessionOf(r)
	_, err := c.cfg.Queue.Decide(r.Context(), ref, review.Decision{Decision: r.PostForm.Get("decision"), Note: strings.TrimSpace(r.PostForm.Get("note")), Operator: s.Operator})
	if err == nil {
		c.log.Info("review decided", "operator", s.Operator, "reference", ref, "decision", r.PostForm.Get("decision"))
		http.Redirect(w, r, "/admin/reviews?decided="+ref, http.StatusSeeOther)
		return
	}
	key, status := refusalKey(err)
	if key == "" {
		c.log.Error("console decide", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
		return
	}
	lang := c.lang(w, r)
	cs, ferr := c.findCase(r, ref)
	if ferr != nil {
		// The case is no longer open (decided meanwhile, or never was):
		// the queue, with the refusal on it.
		c.renderReviews(w, r, status, &pageData{Error: c.cfg.Catalog.T(lang, key)})
		return
	}
	c.page(w, r, status, "case", "admin_title_case", &pageData{Case: c.view(cs), QueueOn: true, EvidenceOn: c.cfg.Evidence != nil,
		Error: c.cfg.Catalog.T(lang, key)})
}

// refusalKey maps a refusal of the queue to its page message and status;
// "" for an error that is not a refusal.
func refusalKey(err error) (string, int) {
	switch {
	case errors.Is(err, review.ErrNotFound):
		return "admin_err_case_not_found", http.StatusNotFound
	case errors.Is(err, review.ErrBadDecision):
		return "admin_err_bad_decision", http.StatusBadRequest
	case errors.Is(err, review.ErrNoteRequired):
		return "admin_err_note_required", http.StatusBadRequest
	case errors.Is(err, review.ErrNoteInvalid):
		return "admin_err_note_invalid", http.StatusBadRequest
	case errors.Is(err, review.ErrNoOperator):
		return "admin_err_no_operator", http.StatusBadRequest
	case errors.Is(err, review.ErrDecided):
		return "admin_err_already_decided", http.StatusConflict
	case errors.Is(err, report.ErrObjectionDecision):
		return "admin_err_not_decidable", http.StatusConflict
	}
	return "", 0
}

// evidencePage is the form "evidence for reference ___": any reference
// the ledger names (a decided report, an objection, a withdrawal, a
// consent), not only the open cases.
func (c *Console) evidencePage(w http.ResponseWriter, r *http.Request) {
	c.page(w, r, http.StatusOK, "evidence", "admin_title_evidence", &pageData{EvidenceOn: c.cfg.Evidence != nil})
}

// evidenceDownload hands an admin the signed evidence file of the
// reference in the path (the case page's button) or in the form.
func (c *Console) evidenceDownload(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("reference")
	if ref == "" {
		ref = strings.TrimSpace(r.PostForm.Get("reference"))
	}
	refuse := func(status int, key string) {
		c.page(w, r, status, "evidence", "admin_title_evidence", &pageData{EvidenceOn: c.cfg.Evidence != nil, Name: ref,
			Error: c.cfg.Catalog.T(c.lang(w, r), key)})
	}
	if c.cfg.Evidence == nil {
		refuse(http.StatusServiceUnavailable, "admin_err_no_evidence")
		return
	}
	if !safeRef(ref) {
		ref = ""
		refuse(http.StatusBadRequest, "admin_err_bad_reference")
		return
	}
	b, err := c.cfg.Evidence.Export(r.Context(), ref, sessionOf(r).Operator)
	if errors.Is(err, evidence.ErrUnknownReference) {
		refuse(http.StatusNotFound, "admin_err_unknown_reference")
		return
	}
	if err != nil {
		c.log.Error("console evidence", "reference", ref, "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
		return
	}
	c.log.Info("evidence exported", "operator", sessionOf(r).Operator, "reference", ref)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="evidence-`+ref+`.json"`)
	w.Write(b)
}

// safeRef admits what a reference can look like, and nothing that could
// break out of a header.
func safeRef(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (c *Console) operatorsPage(w http.ResponseWriter, r *http.Request) {
	c.renderOperators(w, r, http.StatusOK, &pageData{})
}

func (c *Console) renderOperators(w http.ResponseWriter, r *http.Request, status int, d *pageData) {
	ops, err := c.cfg.Operators.List(r.Context())
	if err != nil {
		c.log.Error("console operators", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
		return
	}
	d.Operators = ops
	c.page(w, r, status, "operators", "admin_title_operators", d)
}

// addOperator is "operators add" for an admin in the console; the ledger
// names the admin who added.
func (c *Console) addOperator(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	lang := c.lang(w, r)
	base, ok := c.linkBase(w, r)
	if !ok {
		return
	}
	name := operator.NormalName(r.PostForm.Get("name"))
	tok, err := c.cfg.Operators.Add(r.Context(), name, r.PostForm.Get("role"), s.Operator)
	switch {
	case err == nil:
		c.log.Info("operator added", "operator", name, "by", s.Operator)
		c.renderOperators(w, r, http.StatusOK, &pageData{SetupLink: operator.SetupLink(base, tok), Name: name})
	case errors.Is(err, operator.ErrBadName):
		c.renderOperators(w, r, http.StatusBadRequest, &pageData{Error: c.cfg.Catalog.T(lang, "admin_err_bad_name")})
	case errors.Is(err, operator.ErrBadRole):
		c.renderOperators(w, r, http.StatusBadRequest, &pageData{Error: c.cfg.Catalog.T(lang, "admin_err_bad_role")})
	case errors.Is(err, operator.ErrExists):
		c.renderOperators(w, r, http.StatusConflict, &pageData{Error: c.cfg.Catalog.T(lang, "admin_err_exists")})
	default:
		c.log.Error("console add operator", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
	}
}

// linkBase is the base of set-up links; when it names no reachable host
// (the console listens on 0.0.0.0 without --admin-base-url) the operators
// page says so and nothing is changed.
func (c *Console) linkBase(w http.ResponseWriter, r *http.Request) (string, bool) {
	base, err := operator.LinkBase(c.cfg.BaseURL)
	if err != nil {
		c.log.Warn("console: no set-up link possible", "base_url", c.cfg.BaseURL, "err", err)
		c.renderOperators(w, r, http.StatusServiceUnavailable, &pageData{Error: c.cfg.Catalog.T(c.lang(w, r), "admin_err_link_host")})
		return "", false
	}
	return base, true
}

// resetOperator is "operators reset" for an admin: sessions end, the
// password is cleared, and a new set-up link is shown; the second factor
// goes only when the box was ticked.
func (c *Console) resetOperator(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	lang := c.lang(w, r)
	base, ok := c.linkBase(w, r)
	if !ok {
		return
	}
	name := operator.NormalName(r.PathValue("name"))
	drop := r.PostForm.Get("drop_totp") == "on"
	tok, err := c.cfg.Operators.Reset(r.Context(), name, drop, s.Operator)
	switch {
	case err == nil:
		c.log.Info("operator reset", "operator", name, "by", s.Operator, "dropped_totp", drop)
		c.renderOperators(w, r, http.StatusOK, &pageData{SetupLink: operator.SetupLink(base, tok), Name: name, Reset: true})
	case errors.Is(err, operator.ErrUnknown):
		c.renderOperators(w, r, http.StatusNotFound, &pageData{Error: c.cfg.Catalog.T(lang, "admin_err_unknown_operator")})
	default:
		c.log.Error("console reset operator", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
	}
}

// disableOperator is "operators disable" for an admin.
func (c *Console) disableOperator(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	lang := c.lang(w, r)
	name := operator.NormalName(r.PathValue("name"))
	err := c.cfg.Operators.Disable(r.Context(), name, s.Operator)
	switch {
	case err == nil:
		c.log.Info("operator disabled", "operator", name, "by", s.Operator)
		c.renderOperators(w, r, http.StatusOK, &pageData{Notice: c.cfg.Catalog.T(lang, "admin_operator_disabled", "name", name)})
	case errors.Is(err, operator.ErrUnknown):
		c.renderOperators(w, r, http.StatusNotFound, &pageData{Error: c.cfg.Catalog.T(lang, "admin_err_unknown_operator")})
	default:
		c.log.Error("console disable operator", "err", err)
		c.message(w, r, http.StatusInternalServerError, "admin_err_internal")
	}
}
