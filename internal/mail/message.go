// Package mail builds notrain's transactional mails, keeps them in the
// outbox and delivers them: over SMTP in production, into the dev mailbox
// otherwise.
package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Message is a composed mail, ready to be stored or built.
type Message struct {
	From      string // "Name <addr>" or "addr"
	To        string // a bare address
	Subject   string
	Text      string
	HTML      string
	Lang      string
	MessageID string // without angle brackets: "id@domain"
	Date      time.Time
	// Attachments follow the text and HTML alternatives in a
	// multipart/mixed message; none keeps it multipart/alternative.
	Attachments []Attachment
}

// Attachment is a text file a mail carries, sent base64-encoded so its
// bytes (line ends included) arrive unchanged: a receipt checks byte for byte.
type Attachment struct {
	Name string // a file name of letters, digits, '-', '_' and '.'
	Data []byte
}

// ErrHeader is returned when a value cannot go into a header safely.
var ErrHeader = errors.New("mail: unsafe header value")

// Build renders m as an RFC 5322 message with a text and an HTML part.
// Every header value is checked or encoded so no input can add a header.
func Build(m Message) ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil || hasLineBreak(m.From) {
		return nil, fmt.Errorf("%w: From %q", ErrHeader, m.From)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil || hasLineBreak(m.To) || to.Name != "" {
		return nil, fmt.Errorf("%w: To %q", ErrHeader, m.To)
	}
	if !validMessageID(m.MessageID) {
		return nil, fmt.Errorf("%w: Message-ID %q", ErrHeader, m.MessageID)
	}
	if m.Lang != "" && !isToken(m.Lang) {
		return nil, fmt.Errorf("%w: language %q", ErrHeader, m.Lang)
	}
	for _, a := range m.Attachments {
		if !safeFileName(a.Name) {
			return nil, fmt.Errorf("%w: attachment name %q", ErrHeader, a.Name)
		}
	}
	var buf bytes.Buffer
	// Room for the headers, both parts quoted-printable (a few per cent
	// larger) and the attachments in base64, so the buffer grows once.
	size := 2048 + (len(m.Text)+len(m.HTML))*11/10
	for _, a := range m.Attachments {
		size += len(a.Data)*4/3 + len(a.Data)/38 + 256
	}
	buf.Grow(size)
	mw := multipart.NewWriter(&buf)
	h := func(k, v string) { buf.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String())
	h("To", "<"+to.Address+">")
	h("Subject", subjectHeader(m.Subject))
	h("Date", m.Date.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+m.MessageID+">")
	h("MIME-Version", "1.0")
	// Tell mail systems and auto-responders this is transactional, not bulk.
	h("Auto-Submitted", "auto-generated")
	h("X-Auto-Response-Suppress", "All")
	if m.Lang != "" {
		h("Content-Language", m.Lang)
	}
	var mixed *multipart.Writer
	if len(m.Attachments) > 0 {
		mixed = mw
		h("Content-Type", "multipart/mixed;\r\n boundary=\""+mixed.Boundary()+`"`)
		buf.WriteString("\r\n")
		alt := multipart.NewWriter(nil)
		pw, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {`multipart/alternative; boundary="` + alt.Boundary() + `"`}})
		if err != nil {
			return nil, fmt.Errorf("mail: build: %w", err)
		}
		mw = multipart.NewWriter(pw)
		if err := mw.SetBoundary(alt.Boundary()); err != nil {
			return nil, fmt.Errorf("mail: build: %w", err)
		}
	} else {
		h("Content-Type", "multipart/alternative;\r\n boundary=\""+mw.Boundary()+`"`)
		buf.WriteString("\r\n")
	}
	for _, part := range []struct{ ctype, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: build: %w", err)
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(crlf(part.body))); err != nil {
			return nil, fmt.Errorf("mail: build: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("mail: build: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("mail: build: %w", err)
	}
	if mixed == nil {
		return buf.Bytes(), nil
	}
	for _, a := range m.Attachments {
		pw, err := mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {`text/plain; charset=utf-8; name="` + a.Name + `"`},
			"Content-Disposition":       {`attachment; filename="` + a.Name + `"`},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: build: %w", err)
		}
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			io.WriteString(pw, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		io.WriteString(pw, enc+"\r\n")
	}
	if err := mixed.Close(); err != nil {
		return nil, fmt.Errorf("mail: build: %w", err)
	}
	return buf.Bytes(), nil
}

// safeFileName keeps an attachment's name a plain token that needs no
// quoting or encoding in a header.
func safeFileName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return s != "" && s[0] != '.'
}

// maxHeaderLine is the line length RFC 5322 (2.1.1) asks headers to keep;
// maxEncodedWord the longest encoded word RFC 2047 (2) allows.
const (
	maxHeaderLine  = 78
	maxEncodedWord = 75
)

// subjectHeader is the Subject header's value. Printable ASCII stays as
// it is, folded at spaces. Any other text becomes RFC 2047 encoded words,
// in B or Q encoding, whichever is shorter (Q triples every byte of Greek
// or Cyrillic, B adds a third), each word whole characters and one to a
// line, so no line of the header passes 78 characters. A reader unfolds
// the lines and drops the space between encoded words: the subject
// arrives exactly as written. (mime.WordEncoder splits whole characters
// too, but writes all its words on one line and never picks the shorter
// encoding: a Greek subject then ran past 78 characters.)
func subjectHeader(subject string) string {
	s := cleanHeaderText(subject)
	// Spaces a reader would fold away (leading, trailing, doubled) keep
	// the text exact only inside encoded words.
	if isPrintableASCII(strings.ReplaceAll(s, " ", "")) && !strings.Contains(s, "=?") && !strings.Contains(s, "  ") && strings.TrimSpace(s) == s {
		return foldWords(strings.Split(s, " "), maxHeaderLine-len("Subject: "))
	}
	b := len(encodeB(s)) < len(encodeQ(s))
	enc := encodeQ
	if b {
		enc = encodeB
	}
	// wordLen is the length of the encoded word of n bytes, q of which
	// Q encoding writes as they are.
	wordLen := func(n, q int) int {
		if b {
			return len("=?utf-8?b??=") + (n+2)/3*4
		}
		return len("=?utf-8?q??=") + q + 3*(n-q)
	}
	var words []string
	budget := maxHeaderLine - len("Subject: ")
	for s != "" {
		// The longest run of whole characters whose word fits the line;
		// at least one character.
		n, q := 0, 0
		for i := 0; i < len(s); {
			_, size := utf8.DecodeRuneInString(s[i:])
			plain := 0
			if size == 1 && qPlain(s[i]) {
				plain = 1
			}
			if i > 0 && wordLen(i+size, q+plain) > budget {
				break
			}
			n, q = i+size, q+plain
			i += size
		}
		words = append(words, enc(s[:n]))
		s = s[n:]
		// A continuation line has room for 77, an encoded word may
		// have 75 (RFC 2047, 2).
		budget = maxEncodedWord
	}
	return strings.Join(words, "\r\n ")
}

// foldWords joins words with spaces, breaking the line before a word that
// would pass maxHeaderLine; first is the room on the first line.
func foldWords(words []string, first int) string {
	var out strings.Builder
	line := maxHeaderLine - first
	for i, w := range words {
		if i > 0 {
			if line+1+len(w) > maxHeaderLine {
				out.WriteString("\r\n")
				line = 0
			}
			out.WriteByte(' ')
			line++
		}
		out.WriteString(w)
		line += len(w)
	}
	return out.String()
}

// encodeB is one RFC 2047 encoded word of s in B (base64) encoding.
func encodeB(s string) string {
	return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// encodeQ is one RFC 2047 encoded word of s in Q encoding; only letters,
// digits and the few marks RFC 2047 (5.3) allows everywhere stay as they are.
func encodeQ(s string) string {
	const hex = "0123456789ABCDEF"
	b := []byte("=?utf-8?q?")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b = append(b, '_')
		case qPlain(c):
			b = append(b, c)
		default:
			b = append(b, '=', hex[c>>4], hex[c&15])
		}
	}
	return string(append(b, "?="...))
}

// qPlain reports whether Q encoding writes c as it is (a space becomes
// "_", one character too).
func qPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || strings.IndexByte("!*+-/", c) >= 0
}

// SenderDomain is the domain of a From address as DNS spells it (lower
// case, an internationalised name as xn--…): the right-hand side of the
// Message-IDs, and the domain DKIM signs for, so that both match the From
// a receiver shows (DMARC's alignment).
func SenderDomain(from string) (string, error) {
	a, err := mail.ParseAddress(from)
	if err != nil || hasLineBreak(from) {
		return "", fmt.Errorf("%w: From %q", ErrHeader, from)
	}
	_, domain, _ := cutLast(a.Address, "@")
	d, err := idna.Lookup.ToASCII(domain)
	if err != nil || d == "" || !isPrintableASCII(d) || strings.ContainsAny(d, "<>\"[]") {
		return "", fmt.Errorf("%w: From %q has no usable domain", ErrHeader, from)
	}
	return strings.ToLower(d), nil
}

// cutLast is strings.Cut at the last sep: an address's local part may
// hold an @ in quotes, its domain never.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }

// cleanHeaderText turns control characters (line breaks above all) into
// spaces: an encoded word may not contain them and a raw one would end the header.
func cleanHeaderText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func validMessageID(id string) bool {
	l, r, ok := strings.Cut(id, "@")
	return ok && l != "" && r != "" && !strings.ContainsAny(id, "<>\r\n \t\"()[]\\,;:") && isPrintableASCII(id)
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != ""
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// crlf normalises line ends to CRLF, as SMTP requires.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}
