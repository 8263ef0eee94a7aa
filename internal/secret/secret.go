// Package secret holds the installation's master key and derives the keyed
// hashes notrain stores instead of personal data: e-mail lookup hashes,
// one-time-code hashes and the pseudonyms written into the ledger.
package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the master key length in bytes.
const KeySize = 32

// Keys derives purpose-bound subkeys from one master key, so a leak of one
// kind of hash (say, a ledger export) does not help attack another.
type Keys struct {
	email  []byte
	code   []byte
	ledger []byte
	token  []byte
	check  string
}

// New derives the subkeys from master, which must be at least KeySize bytes.
func New(master []byte) (*Keys, error) {
	if len(master) < KeySize {
		return nil, fmt.Errorf("secret: master key has %d bytes, need at least %d", len(master), KeySize)
	}
	return &Keys{
		email:  derive(master, "notrain/email/v1"),
		code:   derive(master, "notrain/code/v1"),
		ledger: derive(master, "notrain/ledger/v1"),
		token:  derive(master, "notrain/token/v1"),
		check:  mac(derive(master, "notrain/check/v1"), "notrain master key check"),
	}, nil
}

// Check is a keyed hash of a constant under the master key. The store
// keeps it, so a different key (a wrong --key-file, a regenerated key
// file) is refused instead of silently hashing e-mails that then match
// nothing. It reveals nothing about the key.
func (k *Keys) Check() string { return k.check }

func derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		// Length-prefix every part so ("ab","c") and ("a","bc") differ.
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// EmailHash is the lookup key for a canonical e-mail address.
func (k *Keys) EmailHash(canonical string) string { return mac(k.email, canonical) }

// CodeHash binds a one-time code to the request it was issued for.
func (k *Keys) CodeHash(requestID, code string) string { return mac(k.code, requestID, code) }

// TokenHash is the form in which bearer tokens (machine tokens and a
// person's "my data" tokens) are stored: a leaked table does not let anyone
// present them. kind separates the two token families.
func (k *Keys) TokenHash(kind, token string) string { return mac(k.token, kind, token) }

// Pseudonym is the form in which personal identifiers enter the ledger.
// It is keyed, so the ledger alone does not reveal who objected, yet the
// operator can still answer "is this person's objection in the ledger?".
func (k *Keys) Pseudonym(kind, value string) string { return mac(k.ledger, kind, value)[:32] }

// OperatorPseudonym is how the ledger names an operator, or a machine
// token as "token:NAME": the log is public, and who works a privacy team's
// cases is about that person. notrain keeps the name for each pseudonym
// and resolves it for whoever may see it (the evidence export).
func (k *Keys) OperatorPseudonym(name string) string { return k.Pseudonym("operator", name) }

// Load reads a master key: from hexKey when given, else from path. When the
// file does not exist, Load creates it (mode 0600) with a fresh random key
// if create is set, and otherwise returns an error that wraps
// fs.ErrNotExist. created reports whether a new key was written.
func Load(hexKey, path string, create bool) (key []byte, created bool, err error) {
	if hexKey != "" {
		key, err = hex.DecodeString(strings.TrimSpace(hexKey))
		if err != nil {
			return nil, false, fmt.Errorf("secret: key is not hex: %w", err)
		}
		if len(key) < KeySize {
			return nil, false, fmt.Errorf("secret: key has %d bytes, need at least %d", len(key), KeySize)
		}
		return key, false, nil
	}
	if path == "" {
		return nil, false, errors.New("secret: no key and no key file given")
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if err := checkMode(path); err != nil {
			return nil, false, err
		}
		return Load(string(b), "", false)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("secret: read key file: %w", err)
	}
	if !create {
		return nil, false, fmt.Errorf("secret: key file %s: %w", path, err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secret: generate key: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load("", path, false)
	}
	if err != nil {
		return nil, false, fmt.Errorf("secret: create key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("secret: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("secret: sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("secret: close key file: %w", err)
	}
	return key, true, nil
}

// checkMode refuses a key file that others can read: the key protects every
// stored e-mail hash and code.
func checkMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("secret: key file %s is readable by others (mode %v); run chmod 600 on it", path, st.Mode().Perm())
	}
	return nil
}
