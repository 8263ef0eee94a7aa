// Package dkim signs outgoing mail with DKIM (RFC 6376; Ed25519 keys as
// RFC 8463 defines them) and makes what an operator needs around it: the
// key file and the DNS record that publishes its public half.
package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
)

// Key sizes: RFC 8301 forbids signing with RSA keys under 1024 bits and
// requires verifiers to accept 1024 to 4096; below 2048 is breakable in
// practice and receivers increasingly reject it, above 4096 some will not
// verify. So only what every receiver verifies and none distrusts.
const (
	MinRSABits = 2048
	MaxRSABits = 4096
)

// maxKeyFile bounds what is read as a key file: a 4096-bit RSA key in PEM
// is about 3.3 KB, so anything far larger is not a key.
const maxKeyFile = 64 << 10

// ErrKey is wrapped by every refusal of a key file's contents.
var ErrKey = errors.New("dkim: unusable key")

// LoadKey reads a PEM private key file: PKCS#8 ("PRIVATE KEY", RSA or
// Ed25519) or PKCS#1 ("RSA PRIVATE KEY").
func LoadKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dkim: key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("dkim: key file %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes, too large for a key", ErrKey, path, maxKeyFile)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKey parses a PEM private key, refusing other key types, RSA keys
// outside MinRSABits..MaxRSABits and encrypted keys (a server starting
// unattended has no one to type a passphrase).
func ParseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block (want a PEM private key: PKCS#8 \"PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\")", ErrKey)
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("%w: the key is encrypted; store it unencrypted, readable only by the server", ErrKey)
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q (want \"PRIVATE KEY\" or \"RSA PRIVATE KEY\")", ErrKey, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", ErrKey, bits, MinRSABits, MaxRSABits)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %T keys are not used for DKIM (want RSA or Ed25519)", ErrKey, key)
	}
}

// Algorithm is the key type as a DKIM record's k= tag names it.
func Algorithm(pub crypto.PublicKey) (string, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "rsa", nil
	case ed25519.PublicKey:
		return "ed25519", nil
	}
	return "", fmt.Errorf("%w: %T", ErrKey, pub)
}
