package mail

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"maps"
	"regexp"
	"slices"
	"strconv"
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
	// A verified report and the decisions on it (internal/report).
	KindReportReceived = "report_received"
	KindReportApproved = "report_approved"
	KindReportRejected = "report_rejected"
	KindReportMoreInfo = "report_more_info"
	// Consent (policy mode consent): given, and withdrawn.
	KindConsentGiven     = "consent_given"
	KindConsentWithdrawn = "consent_withdrawn"
	// KindSuppressed is an outbox row whose message is never sent: it stands
	// in for a notice that is not due, and its delivery is attempted up to
	// RCPT TO (Prober), so an unknown address's request goes through the
	// same delivery states as a known one's.
	KindSuppressed = "suppressed"
)

func allKinds() []string {
	return []string{KindCode, KindNoAccount, KindObjectionConfirmed, KindWithdrawalConfirmed,
		KindReportReceived, KindReportApproved, KindReportRejected, KindReportMoreInfo, KindConsentGiven, KindConsentWithdrawn}
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
	ThirdPartyExcluded bool          `json:"-"` // set by the Composer from its Config, never stored
	BaseURL            string        `json:"base_url,omitempty"`
	// LedgerSeq is the ledger entry a confirmation reports; its receipt is
	// made when the mail is sent, after the entry is committed and signed.
	LedgerSeq int64 `json:"seq,omitempty"`
	Receipt   bool  `json:"-"` // set by the Composer: a receipt is attached
	// Items are the items a report names; Note is the reason an operator
	// gave for a decision (a refusal's reason, Art. 12(4) GDPR, or what
	// more is needed).
	Items []string `json:"items,omitempty"`
	Note  string   `json:"note,omitempty"`
	// ProductsEnded and ProductsKept are what a withdrawal of consent
	// ended and what still has consent after it.
	ProductsEnded []string `json:"products_ended,omitempty"`
	ProductsKept  []string `json:"products_kept,omitempty"`
}

// ComposerConfig is what mails say that comes from the deployment, not from
// the request a mail answers.
type ComposerConfig struct {
	// ThirdPartyExcluded is whether the policy in force leaves out posts by
	// others that tag or mention an objector (policy third_party: exclude).
	// Confirmations promise it only then. It is applied when a mail is
	// rendered, so a mail queued before a restart with another policy
	// promises what the running policy does.
	ThirdPartyExcluded bool
	// Receipts makes the receipt a confirmation attaches; nil attaches none.
	Receipts Receipts
}

// Receipts makes the receipt (c2sp.org/tlog-proof) of a ledger entry.
type Receipts interface {
	Receipt(ctx context.Context, seq int64) ([]byte, error)
}

// Attachments returns the files a rendered mail carries: a confirmation's
// receipt, named after its reference.
func (c *Composer) Attachments(ctx context.Context, m store.Mail) ([]Attachment, error) {
	if c.cfg.Receipts == nil || m.Data == "" || !hasReceipt(m.Kind) {
		return nil, nil
	}
	var d Data
	if err := json.Unmarshal([]byte(m.Data), &d); err != nil {
		return nil, fmt.Errorf("mail: stored data of %s: %w", m.ID, err)
	}
	if d.LedgerSeq < 1 {
		return nil, nil
	}
	b, err := c.cfg.Receipts.Receipt(ctx, d.LedgerSeq)
	if err != nil {
		return nil, fmt.Errorf("mail: receipt of %s: %w", d.Reference, err)
	}
	return []Attachment{{Name: d.Reference + ".tlog-proof", Data: b}}, nil
}

// hasReceipt reports whether mails of kind confirm a ledger entry and
// carry its receipt.
func hasReceipt(kind string) bool {
	switch kind {
	case KindObjectionConfirmed, KindWithdrawalConfirmed, KindReportReceived, KindReportApproved, KindReportRejected,
		KindConsentGiven, KindConsentWithdrawn:
		return true
	}
	return false
}

// Composer renders mails in every language of the catalog.
type Composer struct {
	cat  *locale.Catalog
	cfg  ComposerConfig
	text map[string]*texttemplate.Template // lang + "/" + kind
	html map[string]*htmltemplate.Template
}

// subjectKeys is each kind's subject line; its placeholder, if any, is
// filled in by Compose.
func subjectKeys() map[string]string {
	return map[string]string{
		KindCode:                "mail_code_subject",
		KindNoAccount:           "mail_noaccount_subject",
		KindObjectionConfirmed:  "mail_objection_subject",
		KindWithdrawalConfirmed: "mail_withdrawal_subject",
		KindReportReceived:      "mail_report_received_subject",
		KindReportApproved:      "mail_report_approved_subject",
		KindReportRejected:      "mail_report_rejected_subject",
		KindReportMoreInfo:      "mail_report_more_info_subject",
		KindConsentGiven:        "mail_consent_subject",
		KindConsentWithdrawn:    "mail_consent_withdrawn_subject",
	}
}

// NewComposer parses every template for every language, checks that every
// key a mail can use has a message in every language (the templates' keys,
// read from their parsed trees, the subjects and the products' names), and
// renders each mail once with sample data, so a broken template or a missing
// message fails at start and never reaches a mail.
func NewComposer(cat *locale.Catalog, cfg ComposerConfig) (*Composer, error) {
	return newComposer(cat, cfg, true)
}

// newComposer is NewComposer; without fold the templates call t for every
// message when rendered (the tests compare the two).
func newComposer(cat *locale.Catalog, cfg ComposerConfig, fold bool) (*Composer, error) {
	c := &Composer{cat: cat, cfg: cfg, text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	keys := slices.Sorted(maps.Values(subjectKeys()))
	for _, p := range platform.Products() {
		keys = append(keys, "product_"+p)
	}
	if err := cat.Check(keys...); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	for _, kind := range allKinds() {
		if _, ok := subjectKeys()[kind]; !ok {
			return nil, fmt.Errorf("mail: no subject for %q", kind)
		}
		for _, ext := range []string{"txt", "html"} {
			src, err := templateFS.ReadFile("templates/" + kind + "." + ext)
			if err != nil {
				return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
			}
			for _, lang := range cat.Languages() {
				funcs := c.funcs(lang)
				name := lang + "/" + kind
				// The keys are read from the template as written; the
				// language's templates have their fixed messages in place.
				if lang == locale.Default {
					t, err := texttemplate.New(name).Funcs(funcs).Parse(string(src))
					if err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
					used, err := locale.TemplateKeys("t", t.Tree)
					if err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
					if err := cat.Check(used...); err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
				}
				src := string(src)
				if fold {
					src = foldMessages(src, func(key string) string { return cat.T(lang, key) })
				}
				if ext == "txt" {
					t, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
					if err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
					c.text[name] = t
				} else {
					t, err := htmltemplate.New(name).Funcs(htmltemplate.FuncMap(funcs)).Option("missingkey=error").Parse(src)
					if err != nil {
						return nil, fmt.Errorf("mail: template %s.%s: %w", kind, ext, err)
					}
					c.html[name] = t
				}
			}
		}
	}
	sample := Data{Flow: "objection", Code: "123456", ExpiresAt: time.Unix(0, 0), Reference: "NT-0000-0000-0000", At: time.Unix(0, 0),
		Accounts: []AccountLine{{Product: "facebook", Handle: "x"}}, Ended: 2, BaseURL: "http://localhost", LedgerSeq: 1,
		Items: []string{"fb:1"}, Note: "n", ProductsEnded: []string{"instagram"}, ProductsKept: []string{"facebook", "threads"}}
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

// fixedMessage is a template action that shows a message with nothing
// filled in: {{t "key"}}.
var fixedMessage = regexp.MustCompile(`\{\{t "([a-z0-9_]+)"\}\}`)

// foldMessages puts each fixed message of one language into the template
// source as a string constant, {{"…"}}: the output is the same (html/template
// escapes a constant as it escapes t's result, by its context), but
// rendering, done for every mail sent, no longer calls t by reflection for
// each of them, which was most of a code mail's rendering.
func foldMessages(src string, t func(key string) string) string {
	return fixedMessage.ReplaceAllStringFunc(src, func(action string) string {
		key := fixedMessage.FindStringSubmatch(action)[1]
		return "{{" + strconv.Quote(t(key)) + "}}"
	})
}

func (c *Composer) funcs(lang string) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"t":       func(key string, kv ...any) string { return c.cat.T(lang, key, kv...) },
		"time":    func(t time.Time) string { return c.cat.DateTime(lang, t) },
		"num":     func(n any) string { return c.cat.Number(lang, n) },
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
	d.ThirdPartyExcluded = c.cfg.ThirdPartyExcluded
	d.Receipt = c.cfg.Receipts != nil && d.LedgerSeq > 0
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
	subject = c.cat.T(lang, subjectKeys()[kind], "code", d.Code, "ref", d.Reference)
	return subject, strings.TrimSpace(tb.String()) + "\n", hb.String(), nil
}
