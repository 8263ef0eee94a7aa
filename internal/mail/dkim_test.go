package mail_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/dkim"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/testutil/dkimtest"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// testKeys are an RSA-2048 and an Ed25519 key with their selectors and
// DNS records.
func testKeys(t *testing.T) (rsaKey, edKey dkim.Key, records dkimtest.Records) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	records = dkimtest.Records{}
	for sel, k := range map[string]crypto.Signer{"rsa2026": rk, "ed2026": ek} {
		txt, err := dkim.TXT(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		records[sel+"._domainkey.notrain.test"] = txt
	}
	return dkim.Key{Selector: "rsa2026", Signer: rk}, dkim.Key{Selector: "ed2026", Signer: ek}, records
}

// A mail sent through the outbox to a real SMTP server arrives signed,
// and the signature as received verifies with go-msgauth and with
// dkimpy, for each key type and for both at once; changing the body as
// received breaks it for both.
func TestReceivedMailIsDKIMSigned(t *testing.T) {
	rk, ek, records := testKeys(t)
	for name, keys := range map[string][]dkim.Key{"rsa": {rk}, "ed25519": {ek}, "both": {rk, ek}} {
		t.Run(name, func(t *testing.T) {
			f, srv, d := setup(t)
			s, err := dkim.NewSigner("notrain.test", keys...)
			if err != nil {
				t.Fatal(err)
			}
			d.Signer = s
			if _, err := object(f, "anna@example.de"); err != nil {
				t.Fatal(err)
			}
			if n, err := d.RunOnce(ctx); err != nil || n != 1 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			got := srv.WaitFor(t, 5*time.Second, smtptest.To("anna@example.de"))
			if n := strings.Count(string(got.Raw), "DKIM-Signature:"); n != len(keys) {
				t.Fatalf("%d signatures, want %d:\n%s", n, len(keys), got.Raw)
			}
			for i, err := range dkimtest.Verify(t, got.Raw, records) {
				if err != nil {
					t.Fatalf("go-msgauth: signature %d: %v", i, err)
				}
			}
			tampered := bytes.Replace(got.Raw, []byte(got.Code()), []byte("000000"), 1)
			if bytes.Equal(tampered, got.Raw) {
				t.Fatal("the code was not found in the raw mail")
			}
			for i, err := range dkimtest.Verify(t, tampered, records) {
				if err == nil {
					t.Fatalf("go-msgauth: signature %d verifies a changed body", i)
				}
			}
			// Last: without dkimpy the test is skipped here.
			checkDKIMPy(t, got.Raw, records, len(keys), true)
			checkDKIMPy(t, tampered, records, len(keys), false)
		})
	}
}

// checkDKIMPy wants n signatures from dkimpy, each verifying (ok) or each
// failing. dkimpy 1.1 verifies ed25519-sha256 (RFC 8463) with PyNaCl.
func checkDKIMPy(t *testing.T, raw []byte, records dkimtest.Records, n int, ok bool) {
	t.Helper()
	res := dkimtest.VerifyPy(t, raw, records)
	if len(res) != n {
		t.Fatalf("dkimpy saw %d signatures, want %d", len(res), n)
	}
	for i, v := range res {
		if v != ok {
			t.Fatalf("dkimpy: signature %d verified = %v, want %v", i, v, ok)
		}
	}
}

// A confirmation (multipart/mixed with the receipt attached) is signed
// over the attachment too.
func TestConfirmationIsDKIMSigned(t *testing.T) {
	rk, _, records := testKeys(t)
	f, srv, d := setup(t)
	s, err := dkim.NewSigner("notrain.test", rk)
	if err != nil {
		t.Fatal(err)
	}
	d.Signer = s
	st, err := object(f, "anna@example.de")
	if err != nil {
		t.Fatal(err)
	}
	d.RunOnce(ctx)
	code := srv.WaitFor(t, 5*time.Second, smtptest.To("anna@example.de")).Code()
	out, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code)
	if err != nil {
		t.Fatal(err)
	}
	d.RunOnce(ctx)
	got := srv.WaitFor(t, 5*time.Second, func(m smtptest.Message) bool { return strings.Contains(string(m.Raw), out.Reference) })
	if len(got.Attachments) != 1 {
		t.Fatalf("%d attachments", len(got.Attachments))
	}
	if errs := dkimtest.Verify(t, got.Raw, records); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("go-msgauth: %v", errs)
	}
	// Change one character of the attachment's base64.
	enc := base64.StdEncoding.EncodeToString(got.Attachments[0].Data)[:40]
	i := bytes.Index(got.Raw, []byte(enc))
	if i < 0 {
		t.Fatal("attachment not found in the raw mail")
	}
	tampered := bytes.Clone(got.Raw)
	tampered[i+10] = map[bool]byte{true: 'A', false: 'B'}[tampered[i+10] != 'A']
	if errs := dkimtest.Verify(t, tampered, records); len(errs) != 1 || errs[0] == nil {
		t.Fatal("go-msgauth: a changed attachment verifies")
	}
	checkDKIMPy(t, got.Raw, records, 1, true)
	checkDKIMPy(t, tampered, records, 1, false)
}

var hex32 = regexp.MustCompile(`^<[0-9a-f]{32}@notrain\.test>$`)

// Every mail's Message-ID is random on the sender's domain, and not the
// outbox row's id.
func TestMessageIDIsRandomOnSenderDomain(t *testing.T) {
	f, srv, d := setup(t)
	seen := map[string]bool{}
	for _, addr := range []string{"anna@example.de", "nobody@example.de", "ben@example.com"} {
		st, err := object(f, addr)
		if err != nil {
			t.Fatal(err)
		}
		d.RunOnce(ctx)
		got := srv.WaitFor(t, 5*time.Second, smtptest.To(addr))
		id := got.Header.Get("Message-Id")
		m := outbox(t, f, st.RequestID)
		if !hex32.MatchString(id) || strings.Contains(id, m.ID) || seen[id] {
			t.Fatalf("Message-ID %q (outbox id %s, seen %v)", id, m.ID, seen)
		}
		seen[id] = true
	}
}

// countingSigner is the real signer, counting the messages it signs and
// keeping what it returned.
type countingSigner struct {
	s      *dkim.Signer
	mu     sync.Mutex
	signed [][]byte
}

func (c *countingSigner) Sign(msg []byte) ([]byte, error) {
	out, err := c.s.Sign(msg)
	c.mu.Lock()
	c.signed = append(c.signed, out)
	c.mu.Unlock()
	return out, err
}

// A placeholder is signed like the notice it stands in for (the same work
// whether or not the address has an account), though it is never handed
// over: only the code mail arrives.
func TestPlaceholderIsSignedToo(t *testing.T) {
	rk, _, records := testKeys(t)
	f, srv, d := setup(t)
	s, err := dkim.NewSigner("notrain.test", rk)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingSigner{s: s}
	d.Signer = cs
	if _, err := object(f, "nobody@example.de"); err != nil {
		t.Fatal(err)
	}
	d.RunOnce(ctx) // the day's notice
	before := len(srv.Messages())
	cs.signed = nil
	if _, err := object(f, "anna@example.de"); err != nil {
		t.Fatal(err)
	}
	if _, err := object(f, "nobody@example.de"); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	if got := len(srv.Messages()) - before; got != 1 {
		t.Fatalf("%d mails arrived, want the code mail alone", got)
	}
	if len(cs.signed) != 2 {
		t.Fatalf("%d messages signed, want 2 (the code mail and the placeholder)", len(cs.signed))
	}
	for _, m := range cs.signed {
		if errs := dkimtest.Verify(t, m, records); len(errs) != 1 || errs[0] != nil {
			t.Fatalf("a signed message does not verify: %v", errs)
		}
	}
}
