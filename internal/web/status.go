package web

import (
	"net/http"

	"github.com/notrain/notrain/internal/objection"
)

// refusalStatus is the HTTP status of each refusal code of the domain, in
// one table: the objection package knows codes, not HTTP.
func refusalStatus(code string) int {
	switch code {
	case objection.CodeRateLimited, objection.CodeClientLimited, objection.CodeResendTooSoon, objection.CodeTooManyAttempts:
		return http.StatusTooManyRequests
	case objection.CodeSaturated: // not saved: try again later (Retry-After)
		return http.StatusServiceUnavailable
	case objection.CodeRequestNotFound:
		return http.StatusNotFound
	case objection.CodeCodeUsed:
		return http.StatusConflict
	case objection.CodeCodeExpired:
		return http.StatusGone
	default: // a field the person can correct
		return http.StatusBadRequest
	}
}
