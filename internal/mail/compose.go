package mail

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/store"
)

//go:embed templates/*
var templateFS embed.FS

// Mail kinds.
const (
	KindCode                = "code"
	KindNoAccount           = "no_account"
	KindObjectionConfirmed  = "objection_confirmed"
	KindWithdrawalConfirmed = "withdrawal_confirmed"
	// KindSuppressed is an outbox row whose message is never sent: it stands
	// in for a notice that is not due, and its delivery is attempted up to
	// RCPT TO (Prober), so an unknown address's request goes through the
	// same delivery states as a known one's.
	KindSuppressed = "suppressed"
)

func allKinds() []string {
	return []string{KindCode, KindNoAccount, KindObjectionConfirmed, KindWithdrawalConfirmed}
}

// AccountLine is one covered account as a confirmation lists it.
type AccountLine struct {
	Product string `json:"p"`
	Handle  string `json:"h,omitempty"`
}

// Data is what the mail templates may show. It is stored with the queued
// mail (as JSON) and rendered when the mail is sent.
type Data struct {
	Lang               string        `json:"-"`
	Flow               string        `json:"flow,omitempty"` // objection | withdrawal
	Code               string        `json:"code,omitempty"`
	ExpiresAt          time.Time     `json:"expires_at,omitzero"`
	Reference          string        `json:"ref,omitempty"`
	At                 time.Time     `json:"at,omitzero"`
	Accounts           []AccountLine `json:"accounts,omitempty"`
	Ended              int           `json:"ended,omitempty"`
	ThirdPartyExcluded bool          `json:"third_party_excluded,omitempty"`
	BaseURL            string        `json:"base_url,omitempty"`
}

// Composer renders mails in every language of the catalog.
type Composer struct {
	cat  *locale.Catalog
	text map[string]*texttemplate.Template // lang + "/" + kind
	html map[string]*htmltemplate.Template
}

var keyRef = regexp.MustCompile(`\bt "([a-z0-9_]+)"`)

// NewComposer parses every template for every language and renders each once
// with sample data, so a broken template or a missing key fails at start.
func NewComposer(cat *locale.Catalog) (*Composer, error) {
	c := &Composer{cat: cat, text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, p := range platform.Products() {
		if !cat.HasKey("product_" + p) {
			return nil, fmt.Errorf("mail: no translation for product %q", p)
		}
	}
	for _, kind := range allKinds() {
		for _, ext := range []string{"txt", "html"} {
			src, err := templateFS.ReadFile("templates/" + kind + "." + ext)
			if err != nil {
				return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
			}
			for _, m := range keyRef.FindAllStringSubmatch(string(src), -1) {
				if !cat.HasKey(m[1]) {
					return nil, fmt.Errorf("mail: template %s.%s uses unknown key %q", kind, ext, m[1])
				}
			}
			for _, lang := range cat.Languages() {
				funcs := c.funcs(lang)
				name := lang + "/" + kind
				if ext == "txt" {
					t, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
					if err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
					c.text[name] = t
				} else {
					t, err := htmltemplate.New(name).Funcs(htmltemplate.FuncMap(funcs)).Option("missingkey=error").Parse(string(src))
					if err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
					c.html[name] = t
				}
			}
		}
	}
	sample := Data{Flow: "objection", Code: "123456", ExpiresAt: time.Unix(0, 0), Reference: "NT-0000-0000-0000", At: time.Unix(0, 0),
		Accounts: []AccountLine{{Product: "facebook", Handle: "x"}}, Ended: 2, BaseURL: "http://localhost"}
	for _, kind := range allKinds() {
		for _, lang := range cat.Languages() {
			sample.Lang = lang
			if _, _, _, err := c.Compose(kind, lang, sample); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (c *Composer) funcs(lang string) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"t":       func(key string, kv ...any) string { return c.cat.T(lang, key, kv...) },
		"time":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"product": func(p string) string { return c.cat.T(lang, "product_"+p) },
	}
}

// Render fills in the subject and bodies of a mail stored as template data;
// a mail stored rendered comes back as it is.
func (c *Composer) Render(m store.Mail) (store.Mail, error) {
	if m.Data == "" || m.Kind == KindSuppressed {
		return m, nil
	}
	var d Data
	if err := json.Unmarshal([]byte(m.Data), &d); err != nil {
		return m, fmt.Errorf("mail: stored data of %s: %w", m.ID, err)
	}
	subject, text, html, err := c.Compose(m.Kind, m.Lang, d)
	if err != nil {
		return m, err
	}
	m.Subject, m.Text, m.HTML = subject, text, html
	return m, nil
}

// Compose renders the subject, text and HTML of a mail.
func (c *Composer) Compose(kind, lang string, d Data) (subject, text, html string, err error) {
	if !c.cat.Has(lang) {
		lang = locale.Default
	}
	d.Lang = lang
	tt, ok := c.text[lang+"/"+kind]
	if !ok {
		return "", "", "", fmt.Errorf("mail: no template for %q", kind)
	}
	var tb, hb bytes.Buffer
	if err := tt.Execute(&tb, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	if err := c.html[lang+"/"+kind].Execute(&hb, d); err != nil {
		return "", "", "", fmt.Errorf("mail: render %s html: %w", kind, err)
	}
	switch kind {
	case KindCode:
		subject = c.cat.T(lang, "mail_code_subject", "code", d.Code)
	case KindNoAccount:
		subject = c.cat.T(lang, "mail_noaccount_subject")
	case KindObjectionConfirmed:
		subject = c.cat.T(lang, "mail_objection_subject", "ref", d.Reference)
	case KindWithdrawalConfirmed:
		subject = c.cat.T(lang, "mail_withdrawal_subject", "ref", d.Reference)
	}
	return subject, strings.TrimSpace(tb.String()) + "\n", hb.String(), nil
}
