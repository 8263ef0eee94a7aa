package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// MaxKeySet is the largest JWKS document read, from a file or a URL: a
// platform publishes a handful of keys, a few kilobytes.
const MaxKeySet = 256 << 10

// maxKeys bounds how many keys of a set are kept.
const maxKeys = 100

// ErrNoUsableKey: a key set holds no public EdDSA (Ed25519) or ES256
// (P-256) signing key.
var ErrNoUsableKey = errors.New("assertion: the key set has no usable EdDSA (Ed25519) or ES256 (P-256) public key")

// KeySet is the platform's public keys that may sign assertions: Ed25519
// keys (EdDSA) and P-256 keys (ES256) only, each with the algorithm it
// verifies.
type KeySet struct {
	keys []key
}

type key struct {
	kid string
	alg jose.SignatureAlgorithm
	pub any // ed25519.PublicKey or *ecdsa.PublicKey
}

// ParseKeySet reads a JWKS document (RFC 7517 §5). Keys notrain cannot use
// (RSA, other curves, symmetric or encryption keys, keys whose "alg" is
// another algorithm) are skipped rather than refused, since a platform's
// set may serve other purposes too; a set with no usable key is an error.
// A private key in the set is used by its public half only.
func ParseKeySet(b []byte) (*KeySet, error) {
	if len(b) > MaxKeySet {
		return nil, fmt.Errorf("assertion: key set larger than %d bytes", MaxKeySet)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("assertion: key set is not a JWKS document: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`assertion: key set has no "keys" array`)
	}
	s := &KeySet{}
	for _, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue // a kind of key go-jose does not read: not one of ours
		}
		if k, ok := usable(jwk); ok && len(s.keys) < maxKeys {
			s.keys = append(s.keys, k)
		}
	}
	if len(s.keys) == 0 {
		return nil, ErrNoUsableKey
	}
	return s, nil
}

// usable returns the verification key a JWK gives, if it is one of ours.
func usable(jwk jose.JSONWebKey) (key, bool) {
	if jwk.Use != "" && jwk.Use != "sig" {
		return key{}, false
	}
	pub := jwk.Public()
	if !pub.Valid() {
		return key{}, false
	}
	k := key{kid: jwk.KeyID}
	switch p := pub.Key.(type) {
	case ed25519.PublicKey:
		k.alg, k.pub = jose.EdDSA, p
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return key{}, false
		}
		k.alg, k.pub = jose.ES256, p
	default:
		return key{}, false
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(k.alg) {
		return key{}, false
	}
	return k, true
}

// Len is how many usable keys the set holds.
func (s *KeySet) Len() int { return len(s.keys) }

// has reports whether the set holds a key with this id.
func (s *KeySet) has(kid string) bool {
	for _, k := range s.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

// find picks the key a token's header names. Without a kid, the set must
// hold exactly one key: with several, trying each would let a token choose
// among them. The key's algorithm must be the header's.
func (s *KeySet) find(kid string, alg jose.SignatureAlgorithm) (key, bool) {
	if kid == "" {
		if len(s.keys) != 1 || s.keys[0].alg != alg {
			return key{}, false
		}
		return s.keys[0], true
	}
	for _, k := range s.keys {
		if k.kid == kid && k.alg == alg {
			return k, true
		}
	}
	return key{}, false
}
