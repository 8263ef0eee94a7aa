package objection

// Codes lists every stable error code the service refuses with. Whoever
// shows refusals checks at start that each has a message ("err_"+code) in
// every language; a test holds this list to the package's Code… constants.
func Codes() []string {
	return []string{
		CodeEmailRequired, CodeEmailInvalid, CodeEmailTooLong, CodeEmailNotCanonical, CodeScopeInvalid, CodeScopeRequired,
		CodeReasonTooLong, CodeReasonInvalid, CodeLangInvalid, CodeRateLimited,
		CodeCodeFormat, CodeCodeInvalid, CodeCodeExpired, CodeCodeUsed,
		CodeTooManyAttempts, CodeRequestNotFound, CodeResendTooSoon, CodeClientLimited, CodeSaturated,
		CodeAssertionReplayed, CodeAssertionUnknownAccount,
	}
}
