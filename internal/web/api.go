package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/strictjson"
)

// apiStartRequest is the body of POST /api/v1/objections and /withdrawals.
type apiStartRequest struct {
	Email  string          `json:"email"`
	Scope  json.RawMessage `json:"scope"`
	Reason string          `json:"reason"`
	Lang   string          `json:"lang"`
}

// apiVerifyRequest is the body of the verify and resend endpoints.
type apiVerifyRequest struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
}

// apiError is the error envelope: {"error":{"code":…,"message":…}}.
type apiError struct {
	Code              string `json:"code"`
	Message           string `json:"message"`
	Field             string `json:"field,omitempty"`
	RetryAfter        int    `json:"retry_after,omitempty"`
	AttemptsRemaining *int   `json:"attempts_remaining,omitempty"`
}

// decodeError is a body that could not be decoded; code is stable, field
// names the key at fault when there is one.
type decodeError struct {
	status int
	code   string
	field  string
}

func (e *decodeError) Error() string { return e.code }

// extra is what the error envelope says beyond code and message.
func (e *decodeError) extra() map[string]any {
	if e.field == "" {
		return nil
	}
	return map[string]any{"field": e.field}
}

// decodeJSON reads exactly one JSON object of the expected shape through
// the one strict decoder (internal/strictjson): unknown, duplicate or
// miscased keys are refused so a misspelt "scope" cannot silently widen an
// objection. The body must be UTF-8 (RFC 8259 §8.1): application/json
// defines no charset parameter, and one naming anything but UTF-8 is
// refused rather than guessed at. A leading byte order mark is ignored, as
// §8.1 allows.
func decodeJSON(r *http.Request, v any) error {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return &decodeError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &decodeError{status: http.StatusUnsupportedMediaType, code: "unsupported_charset"}
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &decodeError{status: http.StatusRequestEntityTooLarge, code: "body_too_large"}
	}
	if err != nil {
		return &decodeError{status: http.StatusBadRequest, code: "invalid_request"}
	}
	return decodeBody(strictjson.TrimBOM(body), v)
}

// decodeBody maps the decoder's refusals to stable codes: invalid_json for
// a body that is not one well-formed UTF-8 JSON value with unique keys,
// invalid_request for JSON of the wrong shape.
func decodeBody(body []byte, v any) error {
	err := strictjson.Decode(body, v)
	var se *strictjson.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se) && se.Kind == strictjson.Malformed:
		return &decodeError{status: http.StatusBadRequest, code: "invalid_json", field: se.Key}
	case errors.As(err, &se):
		return &decodeError{status: http.StatusBadRequest, code: "invalid_request", field: se.Key}
	}
	return &decodeError{status: http.StatusBadRequest, code: "invalid_request"}
}

func (s *Server) apiLang(r *http.Request, explicit string) string {
	if explicit != "" {
		return explicit
	}
	return s.cat.Match(r.Header.Get("Accept-Language"))
}

func (s *Server) apiStart(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req apiStartRequest
		if err := decodeJSON(r, &req); err != nil {
			s.apiFail(w, r, "", err)
			return
		}
		lang := s.apiLang(r, req.Lang)
		in := objection.StartInput{Flow: flow, Email: req.Email, Lang: lang, Channel: "api", Scope: objection.AllAccounts, Client: s.client(r)}
		if flow == objection.FlowObjection || flow == consent.FlowGive || flow == consent.FlowWithdraw {
			if flow == consent.FlowGive && (len(req.Scope) == 0 || string(req.Scope) == "null") {
				s.apiFail(w, r, lang, &objection.Error{Code: objection.CodeScopeRequired, Field: "scope"})
				return
			}
			scope, err := objection.ParseScopeJSON(req.Scope)
			if err != nil {
				s.apiFail(w, r, lang, err)
				return
			}
			if flow != objection.FlowObjection && req.Reason != "" {
				s.apiFail(w, r, lang, &decodeError{status: http.StatusBadRequest, code: "invalid_request", field: "reason"})
				return
			}
			in.Scope, in.Reason = scope, strings.TrimSpace(req.Reason)
		} else if len(req.Scope) > 0 || req.Reason != "" {
			s.apiFail(w, r, lang, &decodeError{status: http.StatusBadRequest, code: "invalid_request"})
			return
		}
		st, err := s.svc.Start(r.Context(), in)
		if err != nil {
			s.apiFail(w, r, lang, err)
			return
		}
		s.apiStarted(w, st)
	}
}

// apiStarted answers a saved code request. code_delayed is the check
// page's "many people are objecting right now" notice: the request is
// saved, the code will come, late.
func (s *Server) apiStarted(w http.ResponseWriter, st objection.Started) {
	writeJSON(w, http.StatusAccepted, map[string]any{
		"request_id":   st.RequestID,
		"status":       "code_sent",
		"expires_at":   st.ExpiresAt.Format(time.RFC3339),
		"resend_after": st.ResendAt.Format(time.RFC3339),
		"code_delayed": s.behind(),
	})
}

func (s *Server) apiResend(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req apiVerifyRequest
		if err := decodeJSON(r, &req); err != nil || req.Code != "" {
			if err == nil {
				err = &decodeError{status: http.StatusBadRequest, code: "invalid_request"}
			}
			s.apiFail(w, r, "", err)
			return
		}
		st, err := s.svc.Resend(r.Context(), flow, req.RequestID, s.client(r))
		if err != nil {
			s.apiFail(w, r, "", err)
			return
		}
		s.apiStarted(w, st)
	}
}

func (s *Server) apiVerify(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req apiVerifyRequest
		if err := decodeJSON(r, &req); err != nil {
			s.apiFail(w, r, "", err)
			return
		}
		out, err := s.svc.Verify(r.Context(), flow, req.RequestID, req.Code)
		if err != nil {
			s.apiFail(w, r, "", err)
			return
		}
		writeJSON(w, http.StatusOK, s.verifiedJSON(r, flow, out))
	}
}

// verifiedJSON is the answer to a confirmed request: a verified code's,
// and an objection made with a platform assertion's.
func (s *Server) verifiedJSON(r *http.Request, flow objection.Flow, out objection.Outcome) map[string]any {
	at := out.At.Format(time.RFC3339Nano)
	resp := map[string]any{"reference": out.Reference, "status": out.Status}
	switch flow {
	case objection.FlowWithdrawal:
		resp["withdrawn_at"] = at
		resp["objections_ended"] = out.Ended
	case consent.FlowWithdraw:
		resp["withdrawn_at"] = at
		resp["consents_ended"] = out.Ended
		resp["scope"] = out.Scope.String()
		resp["products_ended"] = nonNil(out.ProductsEnded)
		resp["products_kept"] = nonNil(out.ProductsKept)
	case consent.FlowGive:
		resp["given_at"] = at
		resp["scope"] = out.Scope.String()
		resp["accounts"] = accountsJSON(out)
	default:
		resp["effective_at"] = at
		resp["scope"] = out.Scope.String()
		resp["accounts"] = accountsJSON(out)
	}
	if out.LedgerSeq > 0 {
		// The decision is committed: a receipt that cannot be made
		// now must not turn it into a failure the client retries. It
		// can be fetched again from the done page or from my data.
		if rc, err := receipt.Make(r.Context(), s.db.RecentLog(), out.LedgerSeq); err != nil {
			s.log.ErrorContext(r.Context(), "receipt not made", "seq", out.LedgerSeq, "err", err)
		} else {
			resp["receipt"] = string(rc)
		}
	}
	return resp
}

// nonNil makes an empty list a JSON [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// accountsJSON lists the accounts an outcome covers as the API shows them.
func accountsJSON(out objection.Outcome) []map[string]string {
	accts := make([]map[string]string, len(out.Accounts))
	for i, a := range out.Accounts {
		accts[i] = map[string]string{"product": a.Product, "handle": a.Handle}
	}
	return accts
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.apiError(w, r, http.StatusNotFound, "not_found", nil)
}

// apiFail answers with the error envelope, translating the message.
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, lang string, err error) {
	var de *decodeError
	var e *objection.Error
	switch {
	case errors.As(err, &de):
		s.apiError(w, r, de.status, de.code, de.extra())
	case errors.As(err, &e):
		if lang == "" || !s.cat.Has(lang) {
			lang = s.apiLang(r, "")
		}
		setRetryAfter(w, e)
		body := apiError{Code: e.Code, Message: s.message(lang, e), Field: e.Field}
		if e.RetryAfter > 0 {
			body.RetryAfter = retrySeconds(e.RetryAfter)
		}
		if e.Code == objection.CodeCodeInvalid {
			n := max(e.Remaining, 0)
			body.AttemptsRemaining = &n
		}
		writeJSON(w, refusalStatus(e.Code), map[string]any{"error": body})
	default:
		s.log.Error("api", "route", r.Pattern, "err", err)
		s.apiError(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// apiError answers with a code whose message comes from the catalog.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, status int, code string, extra map[string]any) {
	s.apiErrorIn(w, r, "", status, code, extra)
}

// apiErrorIn is apiError in the body's language, when the request named
// one the catalogs have, else Accept-Language's.
func (s *Server) apiErrorIn(w http.ResponseWriter, r *http.Request, lang string, status int, code string, extra map[string]any) {
	if lang == "" || !s.cat.Has(lang) {
		lang = s.apiLang(r, "")
	}
	key := "err_" + code
	msg := http.StatusText(status)
	if s.cat.HasKey(key) {
		msg = s.cat.T(lang, key)
	}
	body := map[string]any{"code": code, "message": msg}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func retrySeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

func setRetryAfter(w http.ResponseWriter, e *objection.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(e.RetryAfter)))
	}
}
