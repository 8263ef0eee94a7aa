package mail_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/testutil/rfc6962"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// The confirmation of an objection and of a withdrawal arrives as
// multipart/mixed: the text and HTML alternatives first, then the receipt
// as an attachment named after the reference, which verifies under the
// log key, with our code and with an independent reading of the specs.
func TestConfirmationCarriesReceipt(t *testing.T) {
	f, srv, d := setup(t)
	for _, flow := range []objection.Flow{objection.FlowObjection, objection.FlowWithdrawal} {
		f.Clock.Advance(time.Minute)
		st, err := f.Svc.Start(ctx, objection.StartInput{Flow: flow, Email: "anna@example.de", Lang: "de", Scope: objection.AllAccounts})
		if err != nil {
			t.Fatal(err)
		}
		d.RunOnce(ctx)
		msgs := srv.Messages()
		code := msgs[len(msgs)-1].Code()
		out, err := f.Svc.Verify(ctx, flow, st.RequestID, code)
		if err != nil {
			t.Fatal(err)
		}
		d.RunOnce(ctx)
		got := srv.WaitFor(t, 5*time.Second, func(m smtptest.Message) bool { return strings.Contains(string(m.Raw), out.Reference) })
		name, rc := attachment(t, got.Raw)
		if name != out.Reference+".tlog-proof" {
			t.Fatalf("attachment named %q, want %s.tlog-proof", name, out.Reference)
		}
		v, err := receipt.Verify(rc, f.LogKey.Verifier())
		if err != nil {
			t.Fatalf("the mailed receipt: %v\n%s", err, rc)
		}
		if v.Entry.Seq != out.LedgerSeq || !bytes.Contains(v.Entry.Body, []byte(out.Reference)) {
			t.Fatalf("the mailed receipt proves entry %d %s, want %d with %s", v.Entry.Seq, v.Entry.Body, out.LedgerSeq, out.Reference)
		}
		head, note, _ := bytes.Cut(rc, []byte("\n\n"))
		cp, err := rfc6962.OpenCheckpoint(note, f.LogKey.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(head), "\n")
		extra, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
		var path [][32]byte
		for _, l := range lines[3:] {
			h, _ := base64.StdEncoding.DecodeString(l)
			path = append(path, [32]byte(h))
		}
		if root, err := rfc6962.RootFromPath(rfc6962.LeafHash(extra), int(out.LedgerSeq-1), int(cp.Size), path); err != nil || root != cp.Root {
			t.Fatalf("independent check of the mailed receipt: %v", err)
		}
		if !strings.Contains(got.Text, out.Reference+".tlog-proof") || !strings.Contains(got.Text, "/log/key") {
			t.Fatalf("the text does not explain the receipt:\n%s", got.Text)
		}
	}
}

// attachment parses a raw mail the way a mail program does and returns
// its one attachment, checking the order of the parts on the way.
func attachment(t *testing.T, raw []byte) (string, []byte) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ct, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/mixed" {
		t.Fatalf("Content-Type %q, want multipart/mixed", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	first, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	act, aparams, _ := mime.ParseMediaType(first.Header.Get("Content-Type"))
	if act != "multipart/alternative" {
		t.Fatalf("first part %q, want the alternatives", act)
	}
	inner, err := multipart.NewReader(first, aparams["boundary"]).NextPart()
	if err != nil || !strings.HasPrefix(inner.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("the first alternative is %q (%v), want the text", inner.Header.Get("Content-Type"), err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	disp, dparams, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" {
		t.Fatalf("Content-Disposition %q", p.Header.Get("Content-Disposition"))
	}
	pct, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
	if pct != "text/plain" || pparams["name"] != dparams["filename"] {
		t.Fatalf("attachment Content-Type %q", p.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("more than one attachment: %v", err)
	}
	return dparams["filename"], b
}
