package objection

import (
	"fmt"
	"time"
)

// Error is a refusal a person or client can act on. Code is stable: API
// clients and the web pages translate it (the catalogs have "err_"+Code),
// and the web layer maps it to an HTTP status; this package knows no HTTP.
type Error struct {
	Code       string
	Field      string        // form field it belongs to, "" for the whole form
	RetryAfter time.Duration // for 429s
	Remaining  int           // attempts left, for code_invalid
	Until      time.Time     // when the caller may try again, for rate limits
}

func (e *Error) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s (retry after %s)", e.Code, e.RetryAfter.Round(time.Second))
	}
	return e.Code
}

// Stable error codes.
const (
	CodeEmailRequired     = "email_required"
	CodeEmailInvalid      = "email_invalid"
	CodeEmailTooLong      = "email_too_long"
	CodeEmailNotCanonical = "email_not_canonical"
	CodeScopeInvalid      = "scope_invalid"
	// CodeScopeRequired: consent is given only for what the person chose
	// (no pre-selected "all": consent must be an unambiguous act).
	CodeScopeRequired   = "scope_required"
	CodeReasonTooLong   = "reason_too_long"
	CodeReasonInvalid   = "reason_invalid"
	CodeLangInvalid     = "lang_invalid"
	CodeRateLimited     = "rate_limited"
	CodeCodeFormat      = "code_format"
	CodeCodeInvalid     = "code_invalid"
	CodeCodeExpired     = "code_expired"
	CodeCodeUsed        = "code_used"
	CodeTooManyAttempts = "too_many_attempts"
	CodeRequestNotFound = "request_not_found"
	CodeResendTooSoon   = "resend_too_soon"
	CodeClientLimited   = "ip_rate_limited" // --ip-rate-limit
	// CodeSaturated: the store could not save the request in time; it
	// was not saved (nothing to resend, no mail will come).
	CodeSaturated = "busy_not_saved"
	// CodeAssertionReplayed: the platform assertion's jti was used before.
	CodeAssertionReplayed = "assertion_replayed"
	// CodeAssertionUnknownAccount: the assertion names an account the
	// directory does not have.
	CodeAssertionUnknownAccount = "assertion_unknown_account"
)

// SaturatedRetryAfter is when a person refused with CodeSaturated is asked
// to try again: long enough for a surge's queue to drain, short enough to
// wait for with the page open.
const SaturatedRetryAfter = 30 * time.Second

func fieldErr(code, field string) *Error {
	return &Error{Code: code, Field: field}
}
