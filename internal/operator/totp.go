package operator

import (
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238 defaults, what every authenticator app reads):
// 30-second steps, six digits, HMAC-SHA1; one step of clock skew either way.
const (
	totpPeriod = 30
	totpSkew   = 1
)

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// Enrolment is a new second factor to show on the set-up page.
type Enrolment struct {
	Secret string // base32, to type into an app
	URL    string // otpauth:// URL, what a QR code would hold
}

// NewTOTP makes a fresh TOTP secret for the operator name.
func NewTOTP(name string) (Enrolment, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "notrain", AccountName: name, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, fmt.Errorf("operator: totp: %w", err)
	}
	return Enrolment{Secret: k.Secret(), URL: k.URL()}, nil
}

// TOTPCode is the code of secret at t; tests and set-up scripts use it.
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts())
}

// totpStep checks code against secret at now (± one step) and returns the
// time step it matched, so the caller can refuse the same code twice.
func totpStep(secret, code string, now time.Time) (int64, bool) {
	if !validSecret(secret) || len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*totpPeriod, 0), totpOpts())
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step + d, true
		}
	}
	return 0, false
}

// validSecret accepts the base32 secrets NewTOTP makes (and bounds what a
// form can hand in).
func validSecret(s string) bool {
	if len(s) < 16 || len(s) > 128 {
		return false
	}
	_, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(s, "="))
	return err == nil
}

// Enrol is the enrolment for an existing secret (a set-up form shown
// again keeps the secret the operator may already have scanned). An invalid
// secret yields a fresh one.
func Enrol(name, secret string) (Enrolment, error) {
	if !validSecret(secret) {
		return NewTOTP(name)
	}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/notrain:" + name,
		RawQuery: url.Values{"secret": {secret}, "issuer": {"notrain"}, "period": {"30"}, "digits": {"6"}, "algorithm": {"SHA1"}}.Encode()}
	return Enrolment{Secret: secret, URL: u.String()}, nil
}
