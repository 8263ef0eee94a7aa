// Package ids makes the identifiers notrain hands out: opaque request ids
// and human-friendly reference numbers.
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// crockford is Crockford's base-32 alphabet: no I, L, O or U, so a reference
// read out over the phone or typed from paper is hard to get wrong.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Random returns n random bytes as lower-case hex. It panics only if the
// operating system's random source fails, which crypto/rand documents as fatal.
func Random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Request returns an unguessable request id: 48 bits of milliseconds, so
// that ids made one after another sort together (a database index then
// grows at its end instead of touching a random page per insert), and 80
// random bits, which no one can guess.
func Request() string { return Ordered() }

// Ordered returns a 32-hex-digit id whose prefix is the current time in
// milliseconds, followed by 80 random bits.
func Ordered() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// Reference returns a reference number such as "NT-7K3Q-9XW2-M4PD" (60 bits):
// prefix, then three groups of four Crockford characters.
func Reference(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	var sb strings.Builder
	sb.WriteString(prefix)
	for i, c := range b {
		if i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(crockford[int(c)%32])
	}
	return sb.String()
}

// IsReference reports whether s has the shape of a reference with the prefix.
func IsReference(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 15 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if i%5 == 0 {
			if rest[i] != '-' {
				return false
			}
			continue
		}
		if strings.IndexByte(crockford, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// IsRequest reports whether s has the shape of a request id.
func IsRequest(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
