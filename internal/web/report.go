package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
)

// Pages and API of "content that shows me" (internal/report). The code
// steps between the form and the confirmation are the generic check,
// verify and resend handlers, on flow report.

// reportForm shows the form; a link from the more-information mail
// (?follows=NTR-…) makes the new report follow up that case. Only the
// reference's shape is checked, so the page looks the same whether or not
// the reference exists; a malformed one is left out.
func (s *Server) reportForm(w http.ResponseWriter, r *http.Request) {
	d := &pageData{}
	if f := strings.TrimSpace(r.URL.Query().Get("follows")); report.ValidFollows(f) {
		d.Form.Follows = f
	}
	s.page(w, r, http.StatusOK, "report", "report_title", d)
}

// reportStart takes the report form: every field's refusal is shown at
// once beside its field; a valid report gets its code.
func (s *Server) reportStart(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	lang := s.lang(w, r)
	form := formValues{Email: r.PostForm.Get("email"), Items: r.PostForm.Get("items"), Relation: r.PostForm.Get("relation"),
		Description: r.PostForm.Get("description"), Account: r.PostForm.Get("account"), Follows: r.PostForm.Get("follows")}
	// The form carries only a follows the link gave in a valid shape
	// (reportForm); anything else was not typed by the person, who could
	// not correct a hidden field, so it is dropped, as an unknown one is.
	if !report.ValidFollows(strings.TrimSpace(form.Follows)) {
		form.Follows = ""
	}
	in := report.Input{Email: form.Email, Items: strings.Split(form.Items, "\n"), Relation: form.Relation,
		Description: form.Description, Account: form.Account, Follows: form.Follows, Lang: lang, Channel: "web", Client: s.client(r)}
	fail := func(errs ...error) {
		d := &pageData{Form: form}
		status := 0
		for _, err := range errs {
			var e *objection.Error
			if !errors.As(err, &e) {
				s.log.Error("start", "flow", report.Flow, "err", err)
				s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
				return
			}
			setRetryAfter(w, e)
			s.addError(d, lang, e)
			status = max(status, refusalStatus(e.Code))
		}
		s.page(w, r, status, "report", "report_title", d)
	}
	var errs []error
	if _, err := objection.ParseEmail(form.Email); err != nil {
		errs = append(errs, err)
	}
	_, refusals := s.cfg.Reports.Check(in)
	for _, e := range refusals {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		fail(errs...)
		return
	}
	st, err := s.cfg.Reports.Start(r.Context(), in)
	if err != nil {
		fail(err)
		return
	}
	http.Redirect(w, r, "/report/"+st.RequestID, http.StatusSeeOther)
}

// reportDone is the confirmation: the reference, the items and the state
// of the review.
func (s *Server) reportDone(w http.ResponseWriter, r *http.Request) {
	res, ok := s.reportResult(w, r)
	if !ok {
		return
	}
	d := &pageData{Lang: res.Lang, Flow: report.Flow, Report: res}
	if res.LedgerSeq > 0 {
		d.ReceiptURL = "/report/" + r.PathValue("rid") + "/receipt"
	}
	// The page outlives the review: once decided, it says what was decided,
	// not that a review is under way.
	title := "done_report_title"
	switch res.Status {
	case store.ReportApproved:
		title = "done_report_approved_title"
	case store.ReportRejected:
		title = "done_report_rejected_title"
	}
	s.page(w, r, http.StatusOK, "report_done", title, d)
}

// reportReceipt serves the receipt of a confirmed report, to whoever holds
// the request id, as its confirmation page is.
func (s *Server) reportReceipt(w http.ResponseWriter, r *http.Request) {
	res, ok := s.reportResult(w, r)
	if !ok {
		return
	}
	b, err := receipt.Make(r.Context(), s.db.RecentLog(), res.LedgerSeq)
	if err != nil {
		s.log.Error("receipt", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+res.Reference+`.tlog-proof"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// reportResult reads a confirmed report; when it cannot, it has answered
// with the error page.
func (s *Server) reportResult(w http.ResponseWriter, r *http.Request) (report.Result, bool) {
	res, err := s.cfg.Reports.Result(r.Context(), r.PathValue("rid"))
	var e *objection.Error
	switch {
	case errors.As(err, &e):
		s.errorPage(w, r, refusalStatus(e.Code), "err_"+e.Code)
		return res, false
	case err != nil:
		s.log.Error("result", "flow", report.Flow, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return res, false
	}
	return res, true
}

// apiReportRequest is the body of POST /api/v1/reports.
type apiReportRequest struct {
	Email       string   `json:"email"`
	Items       []string `json:"items"`
	Relation    string   `json:"relation"`
	Description string   `json:"description"`
	Account     string   `json:"account"`
	Follows     string   `json:"follows"` // optional: the report this one follows up (more information)
	Lang        string   `json:"lang"`
}

func (s *Server) apiReportStart(w http.ResponseWriter, r *http.Request) {
	var req apiReportRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	lang := s.apiLang(r, req.Lang)
	st, err := s.cfg.Reports.Start(r.Context(), report.Input{Email: req.Email, Items: req.Items, Relation: req.Relation,
		Description: req.Description, Account: req.Account, Follows: req.Follows, Lang: lang, Channel: "api", Client: s.client(r)})
	if err != nil {
		s.apiFail(w, r, lang, err)
		return
	}
	s.apiStarted(w, st)
}

func (s *Server) apiReportVerify(w http.ResponseWriter, r *http.Request) {
	var req apiVerifyRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	out, err := s.cfg.Reports.Verify(r.Context(), req.RequestID, req.Code)
	if err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	resp := map[string]any{"reference": out.Reference, "status": out.Status, "items": out.Items,
		"received_at": out.At.Format(time.RFC3339Nano), "due_at": review.Due(out.At).Format(time.RFC3339Nano)}
	// The report is committed: a receipt that cannot be made now must not
	// turn it into a failure the client retries (the mail carries it).
	if rc, err := receipt.Make(r.Context(), s.db.RecentLog(), out.LedgerSeq); err != nil {
		s.log.ErrorContext(r.Context(), "receipt not made", "seq", out.LedgerSeq, "err", err)
	} else {
		resp["receipt"] = string(rc)
	}
	writeJSON(w, http.StatusOK, resp)
}
