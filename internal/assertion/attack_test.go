package assertion

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// rawEdDSA signs a compact JWS with exactly this header and payload, so a
// test can put in it what no well-behaved signer would.
func rawEdDSA(key ed25519.PrivateKey, header map[string]any, payload string) string {
	h, _ := json.Marshal(header)
	in := b64(h) + "." + b64([]byte(payload))
	return in + "." + b64(ed25519.Sign(key, []byte(in)))
}

func claimsJSON(c map[string]any) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Attacks on the token itself: headers naming keys elsewhere, extensions,
// other serialisations, odd claims. Each is refused (or read as stated).
func TestVerifyHostileTokens(t *testing.T) {
	k := newTestKeys(t)
	v := newVerifier(t, k.jwks)
	var fetched atomic.Int64
	lure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer lure.Close()
	attackerJWK, _ := json.Marshal(jose.JSONWebKey{Key: k.other.Public(), KeyID: "ed-1", Algorithm: "EdDSA"})
	var embedded map[string]any
	json.Unmarshal(attackerJWK, &embedded)
	good := claimsJSON(goodClaims())
	flattened := func() string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k.ed}, (&jose.SignerOptions{}).WithHeader("kid", "ed-1"))
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.Sign([]byte(good))
		if err != nil {
			t.Fatal(err)
		}
		return o.FullSerialize()
	}()
	jwe := func() string {
		enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: make([]byte, 16)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := enc.Encrypt([]byte(good))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := o.CompactSerialize()
		return s
	}()
	cases := []struct {
		name  string
		token string
		code  string // "" = accepted
		sub   string // the account read, when accepted
	}{
		{"control: raw signer", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1"}, good), "", "u42"},
		{"embedded jwk of the attacker's key", rawEdDSA(k.other, map[string]any{"alg": "EdDSA", "kid": "ed-1", "jwk": embedded}, good), CodeInvalid, ""},
		{"embedded jwk, no kid", rawEdDSA(k.other, map[string]any{"alg": "EdDSA", "jwk": embedded}, good), CodeInvalid, ""},
		{"jku to the attacker's set", rawEdDSA(k.other, map[string]any{"alg": "EdDSA", "kid": "x", "jku": lure.URL}, good), CodeInvalid, ""},
		{"x5u to the attacker", rawEdDSA(k.other, map[string]any{"alg": "EdDSA", "kid": "ed-1", "x5u": lure.URL}, good), CodeInvalid, ""},
		{"garbage x5c", rawEdDSA(k.other, map[string]any{"alg": "EdDSA", "kid": "ed-1", "x5c": []string{"AAAA"}}, good), CodeInvalid, ""},
		{"crit with an unknown extension", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1", "crit": []string{"x-notrain"}, "x-notrain": true}, good), CodeInvalid, ""},
		{"crit naming a registered header", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1", "crit": []string{"kid"}}, good), CodeInvalid, ""},
		{"alg NONE in capitals", rawEdDSA(k.ed, map[string]any{"alg": "NONE", "kid": "ed-1"}, good), CodeInvalid, ""},
		{"alg eddsa in lower case", rawEdDSA(k.ed, map[string]any{"alg": "eddsa", "kid": "ed-1"}, good), CodeInvalid, ""},
		{"kid of the ES256 key on an EdDSA token", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ec-1"}, good), CodeInvalid, ""},
		{"kid with a path", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "../../ed-1"}, good), CodeInvalid, ""},
		{"kid as a number", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": 1}, good), CodeInvalid, ""},
		{"duplicate alg, none last", func() string {
			h := `{"alg":"EdDSA","kid":"ed-1","alg":"none"}`
			in := b64([]byte(h)) + "." + b64([]byte(good))
			return in + "." + b64(ed25519.Sign(k.ed, []byte(in)))
		}(), CodeInvalid, ""},
		{"JWE instead of JWS", jwe, CodeInvalid, ""},
		{"JSON serialisation, validly signed", flattened, CodeInvalid, ""},
		{"two dots too many", sign(t, jose.EdDSA, k.ed, "ed-1", goodClaims()) + "..", CodeInvalid, ""},
		{"trailing space", sign(t, jose.EdDSA, k.ed, "ed-1", goodClaims()) + " ", CodeInvalid, ""},
		{"payload not an object", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1"}, `["facebook:u42"]`), CodeInvalid, ""},
		{"duplicate sub", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1"}, strings.TrimSuffix(good, "}")+`,"sub":"facebook:u43"}`), CodeInvalid, ""},
		// Claim names are case-sensitive: "Sub" is another, unknown claim.
		{"sub and Sub", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1"}, strings.TrimSuffix(good, "}")+`,"Sub":"facebook:u43"}`), "", "u42"},
		{"aud array without notrain", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", []string{"a", "b"})), CodeAudience, ""},
		{"aud array with notrain last", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", []string{"a", testAudience})), "", "u42"},
		{"aud of another case", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", "NOTRAIN")), CodeAudience, ""},
		{"aud as a number", sign(t, jose.EdDSA, k.ed, "ed-1", with("aud", 1)), CodeInvalid, ""},
		{"iss with a trailing slash", sign(t, jose.EdDSA, k.ed, "ed-1", with("iss", testIssuer+"/")), CodeIssuer, ""},
		{"exp as a string number", sign(t, jose.EdDSA, k.ed, "ed-1", with("exp", "1900000000")), CodeInvalid, ""},
		{"iat as a string", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", "now")), CodeInvalid, ""},
		{"exp and iat as floats", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", float64(t0.Unix())-0.5, "exp", float64(t0.Add(time.Minute).Unix())+0.9)), "", "u42"},
		{"huge exp", sign(t, jose.EdDSA, k.ed, "ed-1", with("exp", 1e300)), CodeInvalid, ""},
		{"exp near int64's limit", rawEdDSA(k.ed, map[string]any{"alg": "EdDSA", "kid": "ed-1"}, strings.Replace(claimsJSON(with("exp", 1)), `"exp":1`, `"exp":9223372036854775807`, 1)), CodeInvalid, ""},
		{"iat huge negative", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", -1e300)), CodeInvalid, ""},
		{"iat far past, exp now: lifetime", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", 0)), CodeLifetime, ""},
		{"exp before iat", sign(t, jose.EdDSA, k.ed, "ed-1", with("iat", t0.Unix(), "exp", t0.Add(-30*time.Second).Unix())), CodeInvalid, ""},
		{"nbf in the future", sign(t, jose.EdDSA, k.ed, "ed-1", with("nbf", t0.Add(5*time.Minute).Unix())), CodeNotYetValid, ""},
		{"nbf huge", sign(t, jose.EdDSA, k.ed, "ed-1", with("nbf", 9.2e18)), CodeInvalid, ""},
		{"sub with the product in capitals", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", "Facebook:u42")), CodeInvalid, ""},
		{"sub with a Cyrillic a in the product", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", "f\u0430cebook:u42")), CodeInvalid, ""},
		{"sub with a space before the product", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", " facebook:u42")), CodeInvalid, ""},
		{"sub with a control character", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", "facebook:u42\u0000")), CodeInvalid, ""},
		{"sub as a number", sign(t, jose.EdDSA, k.ed, "ed-1", with("sub", 42)), CodeInvalid, ""},
		{"jti as a number", sign(t, jose.EdDSA, k.ed, "ed-1", with("jti", 7)), CodeInvalid, ""},
		{"jti with a newline", sign(t, jose.EdDSA, k.ed, "ed-1", with("jti", "j\n1")), CodeInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := v.Verify(context.Background(), c.token)
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if a.AccountID != c.sub {
					t.Fatalf("read %+v, want account %s", a, c.sub)
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
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("a URL named in a token's header was fetched %d times", n)
	}
}

// Extra colons belong to the account id: the product is before the first.
func TestParseSubjectColons(t *testing.T) {
	p, id, err := ParseSubject("instagram:a:b:c")
	if err != nil || p != "instagram" || id != "a:b:c" {
		t.Fatalf("%q %q %v", p, id, err)
	}
	if _, _, err := ParseSubject(":facebook:u1"); err == nil {
		t.Fatal("an empty product accepted")
	}
}
