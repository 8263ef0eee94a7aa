package dkim

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/idna"
)

// Key is a private key and the selector its public half is published
// under: SELECTOR._domainkey.DOMAIN.
type Key struct {
	Selector string
	Signer   crypto.Signer
}

// Signer adds one DKIM-Signature per key to a message, for one domain.
type Signer struct {
	domain string
	keys   []Key
}

// NewSigner signs for domain with keys, each signature on its own: with an
// RSA and an Ed25519 key, a receiver that knows only RSA still finds one
// it can verify (RFC 8463 section 4).
func NewSigner(domain string, keys ...Key) (*Signer, error) {
	d, err := Domain(domain)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("dkim: no key")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if err := CheckSelector(k.Selector); err != nil {
			return nil, err
		}
		if seen[strings.ToLower(k.Selector)] {
			return nil, fmt.Errorf("dkim: selector %q given twice: each key needs its own", k.Selector)
		}
		seen[strings.ToLower(k.Selector)] = true
		if k.Signer == nil {
			return nil, fmt.Errorf("dkim: selector %q has no key", k.Selector)
		}
		if _, err := Algorithm(k.Signer.Public()); err != nil {
			return nil, err
		}
		// The same bounds as for a key file, for a key made in code.
		if pub, ok := k.Signer.Public().(*rsa.PublicKey); ok && (pub.N.BitLen() < MinRSABits || pub.N.BitLen() > MaxRSABits) {
			return nil, fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", ErrKey, pub.N.BitLen(), MinRSABits, MaxRSABits)
		}
	}
	if len(d)+len(".")+len(longestSelector(keys))+len("._domainkey.") > 253 {
		return nil, fmt.Errorf("dkim: selector and domain %q make a DNS name longer than 253 characters", d)
	}
	return &Signer{domain: d, keys: keys}, nil
}

func longestSelector(keys []Key) string {
	var l string
	for _, k := range keys {
		if len(k.Selector) > len(l) {
			l = k.Selector
		}
	}
	return l
}

// Domain is the signing domain (d=) as DNS spells it.
func (s *Signer) Domain() string { return s.domain }

// signedHeaders are the header fields a signature covers, in Build's
// order. From is listed twice (over-signed): a second From added on the way
// would break the signature instead of being shown to the reader unsigned.
// The others are what a reader sees or what decides how the body is read.
var signedHeaders = []string{"From", "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Language", "Auto-Submitted"}

// optionalHeaders are signed only when the message has them.
var optionalHeaders = map[string]bool{"content-language": true}

// Sign returns msg with a DKIM-Signature for each key before its header,
// relaxed/relaxed with SHA-256. msg must have CRLF line ends (as a message
// for SMTP has).
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	present := headerNames(msg)
	keys := make([]string, 0, len(signedHeaders))
	for _, h := range signedHeaders {
		if optionalHeaders[strings.ToLower(h)] && !present[strings.ToLower(h)] {
			continue
		}
		keys = append(keys, h)
	}
	var sigs []string
	size := len(msg)
	for _, k := range s.keys {
		sig, err := s.signature(k, keys, msg)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
		size += len(sig)
	}
	out := make([]byte, 0, size)
	for _, sig := range sigs {
		out = append(out, sig...)
	}
	return append(out, msg...), nil
}

func (s *Signer) signature(k Key, headers []string, msg []byte) (string, error) {
	ds, err := dkim.NewSigner(&dkim.SignOptions{
		Domain: s.domain, Selector: k.Selector, Signer: k.Signer, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: headers,
	})
	if err != nil {
		return "", fmt.Errorf("dkim: sign: %w", err)
	}
	if _, err := ds.Write(msg); err != nil {
		ds.Close()
		return "", fmt.Errorf("dkim: sign: %w", err)
	}
	if err := ds.Close(); err != nil {
		return "", fmt.Errorf("dkim: sign: %w", err)
	}
	return ds.Signature(), nil
}

// headerNames are the lower-cased names of msg's header fields.
func headerNames(msg []byte) map[string]bool {
	names := map[string]bool{}
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue // a continuation line
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); ok {
			names[strings.ToLower(strings.TrimSpace(string(name)))] = true
		}
	}
	return names
}

// CheckSelector accepts a selector as RFC 6376 section 3.1 defines it:
// dot-separated DNS labels of letters, digits and inner hyphens.
func CheckSelector(s string) error {
	if s == "" {
		return errors.New("dkim: empty selector")
	}
	if len(s) > 63*4 {
		return fmt.Errorf("dkim: selector %q is too long", s)
	}
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return fmt.Errorf("dkim: selector %q: %q is not a DNS label (letters, digits and inner hyphens, 1 to 63 characters)", s, label)
		}
	}
	return nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Domain is a domain as DNS and a DKIM signature spell it: lower case,
// internationalised names in their ASCII form (xn--…), no final dot.
func Domain(d string) (string, error) {
	a, err := idna.Lookup.ToASCII(strings.TrimSuffix(d, "."))
	if err != nil || !strings.Contains(a, ".") || len(a) > 253 {
		return "", fmt.Errorf("dkim: %q is not a domain name", d)
	}
	for label := range strings.SplitSeq(a, ".") {
		if !validLabel(label) {
			return "", fmt.Errorf("dkim: %q is not a domain name", d)
		}
	}
	return strings.ToLower(a), nil
}
