package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// TXT is the DKIM key record's text for pub (RFC 6376 section 3.6.1): an
// RSA key as its DER SubjectPublicKeyInfo, an Ed25519 key as its 32 bytes
// (RFC 8463 section 4.2).
func TXT(pub crypto.PublicKey) (string, error) {
	k, err := Algorithm(pub)
	if err != nil {
		return "", err
	}
	var p []byte
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if p, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return "", fmt.Errorf("dkim: %w", err)
		}
	case ed25519.PublicKey:
		p = pub
	}
	return "v=DKIM1; k=" + k + "; p=" + base64.StdEncoding.EncodeToString(p), nil
}

// Record is the zone file line that publishes pub for selector and domain:
// SELECTOR._domainkey.DOMAIN. IN TXT "…", the text split into strings of
// at most 255 bytes, the longest one DNS character-string holds (a
// 2048-bit RSA key's record is about 400).
func Record(selector, domain string, pub crypto.PublicKey) (string, error) {
	if err := CheckSelector(selector); err != nil {
		return "", err
	}
	d, err := Domain(domain)
	if err != nil {
		return "", err
	}
	txt, err := TXT(pub)
	if err != nil {
		return "", err
	}
	var parts []string
	for len(txt) > 255 {
		parts = append(parts, `"`+txt[:255]+`"`)
		txt = txt[255:]
	}
	parts = append(parts, `"`+txt+`"`)
	return selector + "._domainkey." + d + ". IN TXT " + strings.Join(parts, " "), nil
}

// Key types GenerateKey makes.
const (
	TypeRSA     = "rsa"     // 2048 bits: verified by every receiver
	TypeEd25519 = "ed25519" // RFC 8463: short, but not yet verified everywhere
)

// ErrExists is returned when the key file to write is already there.
var ErrExists = errors.New("dkim: key file exists")

// GenerateKey makes a new private key of type typ and writes it to path as
// PKCS#8 PEM, readable by its owner only. It never overwrites a file: a
// key replaced by mistake fails every signature until DNS has the new one.
func GenerateKey(path, typ string) (crypto.Signer, error) {
	var key crypto.Signer
	var err error
	switch typ {
	case TypeRSA:
		key, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	case TypeEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("dkim: key type %q (want %s or %s)", typ, TypeRSA, TypeEd25519)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w: %s (remove it first to replace the key)", ErrExists, path)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("dkim: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("dkim: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("dkim: write %s: %w", path, err)
	}
	return key, nil
}
