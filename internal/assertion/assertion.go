// Package assertion checks the platform's signed assertions: a compact JWS
// (RFC 7515) carrying JWT claims (RFC 7519) that says "the person signed
// in to the platform as this account wants to object". It verifies the
// signature against the platform's JWKS and checks the claims; using an
// assertion up (its jti once) is the store's, in the transaction that
// records the objection.
package assertion

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/notrain/notrain/internal/platform"
)

// Limits of an acceptable assertion.
const (
	// MaxLifetime is the longest exp − iat accepted: an assertion is made
	// for one click, not kept.
	MaxLifetime = 10 * time.Minute
	// Skew is the clock difference tolerated between the platform and notrain.
	Skew = 60 * time.Second
	// MaxID is the longest jti accepted, in bytes.
	MaxID = 200
	// MaxToken is the longest token read, in bytes.
	MaxToken = 8 << 10
)

// Algorithms are the only signature algorithms accepted. The list is given
// to the parser, so "none", HMAC (with the public key as its secret) and
// every other algorithm are refused before any key is looked at.
var algorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// Stable error codes, one per way an assertion can be wrong.
const (
	CodeInvalid         = "assertion_invalid"          // malformed, bad signature, algorithm not allowed, unknown key, bad sub/jti
	CodeExpired         = "assertion_expired"          // exp has passed
	CodeNotYetValid     = "assertion_not_yet_valid"    // iat (or nbf) is in the future
	CodeAudience        = "assertion_audience"         // aud lacks notrain's audience
	CodeIssuer          = "assertion_issuer"           // iss is not the platform
	CodeLifetime        = "assertion_lifetime"         // exp − iat exceeds MaxLifetime
	CodeKeysUnavailable = "assertion_keys_unavailable" // the platform's keys were never fetched
)

// Codes lists the package's error codes (each needs an "err_"+code message).
func Codes() []string {
	return []string{CodeInvalid, CodeExpired, CodeNotYetValid, CodeAudience, CodeIssuer, CodeLifetime, CodeKeysUnavailable}
}

// Error is a refused assertion. Code is stable; Reason says why for the
// operator's log and never holds the token.
type Error struct {
	Code   string
	Reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Assertion is a verified assertion's content.
type Assertion struct {
	Product   string // a platform product ("facebook")
	AccountID string
	ID        string // jti: used once
	IssuedAt  time.Time
	Expires   time.Time
}

// Config configures a Verifier.
type Config struct {
	Issuer   string // the iss the platform signs (--platform-issuer)
	Audience string // the aud naming notrain (--platform-audience)
	Keys     Keys
	Now      func() time.Time
}

// Verifier checks assertions.
type Verifier struct {
	cfg Config
}

// NewVerifier makes a Verifier; issuer, audience and keys are required.
func NewVerifier(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("assertion: an issuer is required")
	case cfg.Audience == "":
		return nil, errors.New("assertion: an audience is required")
	case cfg.Keys == nil:
		return nil, errors.New("assertion: no keys")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg}, nil
}

// Verify checks the token's signature and claims and returns what it
// asserts. It does not use the assertion up. Errors are *Error.
func (v *Verifier) Verify(ctx context.Context, token string) (Assertion, error) {
	if len(token) > MaxToken {
		return Assertion{}, refuse(CodeInvalid, "token longer than %d bytes", MaxToken)
	}
	tok, err := jwt.ParseSigned(token, algorithms)
	if err != nil {
		return Assertion{}, refuse(CodeInvalid, "not a compact JWS with an allowed algorithm: %v", err)
	}
	if len(tok.Headers) != 1 {
		return Assertion{}, refuse(CodeInvalid, "%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	set, err := v.cfg.Keys.KeySet(ctx, h.KeyID)
	if err != nil {
		return Assertion{}, refuse(CodeKeysUnavailable, "%v", err)
	}
	k, ok := set.find(h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if !ok {
		return Assertion{}, refuse(CodeInvalid, "no %s key with kid %q", h.Algorithm, h.KeyID)
	}
	var c jwt.Claims // claims notrain does not know are ignored, as RFC 7519 asks
	if err := tok.Claims(k.pub, &c); err != nil {
		return Assertion{}, refuse(CodeInvalid, "signature or claims: %v", err)
	}
	return v.check(c)
}

// check applies the claim rules to verified claims, in a fixed order so
// each wrong assertion gets one answer.
func (v *Verifier) check(c jwt.Claims) (Assertion, error) {
	now := v.cfg.Now()
	if c.Issuer != v.cfg.Issuer {
		return Assertion{}, refuse(CodeIssuer, "iss %q", c.Issuer)
	}
	if !c.Audience.Contains(v.cfg.Audience) {
		return Assertion{}, refuse(CodeAudience, "aud %q", []string(c.Audience))
	}
	product, id, err := ParseSubject(c.Subject)
	if err != nil {
		return Assertion{}, refuse(CodeInvalid, "%v", err)
	}
	if err := checkID(c.ID); err != nil {
		return Assertion{}, refuse(CodeInvalid, "%v", err)
	}
	if c.IssuedAt == nil || c.Expiry == nil {
		return Assertion{}, refuse(CodeInvalid, "iat and exp are required")
	}
	iat, exp := c.IssuedAt.Time(), c.Expiry.Time()
	switch {
	case iat.After(now.Add(Skew)):
		return Assertion{}, refuse(CodeNotYetValid, "iat %s is in the future", iat.UTC().Format(time.RFC3339))
	case c.NotBefore != nil && c.NotBefore.Time().After(now.Add(Skew)):
		return Assertion{}, refuse(CodeNotYetValid, "nbf is in the future")
	case !exp.After(now.Add(-Skew)):
		return Assertion{}, refuse(CodeExpired, "exp %s has passed", exp.UTC().Format(time.RFC3339))
	case exp.Sub(iat) > MaxLifetime:
		return Assertion{}, refuse(CodeLifetime, "exp − iat is %s, more than %s", exp.Sub(iat), MaxLifetime)
	case !exp.After(iat):
		return Assertion{}, refuse(CodeInvalid, "exp is not after iat")
	}
	return Assertion{Product: product, AccountID: id, ID: c.ID, IssuedAt: iat.UTC(), Expires: exp.UTC()}, nil
}

// ParseSubject splits a sub "product:account_id". The product must be one
// of the platform's; the account id is the account directory's, non-empty,
// at most 256 bytes, without control characters (as an account record's).
func ParseSubject(sub string) (product, accountID string, err error) {
	product, accountID, ok := strings.Cut(sub, ":")
	switch {
	case !ok || accountID == "":
		return "", "", errors.New(`sub is not "product:account_id"`) // the value may be personal: not repeated
	case !platform.IsProduct(product):
		return "", "", fmt.Errorf("sub: product %q is not one of %s", product, strings.Join(platform.Products(), ", "))
	case len(accountID) > 256 || !utf8.ValidString(accountID) || strings.IndexFunc(accountID, unicode.IsControl) >= 0:
		return "", "", fmt.Errorf("sub: account id is too long or has control characters")
	}
	return product, accountID, nil
}

func checkID(jti string) error {
	switch {
	case jti == "":
		return errors.New("jti is required")
	case len(jti) > MaxID:
		return fmt.Errorf("jti longer than %d bytes", MaxID)
	case !utf8.ValidString(jti) || strings.IndexFunc(jti, unicode.IsControl) >= 0:
		return errors.New("jti is not UTF-8 text without control characters")
	}
	return nil
}
