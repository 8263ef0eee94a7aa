package evidence_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// verifyJWS checks a flattened JWS JSON serialization (RFC 7515 §7.2.2)
// signed with alg EdDSA (RFC 8037 §3.1) against a log verifier key in the
// signed-note format (name+keyid+base64(0x01 || Ed25519 public key)),
// written from the RFCs alone, and returns the protected header and the
// payload.
func verifyJWS(t *testing.T, doc []byte, verifierKey string) (map[string]any, []byte) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(doc, &members); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	for k := range members {
		if k != "protected" && k != "payload" && k != "signature" && k != "header" {
			t.Fatalf("member %q is not in the flattened JWS serialization", k)
		}
	}
	str := func(k string) string {
		var s string
		if err := json.Unmarshal(members[k], &s); err != nil || s == "" {
			t.Fatalf("member %q is not a non-empty string", k)
		}
		// BASE64URL: URL-safe alphabet, no padding (RFC 7515 §2).
		if strings.ContainsAny(s, "=+/ \n") {
			t.Fatalf("member %q is not base64url without padding", k)
		}
		return s
	}
	prot, pay, sig := str("protected"), str("payload"), str("signature")
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("base64url: %v", err)
		}
		return b
	}
	var hdr map[string]any
	if err := json.Unmarshal(dec(prot), &hdr); err != nil {
		t.Fatalf("protected header: %v", err)
	}
	if hdr["alg"] != "EdDSA" {
		t.Fatalf("alg %v, want EdDSA", hdr["alg"])
	}
	if _, ok := hdr["crit"]; ok {
		t.Fatal("a crit header this verifier does not understand")
	}
	parts := strings.SplitN(verifierKey, "+", 3) // the key's base64 may hold a "+"
	if len(parts) != 3 {
		t.Fatalf("verifier key %q", verifierKey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		t.Fatalf("verifier key %q is not an Ed25519 key", verifierKey)
	}
	// The JWS Signing Input: ASCII(BASE64URL(header) || '.' || BASE64URL(payload)).
	if !ed25519.Verify(ed25519.PublicKey(raw[1:]), []byte(prot+"."+pay), dec(sig)) {
		t.Fatal("the signature does not verify")
	}
	return hdr, dec(pay)
}

func TestEvidenceExport(t *testing.T) {
	dbtest.Each(t, testExport)
}

func testExport(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	consent.Register(f.Svc, f.DB, f.Keys)
	disp := &mail.Dispatcher{Outbox: f.DB, Composer: f.Composer, Now: f.Clock.Now, Log: fixture.Quiet()}
	var codes []string
	confirm := func(flow objection.Flow, in objection.StartInput) objection.Outcome {
		t.Helper()
		in.Flow, in.Lang, in.Channel = flow, "en", "api"
		st, err := f.Svc.Start(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		code := f.CodeFor(t, st.RequestID)
		codes = append(codes, code)
		out, err := f.Svc.Verify(ctx, flow, st.RequestID, code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := disp.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(time.Hour)
		return out
	}
	obj := confirm(objection.FlowObjection, objection.StartInput{Email: "anna@example.de", Scope: objection.AllAccounts})
	wd := confirm(objection.FlowWithdrawal, objection.StartInput{Email: "anna@example.de"})
	// Anna posts after the withdrawal; a snapshot registered then keeps it.
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	created := f.Clock.Now().Add(-time.Minute).Format(time.RFC3339)
	os.WriteFile(in, []byte(fmt.Sprintf(`{"id":"fb:1","product":"facebook","author_id":"u1","kind":"post","visibility":"public","created_at":%q}
{"id":"fb:2","product":"facebook","author_id":"u3","kind":"post","visibility":"public","created_at":%q}
`, created, created)), 0o644)
	res, err := snapshot.Build(ctx, snapshot.Options{Inputs: []string{in}, Output: filepath.Join(dir, "out.jsonl"),
		Manifest: filepath.Join(dir, "m.json"), DB: f.DB, Now: f.Clock.Now, Workers: 1})
	if err != nil || res.Filter.Counts.Eligible != 2 {
		t.Fatalf("snapshot: %v %+v", err, res)
	}
	snapID := res.Manifest.SnapshotID

	svc := evidence.New(f.DB, f.Keys, f.LogKey, f.Clock.Now)
	before, _ := f.DB.LedgerHead(ctx)
	out, err := svc.Export(ctx, obj.Reference, "alice (privacy team)")
	if err != nil {
		t.Fatal(err)
	}
	hdr, payload := verifyJWS(t, out, f.LogKey.VerifierKey())
	if hdr["kid"] != f.LogKey.VerifierKey() {
		t.Fatalf("kid %v", hdr["kid"])
	}
	// Tampering with one byte of the payload breaks the signature.
	var j map[string]string
	json.Unmarshal(out, &j)
	p := []byte(j["payload"])
	p[10] ^= 1
	j["payload"] = string(p)
	bad, _ := json.Marshal(j)
	if !jwsVerifies(out, f.LogKey.VerifierKey()) || jwsVerifies(bad, f.LogKey.VerifierKey()) {
		t.Fatal("a changed payload still verifies, or the export does not")
	}

	for _, c := range codes {
		if bytes.Contains(payload, []byte(c)) || bytes.Contains(out, []byte(c)) {
			t.Fatalf("the export contains the code %s", c)
		}
	}
	if bytes.Contains(payload, []byte("anna@")) || bytes.Contains(payload, []byte(`"u1"`)) {
		t.Fatalf("the export contains an address or an account id:\n%s", payload)
	}
	var doc evidence.Document
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Reference != obj.Reference || doc.Operator != "alice (privacy team)" || doc.Format != evidence.Format {
		t.Fatalf("document: %+v", doc)
	}
	var kinds []string
	for _, e := range doc.Entries {
		kinds = append(kinds, e.Kind)
		v, err := receipt.Verify([]byte(e.Receipt), f.LogKey.Verifier())
		if err != nil || v.Entry.Seq != e.Seq || v.Entry.Hash != e.Hash || !bytes.Equal(v.Entry.Body, e.Body) {
			t.Fatalf("entry %d: receipt %v", e.Seq, err)
		}
	}
	if strings.Join(kinds, ",") != ledger.KindObjectionAccepted+","+ledger.KindObjectionWithdrawn {
		t.Fatalf("entries: %v", kinds)
	}
	var mails []string
	for _, m := range doc.Mails {
		mails = append(mails, m.Kind+":"+m.Status)
		if m.SentAt == "" || m.QueuedAt == "" {
			t.Fatalf("mail without times: %+v", m)
		}
	}
	if strings.Join(mails, ",") != "code:sent,objection_confirmed:sent" {
		t.Fatalf("mails: %v", mails)
	}
	if len(doc.Accounts) != 3 || len(doc.Snapshots) != 1 || doc.Snapshots[0].ID != snapID {
		t.Fatalf("accounts %v, snapshots %+v", doc.Accounts, doc.Snapshots)
	}
	u1 := f.Keys.Pseudonym("account", "facebook/u1")
	if k := doc.Snapshots[0].KeptOfAccounts; len(k) != 1 || k[u1] != 1 {
		t.Fatalf("kept of the covered accounts: %v (facebook/u1 is %s)", k, u1)
	}
	// The export is in the ledger, naming the operator by pseudonym (the
	// log is public), with its receipt; the document resolves the name.
	alice := f.Keys.OperatorPseudonym("alice (privacy team)")
	if doc.Export.Kind != ledger.KindEvidenceExported || doc.Export.Seq != before.Seq+1 ||
		!strings.Contains(string(doc.Export.Body), `"operator":"`+alice+`"`) || strings.Contains(string(doc.Export.Body), "alice") ||
		doc.Operators[alice] != "alice (privacy team)" {
		t.Fatalf("export entry: %+v, operators %v", doc.Export, doc.Operators)
	}
	if _, err := receipt.Verify([]byte(doc.Export.Receipt), f.LogKey.Verifier()); err != nil {
		t.Fatal(err)
	}

	// The withdrawal's evidence names the objection it ended.
	out, err = svc.Export(ctx, wd.Reference, "bob")
	if err != nil {
		t.Fatal(err)
	}
	_, payload = verifyJWS(t, out, f.LogKey.VerifierKey())
	json.Unmarshal(payload, &doc)
	kinds = nil
	for _, e := range doc.Entries {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "objection.accepted,objection.withdrawn,evidence.exported" {
		t.Fatalf("withdrawal's entries: %v", kinds)
	}

	// A consent exports alike.
	c := confirm(consent.FlowGive, objection.StartInput{Email: "ben@example.com", Scope: objection.AllAccounts})
	out, err = svc.Export(ctx, c.Reference, "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, payload = verifyJWS(t, out, f.LogKey.VerifierKey())
	json.Unmarshal(payload, &doc)
	if len(doc.Entries) != 1 || doc.Entries[0].Kind != ledger.KindConsentGiven || len(doc.Accounts) != 2 {
		t.Fatalf("consent evidence: %+v", doc)
	}

	// Unknown references and bad input are clear errors that record nothing.
	head, _ := f.DB.LedgerHead(ctx)
	for _, tc := range []struct{ ref, op string }{
		{"NT-AAAA-BBBB-CCCC", "alice"}, {"not a reference", "alice"}, {"%", "alice"}, {obj.Reference, ""}, {obj.Reference, "a\nb"},
	} {
		_, err := svc.Export(ctx, tc.ref, tc.op)
		if err == nil {
			t.Fatalf("%q by %q: no error", tc.ref, tc.op)
		}
		if tc.ref == "NT-AAAA-BBBB-CCCC" && !errors.Is(err, evidence.ErrUnknownReference) {
			t.Fatalf("unknown reference: %v", err)
		}
	}
	if h, _ := f.DB.LedgerHead(ctx); h != head {
		t.Fatalf("a refused export was recorded: %v → %v", head, h)
	}
	if _, err := f.DB.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

// jwsVerifies is verifyJWS as a yes or no.
func jwsVerifies(doc []byte, vkey string) bool {
	var j map[string]string
	if json.Unmarshal(doc, &j) != nil {
		return false
	}
	parts := strings.SplitN(vkey, "+", 3)
	raw, _ := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	sig, err := base64.RawURLEncoding.DecodeString(j["signature"])
	if err != nil || len(raw) != 33 {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(raw[1:]), []byte(j["protected"]+"."+j["payload"]), sig)
}
