package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"text/template/parse"
	"time"

	"github.com/notrain/notrain/internal/dashboard"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/review"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pageNames lists every page; each is parsed with the layout.
func pageNames() []string {
	return []string{"login", "setup", "dashboard", "reviews", "case", "operators", "evidence", "message"}
}

// goKeys are the translation keys the Go code names (titles, messages).
func goKeys() []string {
	keys := []string{
		"admin_title_login", "admin_title_setup", "admin_title_dashboard", "admin_title_reviews", "admin_title_case",
		"admin_title_operators", "admin_title_message",
		"admin_err_not_found", "admin_err_internal", "admin_err_login_needed", "admin_err_admin_only", "admin_err_csrf", "admin_err_too_large", "admin_err_bad_form",
		"admin_err_login_failed", "admin_err_locked", "admin_err_setup_link", "admin_err_password", "admin_err_mismatch",
		"admin_err_totp", "admin_err_bad_name", "admin_err_exists", "admin_err_bad_role", "admin_err_no_queue",
		"admin_err_no_evidence", "admin_err_case_not_found", "admin_err_bad_decision", "admin_err_note_required",
		"admin_err_note_invalid", "admin_err_no_operator", "admin_err_already_decided", "admin_err_not_decidable",
		"admin_title_evidence", "admin_err_bad_reference", "admin_err_unknown_reference", "admin_err_link_host", "admin_err_unknown_operator",
		"admin_operator_disabled",
		"admin_setup_done", "admin_decided",
		"admin_col_day", "admin_col_count", "admin_chart_reviews_age", "admin_col_age", "admin_chart_snapshot", "admin_col_reason", "admin_col_share",
	}
	for _, s := range dashboard.DailySeries() {
		keys = append(keys, "admin_series_"+string(s))
	}
	return keys
}

// apiCodes are the admin API's error codes; each has an "err_"-less
// message key admin_api_CODE.
func apiCodes() []string {
	return []string{"unauthorized", "forbidden", "not_found", "invalid_json", "invalid_request", "body_too_large",
		"unsupported_media_type", "invalid_decision", "note_required", "not_configured", "internal", "cross_origin",
		"note_invalid", "no_operator", "already_decided", "not_decidable"}
}

type renderer struct {
	cat  *locale.Catalog
	sets map[string]*template.Template
}

func newRenderer(cat *locale.Catalog) (*renderer, error) {
	r := &renderer{cat: cat, sets: map[string]*template.Template{}}
	keys := goKeys()
	for _, code := range apiCodes() {
		keys = append(keys, "admin_api_"+code)
	}
	if err := cat.Check(keys...); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	for _, lang := range cat.Languages() {
		for _, p := range pageNames() {
			t, err := template.New("layout").Funcs(r.funcs(lang)).ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
			if err != nil {
				return nil, fmt.Errorf("console: page %s: %w", p, err)
			}
			r.sets[lang+"/"+p] = t
		}
	}
	for _, p := range pageNames() {
		var trees []*parse.Tree
		for _, t := range r.sets[locale.Default+"/"+p].Templates() {
			trees = append(trees, t.Tree)
		}
		keys, err := locale.TemplateKeys("t", trees...)
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", p, err)
		}
		if err := cat.Check(keys...); err != nil {
			return nil, fmt.Errorf("console: page %s: %w", p, err)
		}
	}
	// Every page renders in every language with sample data, so a template
	// that fails on a field fails here.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sample := &pageData{Session: operator.Session{Operator: "x", Role: operator.RoleAdmin}, QueueOn: true, EvidenceOn: true,
		Cases:     []caseView{{Case: review.Case{Reference: "R", Items: []review.Item{{ID: "a", URL: "https://x"}}}}},
		Operators: []operator.Info{{Name: "x"}}, Charts: sampleCharts(now), Report: dashboard.Report{ReviewsKnown: true}}
	sample.Case = sample.Cases[0]
	for _, lang := range cat.Languages() {
		for _, p := range pageNames() {
			sample.Lang = lang
			if _, err := r.render(p, sample); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

func (r *renderer) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":       func(key string, kv ...any) string { return r.cat.T(lang, key, kv...) },
		"clock":   func(t time.Time) string { return r.cat.DateTime(lang, t) },
		"day":     func(t time.Time) string { return r.cat.Date(lang, t) },
		"num":     func(n any) string { return r.cat.Number(lang, n) },
		"dur":     func(d time.Duration) string { return duration(r.cat, lang, d) },
		"pathesc": url.PathEscape,
	}
}

func (r *renderer) render(page string, d *pageData) ([]byte, error) {
	t, ok := r.sets[d.Lang+"/"+page]
	if !ok {
		if t, ok = r.sets[locale.Default+"/"+page]; !ok {
			return nil, fmt.Errorf("console: no page %q", page)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return nil, fmt.Errorf("console: render %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// pageData is everything a console page may show.
type pageData struct {
	Lang       string
	Langs      []langLink
	Title      string
	Session    operator.Session // zero on the login and set-up pages
	CSRF       string           // the form token: the session's, or the pre-session one
	Error      string           // a message shown above the form
	Notice     string           // a message of success
	Message    string           // the message page's text
	Name       string           // login: the name typed; set-up: the operator's name
	Token      string           // set-up: the link's token
	TOTP       operator.Enrolment
	QueueOn    bool
	EvidenceOn bool
	Cases      []caseView
	Case       caseView
	Operators  []operator.Info
	SetupLink  string
	Reset      bool // the set-up link is a reset's
	Report     dashboard.Report
	Charts     []chart
	Now        time.Time
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

// langLinks offers the current page in every language, each by its own
// name. A GET page keeps its other query parameters; a page shown in answer
// to a POST switches language on the page the form belongs to, which a GET
// reaches.
func langLinks(cat *locale.Catalog, r *http.Request, current string) []langLink {
	path := r.URL.Path
	q := url.Values{}
	if r.Method == http.MethodGet {
		q = r.URL.Query()
	} else {
		switch {
		case path == "/admin/logout":
			path = "/admin/login"
		case strings.HasPrefix(path, "/admin/reviews/"):
			path = "/admin/reviews/" + r.PathValue("reference")
			if r.PathValue("reference") == "" {
				path = "/admin/reviews"
			}
		case strings.HasPrefix(path, "/admin/operators/"):
			path = "/admin/operators"
		}
	}
	var out []langLink
	for _, l := range cat.Languages() {
		q.Set("lang", l)
		out = append(out, langLink{Code: l, Name: cat.T(l, "lang_name"), URL: path + "?" + q.Encode(), Current: l == current})
	}
	return out
}

// caseView is a case with what the queue page shows about its clock.
type caseView struct {
	review.Case
	Age      string
	DaysLeft int
	Late     bool
}

// page renders a page.
func (c *Console) page(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, d *pageData) {
	d.Lang = c.lang(w, r)
	d.Title = c.cfg.Catalog.T(d.Lang, titleKey)
	d.Now = c.now()
	d.Session = sessionOf(r)
	if d.CSRF == "" {
		d.CSRF = d.Session.CSRF
	}
	d.Langs = langLinks(c.cfg.Catalog, r, d.Lang)
	body, err := c.pages.render(name, d)
	if err != nil {
		c.log.Error("console render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// message shows a one-line page (errors, refusals).
func (c *Console) message(w http.ResponseWriter, r *http.Request, status int, key string) {
	lang := c.lang(w, r)
	c.page(w, r, status, "message", "admin_title_message", &pageData{Message: c.cfg.Catalog.T(lang, key)})
}

// duration shows a delivery delay as people read it, with a space before
// the unit (SI) and no decimal sign, the number grouped by lang's rules:
// "8 ms", "2,500 ms" (en) or "2.500 ms" (de), "42 s", "3m12s".
func duration(cat *locale.Catalog, lang string, d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return cat.Number(lang, d.Round(time.Millisecond).Milliseconds()) + " ms"
	case d < time.Minute:
		return cat.Number(lang, int64(d.Round(time.Second)/time.Second)) + " s"
	default:
		return d.Round(time.Second).String()
	}
}
