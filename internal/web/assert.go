package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/store"
)

// The platform links a signed-in person here with a signed assertion
// (internal/assertion) instead of making them wait for a code. The token
// travels in an Authorization header (API), or in the link's query and
// then a hidden form field (pages); it is never logged (the request log
// has no query strings), never put in a link, and the pages carry
// Referrer-Policy: no-referrer like every page here.

// codeAssertionNotConfigured: a Bearer assertion came, but the portal has
// no --platform-jwks.
const codeAssertionNotConfigured = "assertion_not_configured"

// apiAssertedRequest is the body of POST /api/v1/objections with a Bearer
// assertion: who objects is the assertion's, so there is no e-mail.
type apiAssertedRequest struct {
	Email  *string         `json:"email"` // only to refuse it clearly
	Scope  json.RawMessage `json:"scope"`
	Reason string          `json:"reason"`
	Lang   string          `json:"lang"`
}

// apiObjections is POST /api/v1/objections: with a Bearer assertion the
// objection is recorded at once, otherwise the e-mail flow starts.
func (s *Server) apiObjections(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		s.apiStart(objection.FlowObjection)(w, r)
		return
	}
	tok := bearer(r)
	if tok == "" {
		s.assertionRefused(w, r, "", &assertion.Error{Code: assertion.CodeInvalid, Reason: "not a Bearer token"})
		return
	}
	if s.cfg.Assertions == nil {
		s.assertionRefused(w, r, "", &assertion.Error{Code: codeAssertionNotConfigured, Reason: "no --platform-jwks"})
		return
	}
	a, err := s.cfg.Assertions.Verify(r.Context(), tok)
	if err != nil {
		s.assertionRefused(w, r, "", err)
		return
	}
	var req apiAssertedRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	if req.Email != nil {
		s.apiFail(w, r, "", &decodeError{status: http.StatusBadRequest, code: "invalid_request", field: "email"})
		return
	}
	lang := s.apiLang(r, req.Lang)
	scope, err := objection.ParseScopeJSON(req.Scope)
	if err != nil {
		s.apiFail(w, r, lang, err)
		return
	}
	out, _, err := s.svc.ObjectAsserted(r.Context(), objection.AssertedInput{Assertion: a, Scope: scope,
		Reason: strings.TrimSpace(req.Reason), Lang: lang, Channel: objection.ChannelAPIAssertion})
	if err != nil {
		s.assertionRefused(w, r, lang, err)
		return
	}
	writeJSON(w, http.StatusOK, s.verifiedJSON(r, objection.FlowObjection, out))
}

// assertionRefused answers a refused assertion: 401 with a stable code
// and RFC 6750's WWW-Authenticate, 503 while the platform's keys have
// never been fetched; other errors as every API error.
func (s *Server) assertionRefused(w http.ResponseWriter, r *http.Request, lang string, err error) {
	code := assertionCode(err)
	if code == "" {
		s.apiFail(w, r, lang, err)
		return
	}
	s.log.Debug("assertion refused", "code", code, "why", assertionReason(err))
	if code == assertion.CodeKeysUnavailable {
		w.Header().Set("Retry-After", "30")
		s.apiErrorIn(w, r, lang, http.StatusServiceUnavailable, code, nil)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="notrain", error="invalid_token"`)
	s.apiErrorIn(w, r, lang, http.StatusUnauthorized, code, nil)
}

// assertionCode is the stable code of an assertion's refusal, "" when err
// is not one (a field to correct, a failure on our side).
func assertionCode(err error) string {
	var ae *assertion.Error
	var oe *objection.Error
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.As(err, &oe) && (oe.Code == objection.CodeAssertionReplayed || oe.Code == objection.CodeAssertionUnknownAccount):
		return oe.Code
	}
	return ""
}

func assertionReason(err error) string {
	var ae *assertion.Error
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return err.Error()
}

// assertedPage is GET /?assertion=…: what one click will object for, and
// the one button. The assertion is checked but not used up.
func (s *Server) assertedPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("assertion")
	a, ok := s.verifyOnPage(w, r, tok)
	if !ok {
		return
	}
	accts, err := s.svc.AssertedAccounts(r.Context(), a)
	if err != nil {
		s.assertionErrorPage(w, r, err)
		return
	}
	s.assertedForm(w, r, http.StatusOK, tok, accts, formValues{ScopeAll: true, Products: map[string]bool{}}, nil)
}

// assertedForm renders the confirm page. Its language links are left out:
// they would have to carry the token, and a token is never put in a link;
// the platform names the language in its link (&lang=…).
func (s *Server) assertedForm(w http.ResponseWriter, r *http.Request, status int, tok string, accts []store.Account, form formValues, e *objection.Error) {
	d := &pageData{Form: form, Products: platform.Products(), Assertion: tok}
	d.Outcome.Accounts = accts
	if e != nil {
		s.addError(d, s.lang(w, r), e)
	}
	d.NoLangLinks = true
	s.page(w, r, status, "assert", "assert_title", d)
}

// assertedConfirm is the one button: it records the objection, using the
// assertion up, and shows the code flow's confirmation page.
func (s *Server) assertedConfirm(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	tok := r.PostForm.Get("assertion")
	a, ok := s.verifyOnPage(w, r, tok)
	if !ok {
		return
	}
	form := formValues{ScopeAll: r.PostForm.Get("scope") != "some", Products: map[string]bool{}}
	for _, p := range r.PostForm["product"] {
		form.Products[p] = true
	}
	scope := objection.AllAccounts
	if !form.ScopeAll {
		var err error
		scope, err = objection.NewScope(r.PostForm["product"])
		if len(r.PostForm["product"]) == 0 {
			err = &objection.Error{Code: objection.CodeScopeInvalid, Field: "scope"}
		}
		var e *objection.Error
		if errors.As(err, &e) {
			accts, aerr := s.svc.AssertedAccounts(r.Context(), a)
			if aerr != nil {
				s.assertionErrorPage(w, r, aerr)
				return
			}
			s.assertedForm(w, r, http.StatusBadRequest, tok, accts, form, e)
			return
		}
		if err != nil {
			s.assertionErrorPage(w, r, err)
			return
		}
	}
	_, rid, err := s.svc.ObjectAsserted(r.Context(), objection.AssertedInput{Assertion: a, Scope: scope,
		Lang: s.lang(w, r), Channel: objection.ChannelWebAssertion})
	if err != nil {
		s.assertionErrorPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/objection/"+rid+"/done", http.StatusSeeOther)
}

// verifyOnPage checks a page's assertion; on failure it has answered.
func (s *Server) verifyOnPage(w http.ResponseWriter, r *http.Request, tok string) (assertion.Assertion, bool) {
	if s.cfg.Assertions == nil {
		s.assertionErrorPage(w, r, &assertion.Error{Code: codeAssertionNotConfigured})
		return assertion.Assertion{}, false
	}
	a, err := s.cfg.Assertions.Verify(r.Context(), tok)
	if err != nil {
		s.assertionErrorPage(w, r, err)
		return a, false
	}
	return a, true
}

// assertionErrorPage says, in the person's language, why the platform's
// link did not work, and links to the e-mail form, which always does.
func (s *Server) assertionErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	code := assertionCode(err)
	if code == "" {
		s.log.Error("assertion page", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return
	}
	s.log.Debug("assertion refused", "code", code, "why", assertionReason(err))
	status := http.StatusBadRequest
	if code == assertion.CodeKeysUnavailable {
		status = http.StatusServiceUnavailable
	}
	lang := s.lang(w, r)
	s.page(w, r, status, "error", "error_title", &pageData{Message: s.cat.T(lang, "err_"+code), EmailFormLink: true, NoLangLinks: true})
}
