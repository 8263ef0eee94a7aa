// Package translog makes notrain's ledger a verifiable log: every ledger
// entry is a leaf of an RFC 6962 Merkle tree (leaf data: the entry's
// canonical bytes, see package ledger), the log signs checkpoints (C2SP
// tlog-checkpoint) as signed notes (C2SP signed-note, Ed25519), serves its
// tree as tiles (C2SP tlog-tiles) and proves inclusion and consistency.
//
// The tree's hashing, proofs and tiles are golang.org/x/mod/sumdb/tlog, the
// Go checksum database's code; its stored-hash layout lets the store write
// an entry's tree hashes in the entry's own transaction.
package translog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is the log's signing key. Its name is the log's origin: the first
// line of every checkpoint it signs.
type Key struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
	priv     ed25519.PrivateKey // the same key, for signatures that are not notes (evidence exports)
}

// PublicKey is the key's Ed25519 public key.
func (k *Key) PublicKey() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// SignEd25519 signs msg with the log's key as plain Ed25519 (RFC 8032):
// for documents such as a JWS (alg EdDSA, RFC 8037) that anyone checks
// with the published key.
func (k *Key) SignEd25519(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Origin is the key's name, the log's identity.
func (k *Key) Origin() string { return k.signer.Name() }

// VerifierKey is the public key in note format, name+keyid+base64: what a
// verifier, a witness or `notrain receipt verify --key` is given.
func (k *Key) VerifierKey() string { return k.vkey }

// Verifier checks signatures by this key.
func (k *Key) Verifier() note.Verifier { return k.verifier }

// Sign signs text (which must end in a newline) as a note.
func (k *Key) Sign(text string) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: text}, k.signer)
	if err != nil {
		return nil, fmt.Errorf("translog: sign: %w", err)
	}
	return msg, nil
}

// ParseKey reads a signer key in note format (PRIVATE+KEY+name+keyid+base64).
func ParseKey(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("translog: not a log signing key (want PRIVATE+KEY+<origin>+<keyid>+<base64>): %w", err)
	}
	vkey, priv, err := verifierOf(skey)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("translog: verifier key: %w", err)
	}
	return &Key{signer: s, verifier: v, vkey: vkey, priv: priv}, nil
}

// verifierOf derives the verifier key from a signer key that note has
// already accepted: note offers the pair only at generation, so the public
// key is recomputed from the key's Ed25519 seed.
func verifierOf(skey string) (string, ed25519.PrivateKey, error) {
	parts := strings.SplitN(skey, "+", 5) // PRIVATE, KEY, name, keyid, data
	if len(parts) != 5 {
		return "", nil, errors.New("translog: malformed signer key")
	}
	data, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(data) != 1+ed25519.SeedSize || data[0] != 1 {
		return "", nil, errors.New("translog: the signer key is not an Ed25519 key")
	}
	priv := ed25519.NewKeyFromSeed(data[1:])
	vkey, err := note.NewEd25519VerifierKey(parts[2], priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", nil, fmt.Errorf("translog: verifier key: %w", err)
	}
	return vkey, priv, nil
}

// NewVerifier reads a verifier key (name+keyid+base64).
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("translog: not a log verifier key (want <origin>+<keyid>+<base64>): %w", err)
	}
	return v, nil
}

// ValidOrigin reports whether origin can name a log: note's rules (no
// spaces, no plus) and no scheme, as C2SP tlog-checkpoint asks.
func ValidOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, "+ \t\n\r") || strings.Contains(origin, "://") {
		return fmt.Errorf("translog: %q is not a log origin: want host/path, no scheme, no spaces or '+'", origin)
	}
	return nil
}

// LoadKey reads the signing key from path. When the file does not exist
// and create is set, it generates a key named origin and writes it (mode
// 0600) first; created reports that. An existing key keeps its own origin:
// the log's identity does not change with a flag.
func LoadKey(path, origin string, create bool) (k *Key, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := ValidOrigin(origin); err != nil {
			return nil, false, err
		}
		skey, _, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return nil, false, fmt.Errorf("translog: generate key: %w", err)
		}
		if err := writeNew(path, []byte(skey+"\n")); err != nil {
			return nil, false, err
		}
		k, err := ParseKey(skey)
		return k, err == nil, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("translog: read log key: %w", err)
	}
	k, err = ParseKey(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", filepath.Clean(path), err)
	}
	return k, false, nil
}

// writeNew creates path exclusively, so two processes starting at once
// cannot each write a key and keep a different one.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("translog: create log key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("translog: write log key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("translog: sync log key: %w", err)
	}
	return f.Close()
}

// ReadVerifierKey takes a verifier key as given on a command line: the
// key itself (name+keyid+base64) or the name of a file holding it.
func ReadVerifierKey(arg string) (note.Verifier, error) {
	if v, err := note.NewVerifier(strings.TrimSpace(arg)); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("translog: %q is neither a verifier key (<origin>+<keyid>+<base64>) nor a file holding one: %w", arg, err)
	}
	return NewVerifier(string(b))
}
