// Package email validates and canonicalises e-mail addresses.
//
// Two forms matter: the canonical form (Unicode NFC, lower case, domain in
// its ASCII/punycode form) is what accounts and objections are matched on;
// the delivery form keeps the local part as the person typed it (after NFC)
// because a mailbox may, in theory, be case-sensitive.
package email

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Stable error values; callers map them to API error codes.
var (
	ErrEmpty   = errors.New("e-mail address is empty")
	ErrTooLong = errors.New("e-mail address is too long")
	ErrInvalid = errors.New("e-mail address is not valid")
)

// Address is a validated e-mail address.
type Address struct {
	// Canonical is the matching form: NFC, lower case, ASCII domain.
	Canonical string
	// Delivery is the form mail is sent to: NFC local part as typed, ASCII domain.
	Delivery string
}

// idnaProfile converts a domain to ASCII with the checks browsers and mail
// systems apply at lookup time (hyphen rules, bidi, valid labels).
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.VerifyDNSLength(true),
)

// Parse validates s as a bare address (no display name, no comments) and
// returns its canonical and delivery forms.
func Parse(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, ErrEmpty
	}
	// RFC 5321 limits a path to 256 octets including the angle brackets.
	if len(s) > 254 {
		return Address{}, ErrTooLong
	}
	if !utf8.ValidString(s) {
		return Address{}, ErrInvalid
	}
	s = norm.NFC.String(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return Address{}, ErrInvalid
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || !validLocal(local) {
		return Address{}, ErrInvalid
	}
	ascii, err := idnaProfile.ToASCII(domain)
	if err != nil || !validDomain(ascii) {
		return Address{}, ErrInvalid
	}
	ascii = strings.ToLower(ascii)
	addr := Address{
		Canonical: strings.ToLower(local) + "@" + ascii,
		Delivery:  local + "@" + ascii,
	}
	if len(addr.Delivery) > 254 {
		return Address{}, ErrTooLong
	}
	return addr, nil
}

// Canonical returns the canonical form of s, or an error.
func Canonical(s string) (string, error) {
	a, err := Parse(s)
	return a.Canonical, err
}

// validLocal accepts the dot-atom form of RFC 5322 extended to UTF-8
// (RFC 6531). Quoted local parts are refused: no platform account uses
// them, and refusing them keeps every header we write injection-free.
func validLocal(local string) bool {
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		switch {
		case r < 0x80:
			if !atext(byte(r)) && r != '.' {
				return false
			}
		case unicode.IsControl(r) || unicode.IsSpace(r) || !unicode.IsPrint(r):
			return false
		}
	}
	return true
}

// atext reports whether c is an RFC 5322 atext character.
func atext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// validDomain requires a fully qualified host name: at least two labels of
// letters, digits and hyphens, and a top-level label that is not numeric
// (so "localhost" and bare IP addresses are refused).
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.IndexFunc(tld, func(r rune) bool { return r < '0' || r > '9' }) >= 0
}
