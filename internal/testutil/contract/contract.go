// Package contract checks real answers against the API document
// (api/openapi.json): tests serve their handler through Check, and every
// answer on a documented route must have a documented status, media type,
// headers and a body of the documented schema, or the test fails.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/notrain/notrain/api"
)

// Validator checks answers against the document. It is safe for
// concurrent use.
type Validator struct {
	mu sync.Mutex // the validator's caches are not documented as safe to share
	v  validator.Validator
}

// New builds a validator from the embedded document; the document must
// itself be valid OpenAPI 3.1.
func New() (*Validator, error) {
	doc, err := libopenapi.NewDocument(api.Document())
	if err != nil {
		return nil, fmt.Errorf("contract: read the document: %w", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, fmt.Errorf("contract: build the validator: %w", errs[0])
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("contract: the document is not valid OpenAPI 3.1:\n%s", describe(verrs))
	}
	return &Validator{v: v}, nil
}

// Documented reports whether a path belongs to the document's URL space:
// the API, the log, health and the two JSON downloads.
func Documented(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/log/") ||
		path == "/healthz" || path == "/me/data.json" || path == "/dev/mail.json"
}

// Response checks one answer to r. An /api/ path the document does not
// name must be the API's 404 envelope (the API's catch-all), so that a
// route missing from the document cannot pass as an unknown one.
func (cv *Validator) Response(r *http.Request, status int, header http.Header, body []byte) error {
	if r.Method == http.MethodHead {
		return nil // answered by the GET route without a body
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/log/tile/"); ok {
		// A tile path has slashes, which an OpenAPI path parameter cannot:
		// the document names it /log/tile/{path}, one parameter.
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = "/log/tile/"+strings.ReplaceAll(rest, "/", "%2F"), ""
	}
	resp := &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: r}
	cv.mu.Lock()
	ok, errs := cv.v.ValidateHttpResponse(r, resp)
	cv.mu.Unlock()
	if ok {
		return nil
	}
	if len(errs) > 0 && (errs[0].IsPathMissingError() || errs[0].IsOperationMissingError()) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			return fmt.Errorf("%s %s is not in the API document", r.Method, r.URL.Path)
		}
		return unknownRoute(r, status, header, body)
	}
	return fmt.Errorf("%s %s → %d does not match the API document:\n%s\nbody: %s", r.Method, r.URL.Path, status, describe(errs), trim(body))
}

// Request checks a request against its operation: parameters, headers,
// security and body.
func (cv *Validator) Request(r *http.Request) error {
	cv.mu.Lock()
	ok, errs := cv.v.ValidateHttpRequestSync(r)
	cv.mu.Unlock()
	if ok {
		return nil
	}
	return fmt.Errorf("the accepted request %s %s does not match the API document:\n%s", r.Method, r.URL.Path, describe(errs))
}

// unknownRoute checks the answer to an /api/ request no operation
// describes: the catch-all's 404 not_found, or a refusal that comes before
// routing (cross_origin, 403).
func unknownRoute(r *http.Request, status int, header http.Header, body []byte) error {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	err := json.Unmarshal(body, &env)
	switch {
	case err != nil || env.Error.Message == "" || header.Get("Content-Type") != "application/json":
		return fmt.Errorf("%s %s (undocumented) → %d is not the error envelope: %s", r.Method, r.URL.Path, status, trim(body))
	case status == http.StatusNotFound && env.Error.Code == "not_found",
		status == http.StatusForbidden && env.Error.Code == "cross_origin":
		return nil
	}
	return fmt.Errorf("%s %s is not in the API document, yet answered %d %s", r.Method, r.URL.Path, status, env.Error.Code)
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "- %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s: %s", f.FieldPath, f.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func trim(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// Check serves h with every answer on a documented path checked against
// the document; a mismatch fails t (from the handler's goroutine, so it is
// reported with Errorf, never Fatal).
func Check(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	cv, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return cv.Wrap(func(err error) { t.Errorf("API contract: %v", err) }, h)
}

// Wrap serves h and hands every mismatch to fail.
func (cv *Validator) Wrap(fail func(error), h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Documented(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		var reqBody []byte
		if r.Body != nil {
			var err error
			if reqBody, err = io.ReadAll(r.Body); err != nil {
				fail(fmt.Errorf("%s %s: read the request: %w", r.Method, r.URL.Path, err))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		orig := r.Clone(r.Context())
		rec := &tee{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if err := cv.Response(orig, rec.status, w.Header().Clone(), rec.body.Bytes()); err != nil {
			fail(err)
		}
		// A request the server accepted must be one the document allows,
		// so the request schemas cannot drift from what the server takes.
		if rec.status >= 200 && rec.status < 300 && strings.HasPrefix(r.URL.Path, "/api/") {
			// The server ignores a leading byte order mark (RFC 8259 §8.1);
			// the validator's JSON decoder does not.
			orig.Body = io.NopCloser(bytes.NewReader(bytes.TrimPrefix(reqBody, []byte("\xef\xbb\xbf"))))
			if err := cv.Request(orig); err != nil {
				fail(err)
			}
		}
	})
}

// tee keeps a copy of an answer while writing it through.
type tee struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (t *tee) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tee) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	t.body.Write(b)
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush).
func (t *tee) Unwrap() http.ResponseWriter { return t.ResponseWriter }
