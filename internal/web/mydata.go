package web

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/models"
	"github.com/notrain/notrain/internal/mydata"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/tokens"
)

// meCookie holds a person's "my data" access token between pages. It is
// HttpOnly (no script reads it), SameSite=Strict (no other site's page can
// make the browser send it), limited to /me, and lives no longer than the
// token. A cookie, not a token in the URL: URLs end up in logs, history and
// Referer headers.
const meCookie = "notrain_me"

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="notrain"`)
	s.apiError(w, r, http.StatusUnauthorized, "unauthorized", nil)
}

// apiAccessVerify exchanges a verified access code for a bearer token. It is
// not idempotent-cached: the cache would keep the token in clear.
func (s *Server) apiAccessVerify(w http.ResponseWriter, r *http.Request) {
	var req apiVerifyRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	out, err := s.svc.Verify(r.Context(), objection.FlowAccess, req.RequestID, req.Code)
	if err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": out.Token, "expires_at": out.ExpiresAt.Format(time.RFC3339)})
}

// apiMe answers GET /api/v1/me.
func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	ov, ok := s.overview(w, r, bearer(r), s.unauthorized)
	if ok {
		writeJSON(w, http.StatusOK, ov)
	}
}

// overview reads the data the token answers for; on failure it has answered.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, tok string, deny func(http.ResponseWriter, *http.Request)) (mydata.Overview, bool) {
	h, err := s.mydata.Authenticate(r.Context(), tok)
	if errors.Is(err, mydata.ErrUnauthorized) {
		deny(w, r)
		return mydata.Overview{}, false
	}
	var ov mydata.Overview
	if err == nil {
		ov, err = s.mydata.Overview(r.Context(), h)
	}
	if err != nil {
		s.log.Error("mydata", "err", err)
		s.apiError(w, r, http.StatusInternalServerError, "internal", nil)
		return ov, false
	}
	return ov, true
}

// apiModelRequest is the body of POST /api/v1/models.
type apiModelRequest struct {
	Name      string   `json:"name"`
	Snapshots []string `json:"snapshots"`
	TrainedAt string   `json:"trained_at"`
}

// apiModels registers a model for a token of scope "models".
func (s *Server) apiModels(w http.ResponseWriter, r *http.Request) {
	switch err := tokens.Check(r.Context(), s.db, s.cfg.Keys, bearer(r), tokens.ScopeModels); {
	case errors.Is(err, tokens.ErrUnauthorized):
		s.unauthorized(w, r)
		return
	case errors.Is(err, tokens.ErrForbidden):
		s.apiError(w, r, http.StatusForbidden, "forbidden", nil)
		return
	case err != nil:
		s.apiFail(w, r, "", err)
		return
	}
	var req apiModelRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	at, err := models.ParseTrainedAt(req.TrainedAt)
	var m models.Model
	if err == nil {
		m, err = models.Register(r.Context(), s.db, models.Input{Name: req.Name, Snapshots: req.Snapshots, TrainedAt: at}, s.now())
	}
	var me *models.Error
	if errors.As(err, &me) {
		extra := map[string]any{"field": me.Field}
		if len(me.Missing) > 0 {
			extra["snapshots"] = me.Missing
		}
		status := http.StatusBadRequest
		if me.Code == models.CodeSnapshotUnknown {
			status = http.StatusUnprocessableEntity
		}
		s.apiError(w, r, status, me.Code, extra)
		return
	}
	if err != nil {
		s.apiFail(w, r, "", err)
		return
	}
	resp := map[string]any{"id": m.ID, "name": m.Name, "snapshots": m.Snapshots, "trained_at": nil,
		"registered_at": m.RegisteredAt.Format(time.RFC3339Nano), "ledger_seq": m.LedgerSeq}
	if !m.TrainedAt.IsZero() {
		resp["trained_at"] = m.TrainedAt.Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusCreated, resp)
}

// accessForm is GET /me: the overview when the cookie holds a live token,
// else the address form.
func (s *Server) mePage(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(meCookie)
	if err != nil || c.Value == "" {
		s.page(w, r, http.StatusOK, "access", "access_title", &pageData{})
		return
	}
	ov, ok := s.overview(w, r, c.Value, func(w http.ResponseWriter, r *http.Request) {
		s.clearMeCookie(w, r)
		s.page(w, r, http.StatusOK, "access", "access_title", &pageData{Message: s.cat.T(s.lang(w, r), "me_expired")})
	})
	if ok {
		s.page(w, r, http.StatusOK, "me", "me_title", &pageData{Me: ov})
	}
}

// cookieOverview is the overview for the page's cookie; without a valid
// one it has answered 401.
func (s *Server) cookieOverview(w http.ResponseWriter, r *http.Request) (mydata.Overview, bool) {
	deny := func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusUnauthorized, "err_unauthorized")
	}
	c, err := r.Cookie(meCookie)
	if err != nil {
		deny(w, r)
		return mydata.Overview{}, false
	}
	return s.overview(w, r, c.Value, deny)
}

// meJSON is the download of everything on the page (GDPR Art. 15).
func (s *Server) meJSON(w http.ResponseWriter, r *http.Request) {
	ov, ok := s.cookieOverview(w, r)
	if !ok {
		return
	}
	b, err := json.MarshalIndent(ov, "", "  ")
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="notrain-my-data.json"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// meReceipt downloads the receipt of one of the person's objections,
// withdrawals, consents or reports: only a reference of theirs is found.
func (s *Server) meReceipt(w http.ResponseWriter, r *http.Request) {
	ov, ok := s.cookieOverview(w, r)
	if !ok {
		return
	}
	ref := r.PathValue("ref")
	receipts := map[string]string{}
	for _, o := range ov.Objections {
		receipts[o.Reference] = o.Receipt
	}
	for _, wd := range ov.Withdrawals {
		receipts[wd.Reference] = wd.Receipt
	}
	for _, c := range ov.Consents {
		receipts[c.Reference] = c.Receipt
	}
	for _, rp := range ov.Reports {
		receipts[rp.Reference] = rp.Receipt
	}
	if rc := receipts[ref]; rc != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+ref+`.tlog-proof"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(rc))
		return
	}
	s.notFound(w, r)
}

// accessVerifyPage checks the code of the "my data" check page and, when it
// is right, keeps the token in the cookie.
func (s *Server) accessVerifyPage(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	out, err := s.svc.Verify(r.Context(), objection.FlowAccess, r.PathValue("rid"), r.PostForm.Get("code"))
	if err != nil {
		s.checkPageError(w, r, objection.FlowAccess, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: meCookie, Value: out.Token, Path: "/me", Expires: out.ExpiresAt,
		MaxAge: int(objection.AccessTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r)})
	http.Redirect(w, r, "/me", http.StatusSeeOther)
}

// meSignOut forgets the cookie.
func (s *Server) meSignOut(w http.ResponseWriter, r *http.Request) {
	s.clearMeCookie(w, r)
	http.Redirect(w, r, "/me", http.StatusSeeOther)
}

func (s *Server) clearMeCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: meCookie, Value: "", Path: "/me", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r)})
}

// secureCookie: always when the portal's public URL is https (behind a
// proxy the Host may well be 127.0.0.1), else unless served to loopback
// over plain HTTP.
func (s *Server) secureCookie(r *http.Request) bool {
	return s.cfg.PublicHTTPS || !loopbackRequest(r)
}

// loopbackRequest reports whether the page is served to loopback over plain
// HTTP (a local test or demo), where a Secure cookie would not be kept.
func loopbackRequest(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
