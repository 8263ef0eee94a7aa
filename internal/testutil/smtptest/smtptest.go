// Package smtptest runs a real SMTP server on loopback for tests: it speaks
// the protocol over TCP (emersion/go-smtp), stores what it receives, and
// can be told to refuse mail temporarily or permanently.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	TLS     bool   // arrived over TLS
	User    string // authenticated user, if any
	From    string
	To      []string
	Raw     []byte
	Subject string
	Text    string
	HTML    string
	Header  mail.Header
	At      time.Time
	// Attachments are the parts sent as attachments, decoded.
	Attachments []Attachment
}

// Attachment is one attached file of a received message.
type Attachment struct {
	Name string // the Content-Disposition filename
	Type string // the Content-Type, verbatim
	Data []byte
}

// Server is a running test SMTP server.
type Server struct {
	Addr   string
	CAFile string // PEM of the server's certificate when it speaks TLS
	opt    Options

	mu        sync.Mutex
	refuse    func(rcpt string) bool // recipients answered with 550
	sessions  int
	received  int
	pipelined int
	msgs      []Message
	reject    *smtp.SMTPError
	notify    chan struct{}
	srv       *smtp.Server
	listener  net.Listener
}

// Options make the server offer TLS or require a login.
type Options struct {
	STARTTLS bool   // offer STARTTLS
	Implicit bool   // TLS from the first byte (smtps)
	User     string // require AUTH PLAIN with User and Pass
	Pass     string
	// Discard counts what arrives without parsing or keeping it, for
	// measuring a sender: a benchmark's mails would fill memory.
	Discard bool
	// NoPipelining hides PIPELINING (RFC 2920) from the EHLO reply, as
	// servers that do not offer it answer. Plain connections only: the
	// reply is rewritten on the wire.
	NoPipelining bool
}

// Start listens on a free loopback port; the server stops with the test.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith starts a server with TLS or AUTH; CAFile then names the PEM of
// the self-signed certificate it presents for "localhost".
func StartWith(t testing.TB, opt Options) *Server {
	t.Helper()
	s, err := listen("127.0.0.1:0", opt, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Listen starts a plain server on addr (for tools outside tests).
func Listen(addr string) (*Server, error) { return listen(addr, Options{}, "") }

// ListenWith starts a plain server on addr with opt (for tools outside
// tests); TLS needs StartWith, which has a directory for its certificate.
func ListenWith(addr string, opt Options) (*Server, error) {
	if opt.STARTTLS || opt.Implicit {
		return nil, errors.New("smtptest: ListenWith speaks plain SMTP only")
	}
	return listen(addr, opt, "")
}

func listen(addr string, opt Options, dir string) (*Server, error) {
	s := &Server{notify: make(chan struct{}, 1), opt: opt}
	s.srv = smtp.NewServer(&backend{s: s})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxRecipients = 10
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.EnableSMTPUTF8 = true
	// Clients that die mid-session (the crash tests kill them) are expected.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	if opt.STARTTLS || opt.Implicit {
		cfg, caFile, err := selfSigned(dir)
		if err != nil {
			return nil, err
		}
		s.srv.TLSConfig, s.CAFile = cfg, caFile
	}
	var l net.Listener
	var err error
	if opt.Implicit {
		l, err = tls.Listen("tcp", addr, s.srv.TLSConfig)
	} else {
		l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	s.listener = l
	s.Addr = l.Addr().String()
	go s.srv.Serve(&watchListener{Listener: l, s: s})
	return s, nil
}

// URL is the URL to configure notrain with: with TLS it names the host
// "localhost" (the certificate's name) and trusts the test CA.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	if s.opt.Implicit {
		u.Scheme = "smtps"
	}
	if s.opt.STARTTLS || s.opt.Implicit {
		_, port, _ := net.SplitHostPort(s.Addr)
		u.Host = "localhost:" + port
		u.RawQuery = url.Values{"ca": {s.CAFile}}.Encode()
	}
	if s.opt.User != "" {
		u.User = url.UserPassword(s.opt.User, s.opt.Pass)
	}
	return u.String()
}

// Close stops the server. The listener is closed here too: the server
// only learns of it once its Serve goroutine has started, and a test that
// closes a server at once and listens on the same address again must find
// the address free.
func (s *Server) Close() error {
	err := s.srv.Close()
	s.listener.Close()
	return err
}

// Reject makes the server answer RCPT TO with code (4xx: try later, 5xx:
// permanent); 0 accepts mail again.
func (s *Server) Reject(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		s.reject = nil
		return
	}
	s.reject = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "test server refuses"}
}

// RefuseRecipients answers RCPT TO with 550 (mailbox unavailable) for the
// recipients pred selects, as a real server does for an address that does
// not exist.
func (s *Server) RefuseRecipients(pred func(rcpt string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = pred
}

// Pipelined is how many times a client sent a command before the reply to
// the one before it (several commands in one read), on plain connections.
func (s *Server) Pipelined() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipelined
}

// Received is how many messages have arrived (kept or discarded).
func (s *Server) Received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

// Messages returns what has arrived so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until a message matching pred arrives and returns it.
func (s *Server) WaitFor(t testing.TB, timeout time.Duration, pred func(Message) bool) Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		for _, m := range s.Messages() {
			if pred(m) {
				return m
			}
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no matching mail within %s; received %d", timeout, len(s.Messages()))
		}
	}
}

// To matches messages to an address (case-insensitive).
func To(addr string) func(Message) bool {
	return func(m Message) bool {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				return true
			}
		}
		return false
	}
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// Code extracts the 6-digit code from a received mail's text part.
func (m Message) Code() string {
	if c := codeRE.FindStringSubmatch(m.Text); c != nil {
		return c[1]
	}
	return ""
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	b.s.sessions++
	b.s.mu.Unlock()
	return &session{s: b.s, conn: c}, nil
}

// Sessions is how many SMTP connections clients opened.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opt.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opt.User || pass != ss.s.opt.Pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opt.User != "" && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	rej, refuse := ss.s.reject, ss.s.refuse
	ss.s.mu.Unlock()
	if rej != nil {
		return rej
	}
	if refuse != nil && refuse(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if ss.s.opt.Discard {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		ss.s.mu.Lock()
		ss.s.received++
		ss.s.mu.Unlock()
		return nil
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := Message{From: ss.from, To: ss.to, Raw: raw, At: time.Now(), TLS: isTLS, User: ss.user}
	if err := m.parse(); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparseable message: " + err.Error()}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.received++
	ss.s.mu.Unlock()
	select {
	case ss.s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

// selfSigned makes a certificate for localhost and writes it to dir as PEM.
func selfSigned(dir string) (*tls.Config, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	caFile := filepath.Join(dir, "smtp-ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o644); err != nil {
		return nil, "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		return nil, "", err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, caFile, nil
}
func (ss *session) Logout() error { return nil }

// parse decodes headers and the text and HTML parts, as a mail client would.
func (m *Message) parse() error {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	ct, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(ct, "multipart/") {
		b, err := io.ReadAll(msg.Body)
		m.Text = string(b)
		return err
	}
	return m.parseMultipart(msg.Body, params["boundary"])
}

// parseMultipart walks nested multipart bodies: the first text and HTML
// parts are the bodies, parts marked as attachments are decoded into
// Attachments.
func (m *Message) parseMultipart(body io.Reader, boundary string) error {
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		pct, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(pct, "multipart/") {
			if err := m.parseMultipart(p, pparams["boundary"]); err != nil {
				return err
			}
			continue
		}
		var r io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if disp, dparams, err := mime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && disp == "attachment" {
			m.Attachments = append(m.Attachments, Attachment{Name: dparams["filename"], Type: p.Header.Get("Content-Type"), Data: b})
			continue
		}
		switch pct {
		case "text/plain":
			m.Text = string(b)
		case "text/html":
			m.HTML = string(b)
		}
	}
}

// watchListener hands the server connections that note pipelined commands
// and, with NoPipelining, take PIPELINING out of the EHLO reply.
type watchListener struct {
	net.Listener
	s *Server
}

func (l *watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if _, isTLS := c.(*tls.Conn); isTLS {
		return c, nil
	}
	return &watchConn{Conn: c, s: l.s}, nil
}

type watchConn struct {
	net.Conn
	s *Server
}

// Read notes a read that holds MAIL FROM and the RCPT TO after it: the
// client did not wait for the reply to MAIL. (A cheap test, as it runs on
// every read of a benchmark's mails.)
func (c *watchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if i := bytes.Index(p[:n], []byte("MAIL FROM:")); i >= 0 && (i == 0 || p[i-1] == '\n') && bytes.Contains(p[i:n], []byte("\r\nRCPT TO:")) {
		c.s.mu.Lock()
		c.s.pipelined++
		c.s.mu.Unlock()
	}
	return n, err
}

func (c *watchConn) Write(p []byte) (int, error) {
	if !c.s.opt.NoPipelining || !bytes.Contains(p, []byte("PIPELINING")) {
		return c.Conn.Write(p)
	}
	var out []byte
	for line := range bytes.Lines(p) {
		if !bytes.Equal(line, []byte("250-PIPELINING\r\n")) {
			out = append(out, line...)
		}
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
