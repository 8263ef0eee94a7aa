package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
)

// BenchmarkSign is the CPU one mail's signature costs, per key type: the
// figures README.md gives under "Mail that lands in the inbox".
func BenchmarkSign(b *testing.B) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := message(true)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"rsa2048", rsaKey()}, {"ed25519", ed}} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewSigner("example.org", Key{Selector: "s1", Signer: tc.key})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Sign(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
