package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"
)

// Sender delivers one built message.
type Sender interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// Prober is a Sender that can attempt a delivery without a message: it
// reaches the server and offers the recipient, then stops. The dispatcher
// uses it for placeholders, so their delivery state follows the mail
// server's exactly as a real mail's does.
type Prober interface {
	Probe(ctx context.Context, from, to string) error
}

// PermanentError marks a failure that retrying cannot fix (an SMTP 5xx reply).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a permanent delivery failure.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// SMTP delivers over SMTP: smtp://[user:pass@]host[:port] uses STARTTLS when
// the server offers it (add ?starttls=required to insist), smtps:// speaks
// TLS from the first byte. ?ca=FILE trusts the CA in that PEM file instead of
// the system's (for a relay with a private CA).
type SMTP struct {
	addr       string
	host       string
	implicit   bool
	requireTLS bool
	auth       smtp.Auth
	helo       string
	timeout    time.Duration
	tlsConfig  *tls.Config

	// idle holds open sessions for reuse: at thousands of mails a second a
	// TCP and TLS handshake per mail would cost more than the mail.
	idle chan *session
}

// session is an open SMTP connection ready for the next mail.
type session struct {
	c          *smtp.Client
	conn       net.Conn
	lastUsed   time.Time
	pipelining bool   // the server offers PIPELINING (RFC 2920)
	mailParams string // what MAIL FROM adds for this server (BODY=8BITMIME, SMTPUTF8)
	broken     bool   // out of step with the server: not to be reused
}

// maxIdle bounds pooled sessions; idleFor closes those unused for longer.
// The pool holds as many sessions as the dispatcher sends on at once
// (Loops x Workers by default): a smaller one closes a session after a
// mail only to open another for the next.
const (
	maxIdle = 16
	idleFor = 30 * time.Second
)

// NewSMTP parses an smtp:// or smtps:// URL.
func NewSMTP(rawURL, helo string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP URL: %w", err)
	}
	s := &SMTP{host: u.Hostname(), helo: helo, timeout: time.Minute}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("mail: SMTP URL must start with smtp:// or smtps://, not %q", u.Scheme)
	}
	if s.host == "" {
		return nil, errors.New("mail: SMTP URL has no host")
	}
	switch v := u.Query().Get("starttls"); v {
	case "", "auto":
	case "required":
		s.requireTLS = true
	default:
		return nil, fmt.Errorf("mail: starttls=%q: use auto or required", v)
	}
	s.addr = net.JoinHostPort(s.host, port)
	s.tlsConfig = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	if ca := u.Query().Get("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("mail: SMTP CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail: SMTP CA file %s holds no PEM certificate", ca)
		}
		s.tlsConfig.RootCAs = pool
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		// PlainAuth refuses to send the password unencrypted except to localhost.
		s.auth = smtp.PlainAuth("", u.User.Username(), pass, s.host)
	}
	if s.helo == "" {
		s.helo = "localhost"
	}
	s.idle = make(chan *session, maxIdle)
	return s, nil
}

// String describes the server without the password.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	return scheme + "://" + s.addr
}

// Send delivers msg to one recipient, on a pooled session when one is
// open. A pooled session that turns out dead before any of the mail was
// sent is replaced by a fresh one once; after that, errors count.
func (s *SMTP) Send(ctx context.Context, from, to string, msg []byte) error {
	return s.transact(ctx, func(ss *session) (bool, error) { return s.deliver(ss, from, to, msg) })
}

// Probe opens a mail transaction for to and resets it before DATA: the
// server is reached and the recipient offered exactly as for a real mail,
// so the attempt succeeds, fails for now or fails for good when a real
// mail would, but no message is handed over.
func (s *SMTP) Probe(ctx context.Context, from, to string) error {
	return s.transact(ctx, func(ss *session) (bool, error) {
		if ss.pipelining {
			failed, err := ss.pipeline([]string{ss.mailCommand(from), "RCPT TO:<" + to + ">", "RSET"}, []int{250, 25, 250})
			switch {
			case err == nil:
				return false, nil
			case failed == 2: // offered and accepted; only the reset failed
				ss.broken = true
				return false, nil
			default:
				return false, classify(envelopeSteps[max(failed, 0)], err)
			}
		}
		c := ss.c
		if err := c.Mail(from); err != nil {
			return false, classify("MAIL FROM", err)
		}
		if err := c.Rcpt(to); err != nil {
			c.Reset()
			return false, classify("RCPT TO", err)
		}
		if err := c.Reset(); err != nil {
			ss.broken = true
		}
		return false, nil
	})
}

// envelopeSteps name the commands of a pipelined envelope in errors.
var envelopeSteps = [...]string{"MAIL FROM", "RCPT TO", "DATA"}

// transact runs one transaction on a session, retrying once on a fresh
// session when a pooled one turns out dead before anything was sent.
func (s *SMTP) transact(ctx context.Context, run func(*session) (sent bool, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ss, pooled, err := s.session(ctx)
	if err != nil {
		return err
	}
	dl, _ := ctx.Deadline()
	ss.conn.SetDeadline(dl)
	sent, err := run(ss)
	if err != nil && pooled && !sent && !IsPermanent(err) {
		ss.c.Close()
		if ss, err = s.dial(ctx); err != nil {
			return err
		}
		ss.conn.SetDeadline(dl)
		_, err = run(ss)
	}
	if err != nil {
		ss.c.Close()
		return err
	}
	s.release(ss)
	return nil
}

// deliver runs one mail transaction; sent reports whether the message
// itself went out (after that, a failure must not be retried blindly).
func (s *SMTP) deliver(ss *session, from, to string, msg []byte) (sent bool, err error) {
	if ss.pipelining {
		return s.deliverPipelined(ss, from, to, msg)
	}
	c := ss.c
	if err := c.Mail(from); err != nil {
		return false, classify("MAIL FROM", err)
	}
	if err := c.Rcpt(to); err != nil {
		c.Reset()
		return false, classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return false, classify("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return true, classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return true, classify("end of DATA", err)
	}
	return true, nil
}

// deliverPipelined is deliver in two round trips: the envelope and DATA
// together, then the message. A refusal of MAIL or RCPT makes the server
// refuse DATA too (RFC 2920 3.1); should it accept DATA anyway, the session
// is closed mid-message, which the server discards.
func (s *SMTP) deliverPipelined(ss *session, from, to string, msg []byte) (sent bool, err error) {
	failed, err := ss.pipeline([]string{ss.mailCommand(from), "RCPT TO:<" + to + ">", "DATA"}, []int{250, 25, 354})
	if err != nil {
		return false, classify(envelopeSteps[max(failed, 0)], err)
	}
	if err := writeMessage(ss.c.Text, msg); err != nil {
		return true, classify("DATA", err)
	}
	if _, _, err := ss.c.Text.ReadResponse(250); err != nil {
		return true, classify("end of DATA", err)
	}
	return true, nil
}

// session takes an idle session or opens one; pooled reports which.
func (s *SMTP) session(ctx context.Context) (*session, bool, error) {
	for {
		select {
		case ss := <-s.idle:
			if time.Since(ss.lastUsed) < idleFor {
				return ss, true, nil
			}
			ss.c.Close()
			continue
		default:
		}
		ss, err := s.dial(ctx)
		return ss, false, err
	}
}

// release keeps a session after a good transaction if there is room. No
// RSET: a transaction ends with the end of its DATA (RFC 5321 4.1.1.4),
// and a probe resets its own.
func (s *SMTP) release(ss *session) {
	if ss.broken {
		ss.c.Close()
		return
	}
	ss.conn.SetDeadline(time.Time{})
	ss.lastUsed = time.Now()
	select {
	case s.idle <- ss:
	default:
		ss.c.Quit()
	}
}

// Close ends the pooled sessions.
func (s *SMTP) Close() {
	for {
		select {
		case ss := <-s.idle:
			ss.c.Quit()
		default:
			return
		}
	}
}

// dial opens a session: connect, greeting, EHLO, STARTTLS, AUTH.
func (s *SMTP) dial(ctx context.Context) (*session, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("mail: connect %s: %w", s.addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if s.implicit {
		conn = tls.Client(conn, s.tlsConfig)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return nil, classify("greeting", err)
	}
	fail := func(step string, err error) (*session, error) {
		c.Close()
		return nil, classify(step, err)
	}
	if err := c.Hello(s.helo); err != nil {
		return fail("HELO", err)
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig); err != nil {
				return fail("STARTTLS", err)
			}
		} else if s.requireTLS {
			c.Close()
			return nil, &PermanentError{Err: fmt.Errorf("mail: %s does not offer STARTTLS and starttls=required", s.addr)}
		}
	}
	if s.auth != nil {
		if err := c.Auth(s.auth); err != nil {
			return fail("AUTH", err)
		}
	}
	ss := &session{c: c, conn: conn, lastUsed: time.Now()}
	// Read after STARTTLS: the server's answer to the EHLO over TLS counts.
	ss.pipelining, _ = c.Extension("PIPELINING")
	if ok, _ := c.Extension("8BITMIME"); ok {
		ss.mailParams += " BODY=8BITMIME"
	}
	if ok, _ := c.Extension("SMTPUTF8"); ok {
		ss.mailParams += " SMTPUTF8"
	}
	return ss, nil
}

func classify(step string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 && tp.Code < 600 {
		return &PermanentError{Err: fmt.Errorf("mail: %s: %w", step, err)}
	}
	if err != nil && strings.Contains(err.Error(), "unencrypted connection") {
		return &PermanentError{Err: fmt.Errorf("mail: %s: %w", step, err)}
	}
	return fmt.Errorf("mail: %s: %w", step, err)
}
