package assertion

import (
	"context"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzVerify: whatever a client sends as a token, Verify refuses it with
// one of the package's codes or accepts only what the test key signed.
func FuzzVerify(f *testing.F) {
	k := newTestKeys(f)
	v := newVerifier(f, k.jwks)
	good := sign(f, jose.EdDSA, k.ed, "ed-1", goodClaims())
	for _, s := range []string{good, good[:len(good)-3], "a.b.c", "..", "", "eyJhbGciOiJub25lIn0.e30.", good + "."} {
		f.Add(s)
	}
	codes := map[string]bool{}
	for _, c := range Codes() {
		codes[c] = true
	}
	f.Fuzz(func(t *testing.T, tok string) {
		a, err := v.Verify(context.Background(), tok)
		var e *Error
		switch {
		case err == nil:
			if tok != good || a.AccountID != "u42" {
				t.Fatalf("accepted %q: %+v", tok, a)
			}
		case !errors.As(err, &e) || !codes[e.Code]:
			t.Fatalf("%q: %v", tok, err)
		}
	})
}

// FuzzParseKeySet: any document is either a set of usable keys or refused.
func FuzzParseKeySet(f *testing.F) {
	k := newTestKeys(f)
	for _, s := range []string{string(k.jwks), `{"keys":[]}`, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":""}]}`, `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseKeySet(b)
		if err == nil && (s.Len() == 0 || s.Len() > maxKeys) {
			t.Fatalf("%q: %d keys", b, s.Len())
		}
	})
}
