package mail_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// The same mails, placeholders and refusals go through a server that
// offers PIPELINING and one that does not: with it, the envelope and DATA
// go in one write; without it, never two commands before a reply.
func TestPipeliningOfferedOrNot(t *testing.T) {
	for _, offered := range []bool{true, false} {
		t.Run(fmt.Sprintf("offered=%v", offered), func(t *testing.T) {
			f, _, d := setup(t)
			srv := smtptest.StartWith(t, smtptest.Options{NoPipelining: !offered})
			d.Sender = newSMTP(t, srv.URL())
			srv.RefuseRecipients(func(rcpt string) bool { return rcpt == "carl@example.net" })
			known := map[string]string{}
			for _, addr := range []string{"anna@example.de", "ben@example.com", "carl@example.net", "nobody@example.org"} {
				st, err := object(f, addr)
				if err != nil {
					t.Fatal(err)
				}
				known[addr] = st.RequestID
			}
			d.RunOnce(ctx)
			f.Clock.Advance(time.Minute)
			placeholder, err := object(f, "nobody@example.org") // the day's notice went out: a placeholder
			if err != nil {
				t.Fatal(err)
			}
			d.RunOnce(ctx)

			got := map[string]int{}
			for _, m := range srv.Messages() {
				got[m.To[0]]++
				if m.To[0] != "nobody@example.org" && m.Code() == "" {
					t.Fatalf("mail to %s arrived without its code:\n%s", m.To[0], m.Raw)
				}
			}
			if got["anna@example.de"] != 1 || got["ben@example.com"] != 1 || got["nobody@example.org"] != 1 || got["carl@example.net"] != 0 {
				t.Fatalf("received %v", got)
			}
			for addr, want := range map[string]string{"anna@example.de": store.MailSent, "carl@example.net": store.MailAbandoned} {
				if m := outbox(t, f, known[addr]); m.Status != want || (want == store.MailAbandoned && !strings.Contains(m.LastError, "550")) {
					t.Fatalf("%s: %+v", addr, m)
				}
			}
			if m := outbox(t, f, placeholder.RequestID); m.Kind != mail.KindSuppressed || m.Status != store.MailSent {
				t.Fatalf("placeholder: %+v", m)
			}
			if p := srv.Pipelined(); offered != (p > 0) {
				t.Fatalf("pipelined %d times with PIPELINING offered=%v", p, offered)
			}
		})
	}
}

// A 5xx to RCPT TO inside a pipelined transaction is permanent and costs
// only that mail: the server refuses the DATA that followed it, nothing is
// delivered for it, and the mails around it go out once each. A 4xx is
// retried.
func TestRefusalInPipelinedTransaction(t *testing.T) {
	f, srv, d := setup(t)
	refused := func(rcpt string) bool { return strings.HasPrefix(rcpt, "refused") }
	srv.RefuseRecipients(refused)
	ids := map[string]string{}
	for i := range 6 {
		addr := fmt.Sprintf("person%d@example.org", i)
		if i%2 == 1 {
			addr = fmt.Sprintf("refused%d@example.org", i)
		}
		st, err := object(f, addr)
		if err != nil {
			t.Fatal(err)
		}
		ids[addr] = st.RequestID
	}
	d.Workers = 1 // one session: each refusal sits between two good mails
	if n, err := d.RunOnce(ctx); err != nil || n != 6 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		seen[m.To[0]]++
	}
	for addr, id := range ids {
		m := outbox(t, f, id)
		switch {
		case refused(addr):
			if m.Status != store.MailAbandoned || !strings.Contains(m.LastError, "RCPT TO") || !strings.Contains(m.LastError, "550") || seen[addr] != 0 {
				t.Fatalf("%s: %+v, received %d", addr, m, seen[addr])
			}
		default:
			if m.Status != store.MailSent || seen[addr] != 1 {
				t.Fatalf("%s: %+v, received %d", addr, m, seen[addr])
			}
		}
	}
	if srv.Pipelined() == 0 {
		t.Fatal("the transactions were not pipelined")
	}
	srv.RefuseRecipients(nil)
	srv.Reject(452)
	f.Clock.Advance(time.Minute)
	st, _ := object(f, "late@example.org")
	d.RunOnce(ctx)
	if m := outbox(t, f, st.RequestID); m.Status != store.MailQueued || m.Attempts != 1 || !strings.Contains(m.LastError, "452") {
		t.Fatalf("after a 452 to RCPT: %+v", m)
	}
}

// A message goes out byte for byte over either path, a line that starts
// with a dot and a bare line feed included (the slow path stuffs and
// repairs them, the fast one has nothing to do).
func TestMessageContentArrivesUnchanged(t *testing.T) {
	for _, offered := range []bool{true, false} {
		srv := smtptest.StartWith(t, smtptest.Options{NoPipelining: !offered})
		s, err := mail.NewSMTP(srv.URL(), "notrain.test")
		if err != nil {
			t.Fatal(err)
		}
		for i, tc := range []struct{ send, want string }{
			{"Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n", "Content-Type: text/plain\r\n\r\nline one\r\nline two\r\n"},
			{"Content-Type: text/plain\r\n\r\n.hidden\r\n..two\r\n.\r\n", "Content-Type: text/plain\r\n\r\n.hidden\r\n..two\r\n.\r\n"},
			{"Content-Type: text/plain\n\nno carriage return\n", "Content-Type: text/plain\r\n\r\nno carriage return\r\n"},
			{"Content-Type: text/plain\r\n\r\nlast line", "Content-Type: text/plain\r\n\r\nlast line\r\n"},
		} {
			to := fmt.Sprintf("p%d@example.org", i)
			if err := s.Send(ctx, "noreply@notrain.test", to, []byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if got := srv.WaitFor(t, 5*time.Second, smtptest.To(to)); string(got.Raw) != tc.want {
				t.Fatalf("pipelining offered=%v: sent %q, received %q", offered, tc.send, got.Raw)
			}
		}
		s.Close()
	}
}
