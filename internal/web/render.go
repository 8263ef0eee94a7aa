package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"text/template/parse"
	"time"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/models"
	"github.com/notrain/notrain/internal/mydata"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pages lists every page template; each is parsed with the layout.
var pageNames = []string{"object", "withdraw", "check", "done", "error", "devmail", "access", "me", "report", "report_done", "consent", "consent_withdraw", "consent_done", "assert"}

// renderer holds every page parsed once per language, with t bound to it.
type renderer struct {
	cat  *locale.Catalog
	sets map[string]*template.Template // lang + "/" + page
}

// webCodes are the error codes the web layer answers with itself, beside the
// service's (objection.Codes). A test holds the list to the codes the
// package's Go code names.
func webCodes() []string {
	return []string{
		"unsupported_media_type", "unsupported_charset", "body_too_large", "invalid_request", "invalid_json",
		"not_found", "internal", "cross_origin",
		"idempotency_key_invalid", "idempotency_key_reused", "idempotency_in_flight",
		"unauthorized", "forbidden", codeAssertionNotConfigured,
	}
}

// goKeys are the translation keys the package's Go code names: page titles,
// error pages' messages, language names. A test holds the list to the code.
func goKeys() []string {
	return []string{
		"object_title", "withdraw_title", "check_title", "done_objection_title", "done_withdrawal_title",
		"error_title", "dev_mailbox_link", "lang_name", "err_code_invalid_last",
		"access_title", "me_title", "me_expired", "report_title", "done_report_title",
		"done_report_approved_title", "done_report_rejected_title",
		"consent_title", "consent_withdraw_title", "consent_done_title", "consent_done_withdrawn_title",
		"assert_title",
	}
}

// startupKeys is every key the Go code can show besides the templates':
// goKeys, each error code's message and each product's name.
func startupKeys() []string {
	keys := goKeys()
	for _, c := range slices.Concat(objection.Codes(), webCodes(), models.Codes(), report.Codes(), assertion.Codes()) {
		keys = append(keys, "err_"+c)
	}
	for _, p := range platform.Products() {
		keys = append(keys, "product_"+p)
	}
	return keys
}

// newRenderer parses all templates, checks that every translation key a page
// or an API answer can use has a message in every language, and renders each
// page in each language with sample data, so a broken template or a missing
// message fails at start. That check is why no key can be missing later: the
// templates' keys are read from their parsed trees (a computed key is
// refused), and the keys Go code builds come from closed lists.
func newRenderer(cat *locale.Catalog) (*renderer, error) {
	r := &renderer{cat: cat, sets: map[string]*template.Template{}}
	if err := cat.Check(startupKeys()...); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	for _, lang := range cat.Languages() {
		for _, p := range pageNames {
			t, err := template.New("layout").Funcs(r.funcs(lang)).
				ParseFS(assets, "templates/layout.html", "templates/"+p+".html")
			if err != nil {
				return nil, fmt.Errorf("web: page %s: %w", p, err)
			}
			r.sets[lang+"/"+p] = t
		}
	}
	for _, p := range pageNames {
		var trees []*parse.Tree
		for _, t := range r.sets[locale.Default+"/"+p].Templates() {
			trees = append(trees, t.Tree)
		}
		keys, err := locale.TemplateKeys("t", trees...)
		if err != nil {
			return nil, fmt.Errorf("web: page %s: %w", p, err)
		}
		if err := cat.Check(keys...); err != nil {
			return nil, fmt.Errorf("web: page %s: %w", p, err)
		}
	}
	sample := &pageData{Err: map[string]string{}, Form: formValues{Products: map[string]bool{}},
		Mails: []store.Mail{{Subject: "s"}}, Outcome: objection.Outcome{Status: objection.StatusAccepted}, Behind: true,
		Me: sampleOverview(), Report: report.Result{Items: []string{"fb:1"}}}
	for _, lang := range cat.Languages() {
		for _, p := range pageNames {
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
		"t":        func(key string, kv ...any) string { return r.cat.T(lang, key, kv...) },
		"clock":    func(at any) string { return clock(r.cat, lang, at) },
		"num":      func(n any) string { return r.cat.Number(lang, n) },
		"product":  func(p string) string { return r.cat.T(lang, "product_"+p) },
		"flowpath": func(f objection.Flow) string { return flowPath(f) },
	}
}

func (r *renderer) render(page string, d *pageData) ([]byte, error) {
	t, ok := r.sets[d.Lang+"/"+page]
	if !ok {
		t, ok = r.sets[locale.Default+"/"+page]
		if !ok {
			return nil, fmt.Errorf("web: no page %q", page)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return nil, fmt.Errorf("web: render %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// pageData is everything a page template may show.
type pageData struct {
	Lang               string
	Langs              []langLink
	Dev                bool
	Title              string
	Errors             []formError
	Err                map[string]string
	Form               formValues
	Products           []string
	Flow               objection.Flow
	View               objection.View
	Outcome            objection.Outcome
	Resent             bool
	Now                time.Time
	ThirdPartyExcluded bool
	Mails              []store.Mail
	Message            string
	Me                 mydata.Overview
	ReceiptURL         string        // the confirmation's receipt download, when the decision is in the log
	Behind             bool          // code mails are late: the check page says the request is saved and the code will come
	Report             report.Result // a confirmed report, for its confirmation page
	Reports            bool          // the portal takes reports: every page links to the form
	ConsentMode        bool          // the consent pages exist: links to them are shown
	Assertion          string        // the platform's assertion, for the confirm page's hidden field only
	EmailFormLink      bool          // an error page links to the e-mail form (the platform's link failed)
	// LangToken: the page's URL carries a platform assertion, which is
	// never written into a link; its languages are offered as the buttons
	// of a GET form that carries the token in a hidden field instead.
	LangToken string
}

type langLink struct {
	Code, Name, URL string
	Current         bool
}

type formError struct {
	Field, Message string
}

type formValues struct {
	Email    string
	Reason   string
	ScopeAll bool
	// ScopeUnset: neither choice is made (consent pre-selects nothing).
	ScopeUnset bool
	Products   map[string]bool
	// The report form's fields.
	Items       string
	Relation    string
	Description string
	Account     string
	Follows     string // the case a report follows up (hidden; from the more-information mail's link)
}

// page renders a page with the given status. Pages that show a request are
// never cached: they carry state that changes with each step. d.Lang, when
// set, is the language the person chose when the request began; an explicit
// choice on this request still wins.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, name, titleKey string, d *pageData) {
	d.Lang = s.pageLang(w, r, d.Lang)
	d.Dev = s.cfg.Dev
	d.Title = s.cat.T(d.Lang, titleKey)
	d.Langs = s.langLinks(r, d.Lang)
	d.Now = s.now()
	d.ThirdPartyExcluded = s.cfg.ThirdPartyExcluded
	d.Reports = s.cfg.Reports != nil
	d.ConsentMode = s.cfg.Consent
	if d.Err == nil {
		d.Err = map[string]string{}
	}
	body, err := s.pages.render(name, d)
	if err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// errorPage shows a message on its own page.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msgKey string) {
	lang := s.lang(w, r)
	s.page(w, r, status, "error", "error_title", &pageData{Message: s.cat.T(lang, msgKey)})
}

// clock shows a moment in lang's date-time layout (in UTC; the page says
// so). My data carries its moments as RFC 3339 text, the JSON download's
// form; text that is not a moment is shown as it is.
func clock(cat *locale.Catalog, lang string, at any) string {
	switch v := at.(type) {
	case time.Time:
		return cat.DateTime(lang, v)
	case *string:
		if v == nil {
			return ""
		}
		return clock(cat, lang, *v)
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return v
		}
		return cat.DateTime(lang, t)
	}
	return fmt.Sprint(at)
}

// sampleOverview fills every branch of the "my data" page for the start-up
// render check.
func sampleOverview() mydata.Overview {
	at := "2026-01-01T00:00:00Z"
	return mydata.Overview{
		Accounts:   []mydata.Account{{Product: "facebook", AccountID: "u1"}},
		Objections: []mydata.Objection{{Reference: "NT-0", Status: "withdrawn", Scope: "all", EffectiveAt: &at, WithdrawnAt: &at, Receipt: "r"}},
		Snapshots:  []mydata.Snapshot{{SnapshotID: "s", AsOf: at, Items: map[string]int64{"facebook:u1": 1}}},
		Models:     []mydata.Model{{Name: "m", Snapshots: []string{"s"}, TrainedAt: &at}},
	}
}
