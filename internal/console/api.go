package console

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/strictjson"
)

func oldestFirst(cases []review.Case) []review.Case {
	out := slices.Clone(cases)
	slices.SortStableFunc(out, func(a, b review.Case) int {
		return cmp.Or(a.ReceivedAt.Compare(b.ReceivedAt), cmp.Compare(a.Reference, b.Reference))
	})
	return out
}

// apiReviews lists the open cases, oldest first.
func (c *Console) apiReviews(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Queue == nil {
		c.apiError(w, r, http.StatusServiceUnavailable, "not_configured")
		return
	}
	cases, err := c.cfg.Queue.Open(r.Context())
	if err != nil {
		c.apiFail(w, r, err)
		return
	}
	out := make([]review.Case, 0, len(cases))
	for _, cs := range oldestFirst(cases) {
		out = append(out, c.view(cs).Case)
	}
	writeJSON(w, http.StatusOK, map[string]any{"reviews": out})
}

// decisionRequest is the body of a decision.
type decisionRequest struct {
	Decision string `json:"decision"`
	Note     string `json:"note"`
}

// apiDecide records a decision taken by a machine; the token's name is the
// operator the ledger records.
func (c *Console) apiDecide(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Queue == nil {
		c.apiError(w, r, http.StatusServiceUnavailable, "not_configured")
		return
	}
	var req decisionRequest
	if status, code := decodeJSON(r, &req); status != 0 {
		c.apiError(w, r, status, code)
		return
	}
	if err := validDecision(req); err != nil {
		c.apiError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	d, err := c.cfg.Queue.Decide(r.Context(), r.PathValue("reference"), review.Decision{Decision: req.Decision, Note: strings.TrimSpace(req.Note), Operator: sessionOf(r).Operator})
	switch {
	case errors.Is(err, review.ErrNotFound):
		c.apiError(w, r, http.StatusNotFound, "not_found")
	case errors.Is(err, review.ErrBadDecision):
		c.apiError(w, r, http.StatusBadRequest, "invalid_decision")
	case errors.Is(err, review.ErrNoteRequired):
		c.apiError(w, r, http.StatusBadRequest, "note_required")
	case errors.Is(err, review.ErrNoteInvalid):
		c.apiError(w, r, http.StatusBadRequest, "note_invalid")
	case errors.Is(err, review.ErrNoOperator):
		c.apiError(w, r, http.StatusBadRequest, "no_operator")
	case errors.Is(err, review.ErrDecided):
		c.apiError(w, r, http.StatusConflict, "already_decided")
	case errors.Is(err, report.ErrObjectionDecision):
		c.apiError(w, r, http.StatusConflict, "not_decidable")
	case err != nil:
		c.apiFail(w, r, err)
	default:
		c.log.Info("review decided", "operator", sessionOf(r).Operator, "reference", d.Reference, "decision", d.Decision)
		writeJSON(w, http.StatusOK, d)
	}
}

// validDecision checks what the API can check before the queue does, so
// the answer's code does not depend on the queue's implementation.
func validDecision(req decisionRequest) error {
	switch req.Decision {
	case review.Approve:
	case review.Reject, review.MoreInfo:
		if strings.TrimSpace(req.Note) == "" {
			return errors.New("note_required")
		}
	default:
		return errors.New("invalid_decision")
	}
	if utf8.RuneCountInString(strings.TrimSpace(req.Note)) > review.MaxNote {
		return errors.New("note_invalid")
	}
	return nil
}

// decodeJSON reads a JSON body strictly; a non-zero status is a refusal
// with its code.
func decodeJSON(r *http.Request, v any) (int, string) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return http.StatusUnsupportedMediaType, "unsupported_media_type"
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, "body_too_large"
	}
	if err != nil {
		return http.StatusBadRequest, "invalid_request"
	}
	err = strictjson.Decode(strictjson.TrimBOM(body), v)
	var se *strictjson.Error
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &se) && se.Kind == strictjson.Malformed:
		return http.StatusBadRequest, "invalid_json"
	default:
		return http.StatusBadRequest, "invalid_request"
	}
}

func (c *Console) apiError(w http.ResponseWriter, r *http.Request, status int, code string) {
	lang := c.cfg.Catalog.Match(r.Header.Get("Accept-Language"))
	msg := http.StatusText(status)
	if key := "admin_api_" + code; c.cfg.Catalog.HasKey(key) {
		msg = c.cfg.Catalog.T(lang, key)
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func (c *Console) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	c.log.Error("console api", "route", r.Pattern, "err", err)
	c.apiError(w, r, http.StatusInternalServerError, "internal")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
