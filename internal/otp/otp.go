// Package otp holds the one-time-code rules: how codes are made and checked
// and the limits around them. Storage and the attempt counter live in the
// store; the decisions live here so every flow applies the same rules.
package otp

import (
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"
)

// Rules from NIST SP 800-63B (5.1.3) and OWASP ASVS 5.0 chapter 6.
const (
	Digits         = 6
	MaxAttempts    = 5                // wrong guesses allowed per code
	DefaultTTL     = 60 * time.Minute // how long a code is valid
	MaxTTL         = 24 * time.Hour   // never configurable beyond this
	ResendCooldown = 60 * time.Second // between two codes for one request
	PerHour        = 5                // code mails per address and hour
	PerDay         = 10               // code mails per address and day
)

var modulus = big.NewInt(1_000_000)

// Generate returns a uniformly random 6-digit code.
func Generate() (string, error) {
	n, err := rand.Int(rand.Reader, modulus)
	if err != nil {
		return "", fmt.Errorf("otp: generate: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// Normalize strips the spaces and dashes people type or paste into a code
// field and reports whether what remains is a well-formed code.
func Normalize(s string) (string, bool) {
	out := make([]byte, 0, Digits)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if len(out) == Digits {
				return "", false
			}
			out = append(out, c)
		case c == ' ' || c == '-' || c == '\t':
		default:
			return "", false
		}
	}
	if len(out) != Digits {
		return "", false
	}
	return string(out), true
}

// Equal compares two code hashes in constant time.
func Equal(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

// ValidTTL reports whether d is an allowed code lifetime.
func ValidTTL(d time.Duration) bool { return d >= time.Minute && d <= MaxTTL }
