package assertion

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://platform.example"
	testAudience = "notrain"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKeys are a platform's signing keys and the JWKS publishing them.
type testKeys struct {
	ed    ed25519.PrivateKey
	ec    *ecdsa.PrivateKey
	other ed25519.PrivateKey // not in the set
	jwks  []byte
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ed.Public(), KeyID: "ed-1", Algorithm: string(jose.EdDSA), Use: "sig"},
		{Key: ec.Public(), KeyID: "ec-1", Algorithm: string(jose.ES256), Use: "sig"},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{ed: ed, ec: ec, other: other, jwks: b}
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// goodClaims are the claims of a valid assertion issued a minute ago.
func goodClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": []string{testAudience, "other"}, "sub": "facebook:u42",
		"iat": t0.Add(-time.Minute).Unix(), "exp": t0.Add(4 * time.Minute).Unix(), "jti": "j-1",
	}
}

func with(kv ...any) map[string]any {
	c := goodClaims()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newVerifier(t testing.TB, jwks []byte) *Verifier {
	t.Helper()
	set, err := ParseKeySet(jwks)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, Keys: StaticKeys{set: set}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	k := newTestKeys(t)
	v := newVerifier(t, k.jwks)
	payload, _ := json.Marshal(goodClaims())
	pubBytes := []byte(k.ed.Public().(ed25519.PublicKey))
	cases := []struct {
		name  string
		token string
		code  string // "" = accepted
	}{
		{"EdDSA", sign(t, jose.EdDSA, k.ed, "ed-1", goodClaims()), ""},
		{"ES256", sign(t, jose.ES256, k.ec, "ec-1", goodClaims()), ""},
		{"aud as a single string", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", testAudience)), ""},
		{"iat within the skew", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", t0.Add(30*time.Second).Unix())), ""},
		{"exactly ten minutes", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", t0.Add(-5*time.Minute).Unix(), "exp", t0.Add(5*time.Minute).Unix())), ""},
		{"alg none", b64([]byte(`{"alg":"none","kid":"ed-1"}`)) + "." + b64(payload) + ".", CodeInvalid},
		{"HS256 with the public key as secret", sign(t, jose.HS256, pubBytes, "ed-1", goodClaims()), CodeInvalid},
		{"RS256", sign(t, jose.RS256, rsaKey(t), "ed-1", goodClaims()), CodeInvalid},
		{"wrong key, right kid", sign(t, jose.EdDSA, k.other, "ed-1", goodClaims()), CodeInvalid},
		{"ES256 header on the EdDSA key", sign(t, jose.ES256, k.ec, "ed-1", goodClaims()), CodeInvalid},
		{"unknown kid", sign(t, jose.EdDSA, k.ed, "ed-9", goodClaims()), CodeInvalid},
		{"no kid with several keys", sign(t, jose.EdDSA, k.ed, "", goodClaims()), CodeInvalid},
		{"tampered payload", tamper(sign(t, jose.EdDSA, k.ed, "ed-1", goodClaims()), with("sub", "facebook:u43")), CodeInvalid},
		{"expired", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", t0.Add(-8*time.Minute).Unix(), "exp", t0.Add(-2*time.Minute).Unix())), CodeExpired},
		{"future iat", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", t0.Add(2*time.Minute).Unix(), "exp", t0.Add(5*time.Minute).Unix())), CodeNotYetValid},
		{"future nbf", sign(t, jose.EdDSA, k.ed, "ed-1", with("nbf", t0.Add(2*time.Minute).Unix())), CodeNotYetValid},
		{"lifetime over ten minutes", sign(t, jose.EdDSA, k.ed, "ed-1", with("exp", t0.Add(10*time.Minute).Unix())), CodeLifetime},
		{"wrong aud", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", []string{"someone-else"})), CodeAudience},
		{"no aud", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", nil)), CodeAudience},
		{"wrong iss", sign(t, jose.EdDSA, k.ed, "ed-1", with("iss", "https://evil.example")), CodeIssuer},
		{"missing jti", sign(t, jose.EdDSA, k.ed, "ed-1", with("jti", nil)), CodeInvalid},
		{"empty jti", sign(t, jose.EdDSA, k.ed, "ed-1", with("jti", "")), CodeInvalid},
		{"jti too long", sign(t, jose.EdDSA, k.ed, "ed-1", with("jti", strings.Repeat("j", MaxID+1))), CodeInvalid},
		{"missing sub", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", nil)), CodeInvalid},
		{"missing exp", sign(t, jose.EdDSA, k.ed, "ed-1", with("exp", nil)), CodeInvalid},
		{"missing iat", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", nil)), CodeInvalid},
		{"sub without product", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", "u42")), CodeInvalid},
		{"sub with an unknown product", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", "myspace:u42")), CodeInvalid},
		{"sub with an empty account id", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", "facebook:")), CodeInvalid},
		{"exp as a string", sign(t, jose.EdDSA, k.ed, "ed-1", with("exp", "soon")), CodeInvalid},
		{"garbage", "not a token", CodeInvalid},
		{"empty", "", CodeInvalid},
		{"JSON serialization", `{"payload":"` + b64(payload) + `","signatures":[]}`, CodeInvalid},
		{"too long", strings.Repeat("a", MaxToken+1), CodeInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := v.Verify(context.Background(), c.token)
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if a.Product != "facebook" || a.AccountID != "u42" || a.ID != "j-1" {
					t.Fatalf("got %+v", a)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted (%+v) or not an *Error: %v", a, err)
			}
			if e.Code != c.code {
				t.Fatalf("code %s (%s), want %s", e.Code, e.Reason, c.code)
			}
			if strings.Contains(e.Error(), c.token) && c.token != "" {
				t.Fatal("the error repeats the token")
			}
		})
	}
}

func TestVerifySingleKeyWithoutKid(t *testing.T) {
	k := newTestKeys(t)
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.ed.Public()}}})
	v := newVerifier(t, b)
	a, err := v.Verify(context.Background(), sign(t, jose.EdDSA, k.ed, "", goodClaims()))
	if err != nil || a.AccountID != "u42" {
		t.Fatalf("%+v %v", a, err)
	}
	want := t0.Add(4 * time.Minute)
	if !a.Expires.Equal(want) {
		t.Fatalf("expires %s, want %s", a.Expires, want)
	}
	if _, err := v.Verify(context.Background(), sign(t, jose.EdDSA, k.other, "", goodClaims())); err == nil {
		t.Fatal("a token of another key was accepted")
	}
}

func rsaKey(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tamper replaces a token's payload, keeping its header and signature.
func tamper(tok string, claims map[string]any) string {
	parts := strings.Split(tok, ".")
	p, _ := json.Marshal(claims)
	return parts[0] + "." + b64(p) + "." + parts[2]
}

func TestParseKeySet(t *testing.T) {
	k := newTestKeys(t)
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(keys ...jose.JSONWebKey) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cases := []struct {
		name string
		doc  string
		n    int // usable keys; 0 = refused
	}{
		{"EdDSA and ES256", string(k.jwks), 2},
		{"the README's example (RFC 8037 A.2)", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"2026-03","use":"sig","alg":"EdDSA",
          "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`, 1},
		{"private key used by its public half", jwk(jose.JSONWebKey{Key: k.ed, KeyID: "p"}), 1},
		{"RSA only", jwk(jose.JSONWebKey{Key: rsaKey(t).Public(), KeyID: "r"}), 0},
		{"P-384 only", jwk(jose.JSONWebKey{Key: ec384.Public(), KeyID: "e"}), 0},
		{"symmetric only", jwk(jose.JSONWebKey{Key: []byte("secret-secret-secret"), KeyID: "s"}), 0},
		{"encryption key", jwk(jose.JSONWebKey{Key: k.ed.Public(), KeyID: "x", Use: "enc"}), 0},
		{"alg mismatch", jwk(jose.JSONWebKey{Key: k.ed.Public(), KeyID: "x", Algorithm: "ES256"}), 0},
		{"RSA skipped beside EdDSA", jwk(jose.JSONWebKey{Key: rsaKey(t).Public(), KeyID: "r"}, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "e"}), 1},
		{"unknown kty skipped", `{"keys":[{"kty":"XYZ","kid":"a"},` + strings.TrimPrefix(jwk(jose.JSONWebKey{Key: k.ed.Public(), KeyID: "e"}), `{"keys":[`), 1},
		{"empty set", `{"keys":[]}`, 0},
		{"no keys member", `{}`, 0},
		{"not JSON", `garbage`, 0},
		{"an array", `[]`, 0},
		{"too large", `{"keys":[` + strings.Repeat(" ", MaxKeySet) + `]}`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseKeySet([]byte(c.doc))
			if c.n == 0 {
				if err == nil {
					t.Fatalf("accepted with %d keys", s.Len())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != c.n {
				t.Fatalf("%d keys, want %d", s.Len(), c.n)
			}
		})
	}
}

func TestLoadKeysFile(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(good, k.jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ks, err := LoadKeys(ctx, good, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := ks.KeySet(ctx, ""); err != nil || s.Len() != 2 {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := LoadKeys(ctx, bad, nil, nil, nil); !errors.Is(err, ErrNoUsableKey) {
		t.Fatalf("a set without usable keys: %v", err)
	}
	if _, err := LoadKeys(ctx, filepath.Join(dir, "missing.json"), nil, nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
	if _, err := LoadKeys(ctx, "http://platform.example/jwks.json", nil, nil, nil); err == nil {
		t.Fatal("http on the network accepted")
	}
}

func TestNewVerifierNeedsIssuerAndAudience(t *testing.T) {
	ks := StaticKeys{}
	for _, c := range []Config{{Audience: "a", Keys: ks}, {Issuer: "i", Keys: ks}, {Issuer: "i", Audience: "a"}} {
		if _, err := NewVerifier(c); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
}
