package mail_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/mail/mailload"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

var ctx = context.Background()

func setup(t *testing.T) (*fixture.Fixture, *smtptest.Server, *mail.Dispatcher) {
	t.Helper()
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	srv := smtptest.Start(t)
	d := &mail.Dispatcher{Outbox: f.DB, Composer: f.Composer, Sender: newSMTP(t, srv.URL()), From: "notrain <noreply@notrain.test>", Now: f.Clock.Now,
		Log: fixture.Quiet(), Metrics: f.Metrics, BackoffBase: time.Minute, MaxAttempts: 4}
	return f, srv, d
}

// object asks for an objection code for email, in English.
func object(f *fixture.Fixture, email string) (objection.Started, error) {
	return f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: email, Lang: "en", Scope: objection.AllAccounts})
}

// newSMTP is the SMTP sender for url.
func newSMTP(t *testing.T, url string) mail.Sender {
	t.Helper()
	s, err := mail.NewSMTP(url, "notrain.test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func outbox(t *testing.T, f *fixture.Fixture, requestID string) store.Mail {
	t.Helper()
	m, err := f.DB.LatestMailFor(ctx, requestID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeliveryOverSMTP(t *testing.T) {
	f, srv, d := setup(t)
	st, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: "Jörg@Müller.de", Lang: "de", Scope: objection.AllAccounts})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	got := srv.WaitFor(t, 5*time.Second, smtptest.To("Jörg@xn--mller-kva.de"))
	if got.Subject != "Kein Konto verwendet diese Adresse" || got.HTML == "" || got.Header.Get("Content-Language") != "de" {
		t.Fatalf("received %q (html %d bytes, lang %q)", got.Subject, len(got.HTML), got.Header.Get("Content-Language"))
	}
	m := outbox(t, f, st.RequestID)
	if m.Status != store.MailSent || got.Header.Get("Message-Id") != "<"+m.MessageID+">" {
		t.Fatalf("outbox %+v, Message-Id %q", m, got.Header.Get("Message-Id"))
	}
	// A delivered mail's body does not stay in the database.
	if m.Text != "" || m.HTML != "" {
		t.Fatal("delivered mail body kept in the outbox")
	}
}

func TestTemporaryFailureIsRetriedWithBackoff(t *testing.T) {
	f, srv, d := setup(t)
	st, err := object(f, "anna@example.de")
	if err != nil {
		t.Fatal(err)
	}
	srv.Reject(451)
	d.RunOnce(ctx)
	m := outbox(t, f, st.RequestID)
	if m.Status != store.MailQueued || m.Attempts != 1 || !strings.Contains(m.LastError, "451") {
		t.Fatalf("after a 451: %+v", m)
	}
	delay := m.NextAttemptAt.Sub(f.Clock.Now())
	if delay < 48*time.Second || delay > 72*time.Second {
		t.Fatalf("first retry in %s, want about a minute", delay)
	}
	// Not due yet: nothing is attempted.
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Fatalf("attempted %d mails before they were due", n)
	}
	srv.Reject(0)
	f.Clock.Advance(2 * time.Minute)
	if n, _ := d.RunOnce(ctx); n != 1 {
		t.Fatalf("attempted %d after the delay", n)
	}
	got := srv.WaitFor(t, 5*time.Second, smtptest.To("anna@example.de"))
	if got.Code() == "" {
		t.Fatal("received mail carries no code")
	}
	if m := outbox(t, f, st.RequestID); m.Status != store.MailSent || m.Attempts != 2 {
		t.Fatalf("after retry: %+v", m)
	}
	if f.Counter(t, "notrain_mail_delivery_failures_total", map[string]string{"type": "temporary"}) != 1 {
		t.Fatal("temporary failure not counted")
	}
}

func TestPermanentFailureIsAbandonedAndCounted(t *testing.T) {
	f, srv, d := setup(t)
	st, err := object(f, "anna@example.de")
	if err != nil {
		t.Fatal(err)
	}
	srv.Reject(550)
	d.RunOnce(ctx)
	if m := outbox(t, f, st.RequestID); m.Status != store.MailAbandoned || m.Attempts != 1 {
		t.Fatalf("after a 550: %+v", m)
	}
	if f.Counter(t, "notrain_mail_abandoned_total", nil) != 1 || f.Counter(t, "notrain_mail_delivery_failures_total", map[string]string{"type": "permanent"}) != 1 {
		t.Fatal("permanent failure not counted")
	}
	// The person sees that delivery failed.
	v, err := f.Svc.View(ctx, objection.FlowObjection, st.RequestID)
	if err != nil || v.MailState != objection.MailFailed {
		t.Fatalf("view = %+v, %v", v, err)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	f, srv, d := setup(t)
	st, _ := object(f, "anna@example.de")
	srv.Reject(421)
	for range d.MaxAttempts {
		d.RunOnce(ctx)
		f.Clock.Advance(24 * time.Hour)
	}
	if m := outbox(t, f, st.RequestID); m.Status != store.MailAbandoned || m.Attempts != d.MaxAttempts {
		t.Fatalf("after %d temporary failures: %+v", d.MaxAttempts, m)
	}
}

func TestUnreachableServerIsTemporary(t *testing.T) {
	f, srv, d := setup(t)
	st, _ := object(f, "anna@example.de")
	srv.Close()
	d.RunOnce(ctx)
	if m := outbox(t, f, st.RequestID); m.Status != store.MailQueued || m.Attempts != 1 {
		t.Fatalf("with the server down: %+v", m)
	}
}

func TestSMTPURL(t *testing.T) {
	for _, bad := range []string{"http://x", "smtp://", "smtp://host?starttls=maybe", "smtp ://x"} {
		if _, err := mail.NewSMTP(bad, ""); err == nil {
			t.Errorf("NewSMTP(%q) accepted", bad)
		}
	}
	s, err := mail.NewSMTP("smtps://user:secret@mail.example.com", "")
	if err != nil || s.String() != "smtps://mail.example.com:465" || strings.Contains(s.String(), "secret") {
		t.Fatalf("NewSMTP = %v, %v", s, err)
	}
}

// TLS and login: STARTTLS when offered, smtps from the first byte, AUTH
// PLAIN only over TLS, with the server's certificate checked.
func TestSMTPWithTLSAndLogin(t *testing.T) {
	for name, opt := range map[string]smtptest.Options{
		"starttls":          {STARTTLS: true},
		"starttls and auth": {STARTTLS: true, User: "notrain", Pass: "s3cret:/@"},
		"smtps and auth":    {Implicit: true, User: "notrain", Pass: "s3cret"},
	} {
		t.Run(name, func(t *testing.T) {
			f, _, d := setup(t)
			srv := smtptest.StartWith(t, opt)
			d.Sender = newSMTP(t, srv.URL())
			if _, err := object(f, "anna@example.de"); err != nil {
				t.Fatal(err)
			}
			d.RunOnce(ctx)
			m := srv.WaitFor(t, 5*time.Second, smtptest.To("anna@example.de"))
			if !m.TLS || m.User != opt.User || m.Code() == "" {
				t.Fatalf("received: tls=%v user=%q code=%q", m.TLS, m.User, m.Code())
			}
		})
	}
	t.Run("wrong password is permanent", func(t *testing.T) {
		f, _, d := setup(t)
		srv := smtptest.StartWith(t, smtptest.Options{STARTTLS: true, User: "notrain", Pass: "right"})
		d.Sender = newSMTP(t, strings.Replace(srv.URL(), "right", "wrong", 1))
		st, _ := object(f, "anna@example.de")
		d.RunOnce(ctx)
		if m := outbox(t, f, st.RequestID); m.Status != store.MailAbandoned || !strings.Contains(m.LastError, "535") {
			t.Fatalf("outbox: %+v", m)
		}
	})
	t.Run("untrusted certificate is not accepted", func(t *testing.T) {
		f, _, d := setup(t)
		srv := smtptest.StartWith(t, smtptest.Options{STARTTLS: true})
		d.Sender = newSMTP(t, "smtp://"+strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1))
		object(f, "anna@example.de")
		d.RunOnce(ctx)
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d mails went to a server with an untrusted certificate", n)
		}
	})
}

func TestStartTLSRequiredRefusesPlainServer(t *testing.T) {
	f, srv, d := setup(t)
	d.Sender = newSMTP(t, srv.URL()+"?starttls=required")
	st, _ := object(f, "anna@example.de")
	d.RunOnce(ctx)
	if m := outbox(t, f, st.RequestID); m.Status != store.MailAbandoned || len(srv.Messages()) != 0 {
		t.Fatalf("mail went out without TLS: %+v", m)
	}
}

func TestComposerRendersEveryMailInEveryLanguage(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	for _, lang := range f.Cat.Languages() {
		subj, text, html, err := f.Composer.Compose(mail.KindObjectionConfirmed, lang, mail.Data{Reference: "NT-1234-5678-9ABC",
			At: fixture.Start, Accounts: []mail.AccountLine{{Product: "instagram", Handle: "<b>x</b>"}}, ThirdPartyExcluded: true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(subj, "NT-1234-5678-9ABC") || !strings.Contains(text, "Instagram (<b>x</b>)") || !strings.Contains(html, "Instagram (&lt;b&gt;x&lt;/b&gt;)") {
			t.Fatalf("%s: %q\n%s\n%s", lang, subj, text, html)
		}
	}
}

// Sessions are reused: many mails go over a few connections, and a pooled
// connection the server dropped is replaced without losing the mail.
func TestSMTPSessionsAreReused(t *testing.T) {
	f, srv, d := setup(t)
	for i := range 12 {
		f.Clock.Advance(25 * time.Hour) // past the per-address limits
		if _, err := object(f, "anna@example.de"); err != nil {
			t.Fatal(err, i)
		}
		d.RunOnce(ctx)
	}
	if n := len(srv.Messages()); n != 12 {
		t.Fatalf("%d mails arrived, want 12", n)
	}
	if s := srv.Sessions(); s > d.Workers {
		t.Fatalf("%d SMTP sessions for 12 mails", s)
	}
	// The server goes away and comes back: pooled sessions are dead.
	addr := srv.Addr
	srv.Close()
	back, err := smtptest.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	f.Clock.Advance(25 * time.Hour)
	object(f, "anna@example.de")
	d.RunOnce(ctx)
	if n := len(back.Messages()); n != 1 {
		t.Fatalf("after the server restarted %d mails arrived, want 1", n)
	}
}

// When mail backs up, codes go out before confirmations.
func TestCodesBeforeConfirmations(t *testing.T) {
	f, srv, d := setup(t)
	st, _ := object(f, "anna@example.de")
	d.RunOnce(ctx)
	code := srv.WaitFor(t, 5*time.Second, smtptest.To("anna@example.de")).Code()
	if _, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code); err != nil { // queues a confirmation
		t.Fatal(err)
	}
	f.Clock.Advance(time.Second)
	object(f, "ben@example.com")
	d.Batch = 1
	d.RunOnce(ctx)
	msgs := srv.Messages()
	if last := msgs[len(msgs)-1]; last.To[0] != "ben@example.com" || last.Code() == "" {
		t.Fatalf("the older confirmation went before the newer code: %q to %v", last.Subject, last.To)
	}
}

// slowSender delivers over real SMTP after a pause, like a relay that
// takes its time with every mail.
type slowSender struct {
	mail.Sender
	pause time.Duration
}

func (s slowSender) Send(ctx context.Context, from, to string, msg []byte) error {
	select {
	case <-time.After(s.pause):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Sender.Send(ctx, from, to, msg)
}

// A batch never outlives its lease: once the lease is about to end another
// instance may claim the same mails, so sending what is left then would
// deliver it twice. What was not started is released untouched.
func TestBatchStaysWithinItsLease(t *testing.T) {
	f, srv, d := setup(t)
	const n = 8
	for i := range n {
		if _, err := object(f, fmt.Sprintf("nobody%d@example.org", i)); err != nil {
			t.Fatal(err)
		}
	}
	d.Sender = slowSender{Sender: d.Sender, pause: 200 * time.Millisecond}
	d.Workers, d.Lease = 1, time.Second // 0.5 s to send, 0.5 s kept for recording
	start := time.Now()
	if got, err := d.RunOnce(ctx); err != nil || got != n {
		t.Fatalf("RunOnce = %d, %v; want all %d claimed", got, err, n)
	}
	if took := time.Since(start); took >= d.Lease {
		t.Fatalf("the batch took %s, longer than its lease", took)
	}
	sent := len(srv.Messages())
	if sent >= n-4 {
		t.Fatalf("%d of %d mails sent in half a second at 200 ms each", sent, n)
	}
	mails, err := f.DB.Mails(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	untouched := 0
	for _, m := range mails {
		if m.Status == store.MailQueued && m.Attempts == 0 {
			untouched++
		}
	}
	if untouched < 4 {
		t.Fatalf("%d mails left untouched, want the ≥ 4 never started: %+v", untouched, mails)
	}
	// Released, not leased: the next run takes them at once, same clock.
	d.Sender = slowSender{Sender: d.Sender.(slowSender).Sender}
	if got, _ := d.RunOnce(ctx); got < untouched {
		t.Fatalf("next run claimed %d, want the %d released ones", got, untouched)
	}
	f.Clock.Advance(2 * time.Minute) // past the backoff of one cut off mid-send
	d.RunOnce(ctx)
	seen := map[string]int{}
	for _, m := range srv.Messages() {
		seen[m.To[0]]++
	}
	for i := range n {
		if to := fmt.Sprintf("nobody%d@example.org", i); seen[to] != 1 {
			t.Fatalf("%s got %d mails, want exactly 1 (%v)", to, seen[to], seen)
		}
	}
}

// A placeholder (an unknown address whose daily notice went out already)
// takes the same delivery attempts as a code: it reaches the server and
// offers the recipient, so a refusal, a 451 and a success show the same
// state as for a code mail; the server never receives a message for it.
func TestPlaceholderTakesTheSameDeliveryStates(t *testing.T) {
	for _, tc := range []struct {
		reject int
		want   string
	}{{0, store.MailSent}, {451, store.MailQueued}, {550, store.MailAbandoned}} {
		t.Run(fmt.Sprint(tc.reject), func(t *testing.T) {
			f, srv, d := setup(t)
			if _, err := object(f, "nobody@example.de"); err != nil {
				t.Fatal(err)
			}
			d.RunOnce(ctx) // the day's notice
			before := len(srv.Messages())
			srv.Reject(tc.reject)
			known, err := object(f, "anna@example.de")
			if err != nil {
				t.Fatal(err)
			}
			unknown, err := object(f, "nobody@example.de")
			if err != nil {
				t.Fatal(err)
			}
			if n, err := d.RunOnce(ctx); err != nil || n != 2 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			k, u := outbox(t, f, known.RequestID), outbox(t, f, unknown.RequestID)
			if u.Kind != mail.KindSuppressed {
				t.Fatalf("the unknown address's second request queued %s, not a placeholder", u.Kind)
			}
			if k.Status != tc.want || u.Status != tc.want || k.Attempts != u.Attempts {
				t.Fatalf("code %s/%d, placeholder %s/%d; want both %s", k.Status, k.Attempts, u.Status, u.Attempts, tc.want)
			}
			for _, m := range srv.Messages()[before:] {
				if strings.EqualFold(m.To[0], "nobody@example.de") {
					t.Fatal("the placeholder handed a message to the server")
				}
			}
		})
	}
}

// reversedOutbox leases from a real store but hands the batch over in the
// opposite order, as a store whose lease does not sort would.
type reversedOutbox struct{ mail.Outbox }

func (o reversedOutbox) LeaseMails(ctx context.Context, now, until time.Time, limit int) ([]store.Mail, error) {
	ms, err := o.Outbox.LeaseMails(ctx, now, until, limit)
	slices.Reverse(ms)
	return ms, err
}

// Within a batch that holds both, every code goes out before any
// confirmation, whatever order the lease returned them in.
func TestBatchSendsCodesFirst(t *testing.T) {
	for name, wrap := range map[string]func(mail.Outbox) mail.Outbox{
		"as leased": func(o mail.Outbox) mail.Outbox { return o },
		"reversed":  func(o mail.Outbox) mail.Outbox { return reversedOutbox{o} },
	} {
		t.Run(name, func(t *testing.T) {
			f, srv, d := setup(t)
			if err := mailload.Queue(ctx, f.DB, mailload.Load{Codes: 10, Confirmations: 10}, f.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			d.Outbox, d.Workers = wrap(d.Outbox), 1 // one at a time: arrival order is send order
			if n, err := d.RunOnce(ctx); err != nil || n != 20 {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			msgs := srv.Messages()
			if len(msgs) != 20 {
				t.Fatalf("%d mails arrived, want 20", len(msgs))
			}
			for i, m := range msgs {
				if isCode := m.Code() != ""; isCode != (i < 10) {
					t.Fatalf("mail %d of 20 is %q", i+1, m.Subject)
				}
			}
		})
	}
}
