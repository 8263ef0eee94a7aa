package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/platform"
)

func (s *Server) objectionForm(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("assertion") {
		s.assertedPage(w, r)
		return
	}
	s.page(w, r, http.StatusOK, "object", "object_title", &pageData{
		Form: formValues{ScopeAll: true, Products: map[string]bool{}}, Products: platform.Products(),
	})
}

func (s *Server) withdrawalForm(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, http.StatusOK, "withdraw", "withdraw_title", &pageData{})
}

func (s *Server) consentForm(w http.ResponseWriter, r *http.Request) {
	// Nothing is chosen for the person: consent is what they tick.
	s.page(w, r, http.StatusOK, "consent", "consent_title", &pageData{
		Form: formValues{ScopeUnset: true, Products: map[string]bool{}}, Products: platform.Products(),
	})
}

func (s *Server) consentWithdrawalForm(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, http.StatusOK, "consent_withdraw", "consent_withdraw_title", &pageData{
		Form: formValues{ScopeAll: true, Products: map[string]bool{}}, Products: platform.Products(),
	})
}

// flowPath is the URL segment of a flow's pages: its name, but with a
// hyphen where the name has an underscore (/consent-withdrawal/…).
func flowPath(f objection.Flow) string {
	return strings.ReplaceAll(string(f), "_", "-")
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("static/style.css")
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "err_not_found")
}

// parseForm reads a posted form, answering 413 or 400 itself when it cannot.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "err_body_too_large")
		return false
	case err != nil:
		s.errorPage(w, r, http.StatusBadRequest, "err_invalid_request")
		return false
	}
	return true
}

// startPage handles the objection and withdrawal forms.
func (s *Server) startPage(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		lang := s.lang(w, r)
		form := formValues{Email: r.PostForm.Get("email"), Reason: r.PostForm.Get("reason"),
			ScopeAll: r.PostForm.Get("scope") != "some", Products: map[string]bool{}}
		if flow == consent.FlowGive {
			form.ScopeAll, form.ScopeUnset = r.PostForm.Get("scope") == "all", r.PostForm.Get("scope") == ""
		}
		for _, p := range r.PostForm["product"] {
			form.Products[p] = true
		}
		formPage, title := "object", "object_title"
		switch flow {
		case objection.FlowWithdrawal:
			formPage, title = "withdraw", "withdraw_title"
		case objection.FlowAccess:
			formPage, title = "access", "access_title"
		case consent.FlowGive:
			formPage, title = "consent", "consent_title"
		case consent.FlowWithdraw:
			formPage, title = "consent_withdraw", "consent_withdraw_title"
		}
		fail := func(errs ...error) {
			d := &pageData{Form: form, Products: platform.Products()}
			status := 0
			for _, err := range errs {
				var e *objection.Error
				if !errors.As(err, &e) {
					s.log.Error("start", "flow", flow, "err", err)
					s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
					return
				}
				setRetryAfter(w, e)
				s.addError(d, lang, e)
				status = max(status, refusalStatus(e.Code))
			}
			s.page(w, r, status, formPage, title, d)
		}
		in := objection.StartInput{Flow: flow, Email: form.Email, Lang: lang, Channel: "web", Scope: objection.AllAccounts, Client: s.client(r)}
		if flow == objection.FlowObjection || flow == consent.FlowGive || flow == consent.FlowWithdraw {
			if flow == objection.FlowObjection {
				in.Reason = strings.TrimSpace(form.Reason)
			}
			if !form.ScopeAll {
				scope, err := objection.NewScope(r.PostForm["product"])
				switch {
				case form.ScopeUnset:
					err = &objection.Error{Code: objection.CodeScopeRequired, Field: "scope"}
				case len(r.PostForm["product"]) == 0:
					err = &objection.Error{Code: objection.CodeScopeInvalid, Field: "scope"}
				}
				if err != nil {
					// Report every field at once, not one per round trip.
					if _, emailErr := objection.ParseEmail(form.Email); emailErr != nil {
						fail(emailErr, err)
						return
					}
					fail(err)
					return
				}
				in.Scope = scope
			}
		}
		st, err := s.svc.Start(r.Context(), in)
		if err != nil {
			fail(err)
			return
		}
		http.Redirect(w, r, "/"+flowPath(flow)+"/"+st.RequestID, http.StatusSeeOther)
	}
}

// checkPage is "check your mail": the code form and the resend button.
func (s *Server) checkPage(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.view(w, r, flow)
		if !ok {
			return
		}
		if v.Done && flow == objection.FlowAccess {
			http.Redirect(w, r, "/me", http.StatusSeeOther)
			return
		}
		if v.Done {
			http.Redirect(w, r, "/"+flowPath(flow)+"/"+v.RequestID+"/done", http.StatusSeeOther)
			return
		}
		s.page(w, r, http.StatusOK, "check", "check_title", &pageData{Lang: v.Lang, Flow: flow, View: v, Resent: r.URL.Query().Has("resent"), Behind: s.behind()})
	}
}

func (s *Server) view(w http.ResponseWriter, r *http.Request, flow objection.Flow) (objection.View, bool) {
	v, err := s.svc.View(r.Context(), flow, r.PathValue("rid"))
	var e *objection.Error
	switch {
	case errors.As(err, &e):
		s.errorPage(w, r, refusalStatus(e.Code), "err_"+e.Code)
		return v, false
	case err != nil:
		s.log.Error("view", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return v, false
	}
	return v, true
}

// verifyPage checks the code from the check page.
func (s *Server) verifyPage(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		rid := r.PathValue("rid")
		_, err := s.svc.Verify(r.Context(), flow, rid, r.PostForm.Get("code"))
		if err == nil {
			http.Redirect(w, r, "/"+flowPath(flow)+"/"+rid+"/done", http.StatusSeeOther)
			return
		}
		s.checkPageError(w, r, flow, err)
	}
}

// resendPage sends a new code.
func (s *Server) resendPage(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		rid := r.PathValue("rid")
		if _, err := s.svc.Resend(r.Context(), flow, rid, s.client(r)); err != nil {
			s.checkPageError(w, r, flow, err)
			return
		}
		http.Redirect(w, r, "/"+flowPath(flow)+"/"+rid+"?resent=1", http.StatusSeeOther)
	}
}

// checkPageError shows the check page again with the error beside the field.
func (s *Server) checkPageError(w http.ResponseWriter, r *http.Request, flow objection.Flow, err error) {
	var e *objection.Error
	if !errors.As(err, &e) {
		s.log.Error("verify", "flow", flow, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return
	}
	v, ok := s.view(w, r, flow)
	if !ok {
		return
	}
	if v.Done && e.Code != objection.CodeCodeUsed && flow != objection.FlowAccess {
		http.Redirect(w, r, "/"+flowPath(flow)+"/"+v.RequestID+"/done", http.StatusSeeOther)
		return
	}
	setRetryAfter(w, e)
	d := &pageData{Lang: v.Lang, Flow: flow, View: v, Behind: s.behind()}
	s.addError(d, s.pageLang(w, r, v.Lang), e)
	s.page(w, r, refusalStatus(e.Code), "check", "check_title", d)
}

// result reads a completed request for its confirmation page or receipt;
// when it cannot, it has answered with that page's error.
func (s *Server) result(w http.ResponseWriter, r *http.Request, flow objection.Flow) (objection.Outcome, bool) {
	out, err := s.svc.Result(r.Context(), flow, r.PathValue("rid"))
	var e *objection.Error
	switch {
	case errors.As(err, &e):
		s.errorPage(w, r, refusalStatus(e.Code), "err_"+e.Code)
		return out, false
	case err != nil:
		s.log.Error("result", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return out, false
	}
	return out, true
}

// donePage is the confirmation with the reference number.
func (s *Server) donePage(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, ok := s.result(w, r, flow)
		if !ok {
			return
		}
		page, title := "done", "done_objection_title"
		switch flow {
		case objection.FlowWithdrawal:
			title = "done_withdrawal_title"
		case consent.FlowGive:
			page, title = "consent_done", "consent_done_title"
		case consent.FlowWithdraw:
			page, title = "consent_done", "consent_done_withdrawn_title"
		}
		d := &pageData{Lang: out.Lang, Flow: flow, Outcome: out}
		if out.LedgerSeq > 0 {
			d.ReceiptURL = "/" + flowPath(flow) + "/" + r.PathValue("rid") + "/receipt"
		}
		s.page(w, r, http.StatusOK, page, title, d)
	}
}

// addError puts a refusal's message in the summary and beside its field.
func (s *Server) addError(d *pageData, lang string, e *objection.Error) {
	msg := s.message(lang, e)
	if d.Err == nil {
		d.Err = map[string]string{}
	}
	field := e.Field
	if field == "lang" {
		field = ""
	}
	if field != "" {
		d.Err[field] = msg
	}
	d.Errors = append(d.Errors, formError{Field: field, Message: msg})
}

// message translates a refusal.
func (s *Server) message(lang string, e *objection.Error) string {
	key := "err_" + e.Code
	if e.Code == objection.CodeCodeInvalid && e.Remaining <= 0 {
		key = "err_code_invalid_last"
	}
	if !s.cat.HasKey(key) {
		key = "err_invalid_request"
	}
	return s.cat.T(lang, key, "n", e.Remaining, "time", s.cat.DateTime(lang, e.Until), "seconds", retrySeconds(e.RetryAfter))
}
