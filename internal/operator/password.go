package operator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's recommended minimum (19 MiB, two passes, one
// lane). They are written into every hash, so raising them later leaves old
// hashes verifiable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Password lengths accepted. The upper bound keeps one login from costing
// more than hashing a page of text.
const (
	MinPassword = 12
	MaxPassword = 1024
)

// ErrBadHash is returned for a string that is not an argon2id PHC hash
// notrain can verify.
var ErrBadHash = errors.New("operator: not an argon2id hash")

// phc is a parsed argon2id hash.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// HashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=…,t=…,p=…$salt$key (unpadded base64).
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("operator: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return encodePHC(phc{memory: argonMemory, time: argonTime, threads: argonThreads, salt: salt, key: key}), nil
}

func encodePHC(h phc) string {
	b := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.memory, h.time, h.threads, b.EncodeToString(h.salt), b.EncodeToString(h.key))
}

// parsePHC reads an argon2id PHC string. Parameters are bounded, so a
// tampered row cannot make one login allocate gigabytes or run for minutes.
func parsePHC(s string) (phc, error) {
	var h phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, ErrBadHash
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, ErrBadHash
	}
	num := func(p, name string, max uint64) (uint64, error) {
		v, ok := strings.CutPrefix(p, name+"=")
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return 0, ErrBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 || n > max {
			return 0, ErrBadHash
		}
		return n, nil
	}
	m, err := num(params[0], "m", 1<<16) // at most 64 MiB
	if err != nil {
		return h, err
	}
	t, err := num(params[1], "t", 10)
	if err != nil {
		return h, err
	}
	p, err := num(params[2], "p", 16)
	if err != nil {
		return h, err
	}
	b := base64.RawStdEncoding.Strict()
	salt, err := b.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return h, ErrBadHash
	}
	key, err := b.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return h, ErrBadHash
	}
	return phc{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// CheckPassword reports whether password matches hash, comparing in
// constant time.
func CheckPassword(hash, password string) (bool, error) {
	h, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// dummyHash is checked against when there is no operator (or no password
// yet), so a login takes as long whether or not the name exists.
func dummyHash() string {
	return encodePHC(phc{memory: argonMemory, time: argonTime, threads: argonThreads,
		salt: make([]byte, argonSaltLen), key: make([]byte, argonKeyLen)})
}
