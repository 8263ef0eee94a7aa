// Package email validates and canonicalises e-mail addresses.
//
// The canonical form (Unicode NFC, lower case, domain in its ASCII/punycode
// form) is what accounts and objections are matched on, and the only form
// mail is sent to: a code goes to exactly the address that matched, never to
// a spelling another mail system might take for a different mailbox.
//
// Lower-casing is ASCII lower-casing. A local part that any other mapping
// would change (full Unicode case mapping such as İ → i or the Kelvin sign
// → k, or compatibility normalisation such as ﬁ → fi) is refused
// (ErrNotCanonical): such a spelling matches someone else's address in one
// system and is delivered to a different mailbox by another, which is how a
// stranger could receive a person's code.
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
	// ErrNotCanonical refuses a local part whose letters other mappings
	// than NFC and ASCII lower-casing would change (write Ö as ö, no İ).
	ErrNotCanonical = errors.New("e-mail address has letters that could match another address; write them in lower case")
)

// Address is a validated e-mail address.
type Address struct {
	// Canonical is the matching and delivery form: NFC, ASCII lower case,
	// ASCII domain. It is its own canonical form.
	Canonical string
	// Mailbox is Canonical without a "+tag" in the local part: the mailbox
	// that per-address limits count, since local+anything@domain usually
	// reaches local@domain.
	Mailbox string
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
	lower := asciiLower(local)
	if !stable(lower) {
		return Address{}, ErrNotCanonical
	}
	addr := Address{Canonical: lower + "@" + ascii, Mailbox: lower + "@" + ascii}
	if i := strings.IndexByte(lower, '+'); i > 0 {
		addr.Mailbox = lower[:i] + "@" + ascii
	}
	if len(addr.Canonical) > 254 {
		return Address{}, ErrTooLong
	}
	return addr, nil
}

// ParseRecorded parses an address a platform recorded itself (the account
// directory, an imported letter) rather than one a person typed to be sent a
// code: it is lower-cased fully first, so "JÖRG@…" in a directory matches the
// "jörg@…" its owner types, and then must be canonical like any other. Full
// lower-casing must not merge a recorded spelling into another address, so
// a letter outside ASCII that lower-cases into ASCII (İ → i) is refused, and
// so is ſ, which other systems fold to s.
func ParseRecorded(s string) (Address, error) {
	if !utf8.ValidString(s) {
		return Address{}, ErrInvalid
	}
	s = norm.NFC.String(s)
	for _, r := range s {
		if r >= utf8.RuneSelf && unicode.ToLower(r) < utf8.RuneSelf {
			return Address{}, ErrNotCanonical
		}
	}
	return Parse(strings.ToLower(s))
}

// asciiLower lower-cases A–Z and leaves every other character alone.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// stable reports whether an NFC, ASCII lower-cased local part stays the
// same under the mappings other mail systems apply when they compare
// addresses: Unicode lower-casing, upper- then lower-casing (which folds ı
// and ſ into i and s), and compatibility normalisation (NFKC).
func stable(local string) bool {
	return strings.ToLower(local) == local &&
		strings.ToLower(strings.ToUpper(local)) == local &&
		norm.NFKC.String(local) == local
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
