package dkim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// rsaKey is one 2048-bit key for the whole package: making one takes a
// noticeable part of a second.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

func TestParseKeyAcceptsRSAAndEd25519(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for name, tc := range map[string]struct {
		pem []byte
		pub crypto.PublicKey
	}{
		"PKCS#8 RSA":     {pkcs8(t, rsaKey()), rsaKey().Public()},
		"PKCS#1 RSA":     {pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey())), rsaKey().Public()},
		"PKCS#8 Ed25519": {pkcs8(t, ed), ed.Public()},
	} {
		k, err := ParseKey(tc.pem)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.pub) {
			t.Errorf("%s: parsed another key", name)
		}
	}
}

func TestParseKeyRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte{1}})
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"RSA-1024":          {pkcs8(t, small), "1024 bits"},
		"PKCS#1 RSA-1024":   {pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "1024 bits"},
		"ECDSA in PKCS#8":   {pkcs8(t, ec), "ecdsa"},
		"EC PRIVATE KEY":    {pemOf(t, "EC PRIVATE KEY", ecDER), `"EC PRIVATE KEY"`},
		"public key":        {pemOf(t, "PUBLIC KEY", []byte{1, 2}), `"PUBLIC KEY"`},
		"legacy encrypted":  {encrypted, "encrypted"},
		"PKCS#8 encrypted":  {pemOf(t, "ENCRYPTED PRIVATE KEY", []byte{1, 2}), "encrypted"},
		"not PEM":           {[]byte("hello"), "no PEM block"},
		"empty":             {nil, "no PEM block"},
		"damaged PKCS#8":    {pemOf(t, "PRIVATE KEY", []byte{0x30, 0x03, 1, 2, 3}), "unusable key"},
		"damaged PKCS#1":    {pemOf(t, "RSA PRIVATE KEY", []byte{0x30, 0x00}), "unusable key"},
		"base64 of garbage": {[]byte("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"), "no PEM block"},
	} {
		_, err := ParseKey(tc.in)
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want ErrKey saying %q)", name, err, tc.want)
		}
	}
}

func TestLoadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "k.pem")
	if err := os.WriteFile(good, pkcs8(t, rsaKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(good); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadKey(dir); err == nil {
		t.Error("a directory was loaded as a key")
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), maxKeyFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(big); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("oversized file: %v", err)
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(pkcs8(f, rsaKey()))
	f.Add(pemOf(f, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey())))
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(pkcs8(f, ed))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			if !errors.Is(err, ErrKey) {
				t.Fatalf("error does not wrap ErrKey: %v", err)
			}
			return
		}
		// What is accepted signs, and its record can be made.
		if _, err := TXT(k.Public()); err != nil {
			t.Fatalf("accepted key has no record: %v", err)
		}
		if rk, ok := k.(*rsa.PrivateKey); ok && (rk.N.BitLen() < MinRSABits || rk.N.BitLen() > MaxRSABits) {
			t.Fatalf("accepted an RSA key of %d bits", rk.N.BitLen())
		}
	})
}

func TestSelectorAndDomain(t *testing.T) {
	for _, s := range []string{"mail", "s2026", "notrain-rsa", "a.b", "X1"} {
		if err := CheckSelector(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{"", "-a", "a-", "a..b", ".a", "a.", "a_b", "a b", "sel;x=1", "ä", strings.Repeat("a", 64), "a\r\nb"} {
		if err := CheckSelector(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	for in, want := range map[string]string{"Example.COM": "example.com", "müller.de": "xn--mller-kva.de", "mail.example.org.": "mail.example.org"} {
		if got, err := Domain(in); err != nil || got != want {
			t.Errorf("Domain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "localhost", "a..b", "exa mple.com", "-x.com", "x_y.com"} {
		if got, err := Domain(in); err == nil {
			t.Errorf("Domain(%q) = %q, accepted", in, got)
		}
	}
}

// message is a mail as Build makes one, CRLF line ends.
func message(lang bool) []byte {
	h := "From: notrain <noreply@notrain.test>\r\nTo: <anna@example.de>\r\nSubject: =?utf-8?q?Best=C3=A4tigung?=\r\n" +
		"Date: Fri, 01 May 2026 10:02:00 +0000\r\nMessage-ID: <abc@notrain.test>\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
	if lang {
		h += "Content-Language: de\r\n"
	}
	return []byte(h + "Content-Type: text/plain; charset=utf-8\r\n\r\nIhr Code: 123456\r\n")
}

// lookup answers DKIM key queries for the records given by DNS name.
func lookup(t *testing.T, records map[string]string) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		if r, ok := records[name]; ok {
			return []string{r}, nil
		}
		t.Errorf("unexpected DNS query %q", name)
		return nil, errors.New("no such record")
	}
}

func verify(t *testing.T, msg []byte, records map[string]string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup(t, records)})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestSignVerifies(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaTXT, _ := TXT(rsaKey().Public())
	edTXT, _ := TXT(ed.Public())
	s, err := NewSigner("Notrain.TEST", Key{Selector: "rsa1", Signer: rsaKey()}, Key{Selector: "ed1", Signer: ed})
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{"rsa1._domainkey.notrain.test": rsaTXT, "ed1._domainkey.notrain.test": edTXT}
	for _, lang := range []bool{false, true} {
		signed, err := s.Sign(message(lang))
		if err != nil {
			t.Fatal(err)
		}
		vs := verify(t, signed, records)
		if len(vs) != 2 {
			t.Fatalf("%d signatures, want 2", len(vs))
		}
		for _, v := range vs {
			if v.Err != nil || v.Domain != "notrain.test" {
				t.Fatalf("verification: %+v", v)
			}
			want := []string{"From", "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Language", "Auto-Submitted"}
			if !lang {
				want = append(want[:8], want[9:]...)
			}
			if strings.Join(v.HeaderKeys, ":") != strings.Join(want, ":") {
				t.Fatalf("signed headers %v, want %v", v.HeaderKeys, want)
			}
		}
		if !bytes.HasSuffix(signed, message(lang)) || !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) {
			t.Fatalf("signed message is not the signatures followed by the message:\n%s", signed)
		}
		sig := string(signed[:len(signed)-len(message(lang))])
		for _, tag := range []string{"a=rsa-sha256", "a=ed25519-sha256", "c=relaxed/relaxed", "d=notrain.test", "s=rsa1", "s=ed1"} {
			if !strings.Contains(strings.Join(strings.Fields(sig), ""), tag) {
				t.Errorf("signatures lack %s:\n%s", tag, sig)
			}
		}
	}
}

func TestTamperingFailsVerification(t *testing.T) {
	rsaTXT, _ := TXT(rsaKey().Public())
	s, err := NewSigner("notrain.test", Key{Selector: "s", Signer: rsaKey()})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.Sign(message(true))
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{"s._domainkey.notrain.test": rsaTXT}
	if v := verify(t, signed, records); v[0].Err != nil {
		t.Fatal(v[0].Err)
	}
	for name, tamper := range map[string]func([]byte) []byte{
		"body":    func(m []byte) []byte { return bytes.Replace(m, []byte("123456"), []byte("654321"), 1) },
		"subject": func(m []byte) []byte { return bytes.Replace(m, []byte("Best=C3=A4tigung"), []byte("Bestaetigung"), 1) },
		"second From": func(m []byte) []byte {
			return bytes.Replace(m, []byte("To: "), []byte("From: eve@evil.test\r\nTo: "), 1)
		},
		"language": func(m []byte) []byte {
			return bytes.Replace(m, []byte("Content-Language: de"), []byte("Content-Language: en"), 1)
		},
		"content type": func(m []byte) []byte { return bytes.Replace(m, []byte("text/plain"), []byte("text/html"), 1) },
	} {
		v := verify(t, tamper(bytes.Clone(signed)), records)
		if len(v) != 1 || v[0].Err == nil {
			t.Errorf("%s changed, still verifies", name)
		}
	}
	// Relaxed canonicalisation lets what relays do pass: re-folded header
	// whitespace and trailing blanks.
	v := verify(t, bytes.Replace(signed, []byte("Subject: "), []byte("Subject:   "), 1), records)
	if v[0].Err != nil {
		t.Errorf("relaxed canonicalisation: %v", v[0].Err)
	}
}

func TestNewSignerRefuses(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, tc := range map[string]struct {
		domain string
		keys   []Key
	}{
		"no key":       {"notrain.test", nil},
		"bad selector": {"notrain.test", []Key{{Selector: "a;b", Signer: ed}}},
		"bad domain":   {"no domain", []Key{{Selector: "a", Signer: ed}}},
		"ECDSA":        {"notrain.test", []Key{{Selector: "a", Signer: ec}}},
		"same twice":   {"notrain.test", []Key{{Selector: "a", Signer: ed}, {Selector: "A", Signer: rsaKey()}}},
		"RSA-1024":     {"notrain.test", []Key{{Selector: "a", Signer: small}}},
		"no signer":    {"notrain.test", []Key{{Selector: "a"}}},
	} {
		if _, err := NewSigner(tc.domain, tc.keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRecord(t *testing.T) {
	rec, err := Record("s1", "Notrain.test", rsaKey().Public())
	if err != nil {
		t.Fatal(err)
	}
	name, rest, ok := strings.Cut(rec, " IN TXT ")
	if !ok || name != "s1._domainkey.notrain.test." {
		t.Fatalf("record %q", rec)
	}
	// The strings joined are the record a resolver hands a verifier.
	var joined string
	for i, part := range strings.Split(rest, `" "`) {
		part = strings.Trim(part, `"`)
		if len(part) > 255 || len(part) == 0 {
			t.Fatalf("string %d is %d bytes", i, len(part))
		}
		joined += part
	}
	if strings.Count(rest, `"`) < 4 {
		t.Fatalf("a 2048-bit key's record was not split: %s", rest)
	}
	want, _ := TXT(rsaKey().Public())
	if joined != want || !strings.HasPrefix(joined, "v=DKIM1; k=rsa; p=MIIB") {
		t.Fatalf("joined %q, want %q", joined, want)
	}
	// The record verifies what the key signs.
	s, _ := NewSigner("notrain.test", Key{Selector: "s1", Signer: rsaKey()})
	signed, err := s.Sign(message(false))
	if err != nil {
		t.Fatal(err)
	}
	if v := verify(t, signed, map[string]string{"s1._domainkey.notrain.test": joined}); v[0].Err != nil {
		t.Fatal(v[0].Err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rec, err = Record("ed", "notrain.test", ed.Public())
	if err != nil || !strings.HasPrefix(rec, `ed._domainkey.notrain.test. IN TXT "v=DKIM1; k=ed25519; p=`) || strings.Count(rec, `"`) != 2 {
		t.Fatalf("Ed25519 record %q, %v", rec, err)
	}
}

func TestGenerateKey(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []string{TypeEd25519, TypeRSA} {
		path := filepath.Join(dir, typ+".pem")
		k, err := GenerateKey(path, typ)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", typ, st.Mode(), err)
		}
		loaded, err := LoadKey(path)
		if err != nil {
			t.Fatal(err)
		}
		if !loaded.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Fatalf("%s: the file holds another key", typ)
		}
		before, _ := os.ReadFile(path)
		if _, err := GenerateKey(path, typ); !errors.Is(err, ErrExists) {
			t.Fatalf("%s: overwrite: %v", typ, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Fatalf("%s: the refused overwrite changed the file", typ)
		}
	}
	if _, err := GenerateKey(filepath.Join(dir, "x.pem"), "dsa"); err == nil {
		t.Fatal("made a dsa key")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused type left a file")
	}
}
