package mail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func sample() Message {
	return Message{
		From: "notrain <noreply@notrain.example>", To: "anna@example.de",
		Subject: "123456 ist Ihr Bestätigungscode", Text: "Ihr Code: 123456\n", HTML: "<p>Ihr Code: <b>123456</b></p>",
		Lang: "de", MessageID: "abc123@notrain.example", Date: time.Date(2026, 5, 1, 10, 2, 0, 0, time.UTC),
	}
}

func TestBuildParses(t *testing.T) {
	raw, err := Build(sample())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != "123456 ist Ihr Bestätigungscode" {
		t.Fatalf("subject = %q, %v", subj, err)
	}
	if got := msg.Header.Get("Message-ID"); got != "<abc123@notrain.example>" {
		t.Fatalf("Message-ID = %q", got)
	}
	texts := parts(t, msg)
	if !strings.Contains(texts["text/plain"], "Ihr Code: 123456") || !strings.Contains(texts["text/html"], "<b>123456</b>") {
		t.Fatalf("parts = %q", texts)
	}
}

func parts(t *testing.T, msg *mail.Message) map[string]string {
	t.Helper()
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = string(b)
	}
	return out
}

func TestBuildRefusesInjection(t *testing.T) {
	for name, mutate := range map[string]func(*Message){
		"to with newline":     func(m *Message) { m.To = "anna@example.de\r\nBcc: eve@evil.test" },
		"to with name":        func(m *Message) { m.To = "Eve <eve@evil.test>" },
		"from with newline":   func(m *Message) { m.From = "x@y.de\nBcc: eve@evil.test" },
		"message id newline":  func(m *Message) { m.MessageID = "a@b\r\nBcc: eve@evil.test" },
		"message id no at":    func(m *Message) { m.MessageID = "abc" },
		"lang with separator": func(m *Message) { m.Lang = "de\r\nX: y" },
	} {
		m := sample()
		mutate(&m)
		if _, err := Build(m); err == nil {
			t.Errorf("%s: Build accepted it", name)
		}
	}
	// A subject is free text: line breaks are neutralised, not refused.
	m := sample()
	m.Subject = "Hi\r\nBcc: eve@evil.test"
	raw, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Fatal("subject injected a Bcc header")
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("anna@example.de", "Betreff", "Text", "<p>x</p>", "de", "id@x.de")
	f.Add("a@b.de\r\nBcc: e@x.de", "S\nBcc: e@x.de", "", "", "en", "i@d")
	f.Fuzz(func(t *testing.T, to, subject, text, html, lang, msgID string) {
		m := Message{From: "notrain <noreply@notrain.example>", To: to, Subject: subject, Text: text, HTML: html,
			Lang: lang, MessageID: msgID, Date: time.Unix(0, 0)}
		raw, err := Build(m)
		if err != nil {
			return
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("built message does not parse: %v\n%q", err, raw)
		}
		allowed := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true,
			"Mime-Version": true, "Auto-Submitted": true, "X-Auto-Response-Suppress": true, "Content-Language": true, "Content-Type": true}
		for k, v := range msg.Header {
			if !allowed[k] || len(v) != 1 {
				t.Fatalf("unexpected header %q = %q from input %+v", k, v, m)
			}
		}
		rcpt, err := mail.ParseAddress(msg.Header.Get("To"))
		if err != nil {
			t.Fatalf("To does not parse: %v", err)
		}
		want, _ := mail.ParseAddress(to)
		if rcpt.Address != want.Address {
			t.Fatalf("To = %q, want %q", rcpt.Address, want.Address)
		}
	})
}

// Any subject arrives exactly as written (control characters become
// spaces), and only a plain word too long for a line makes one longer than
// 78 characters.
func FuzzSubjectArrivesExactly(f *testing.F) {
	for _, s := range []string{"", "123456 ist Ihr Bestätigungscode", "Ο κωδικός σας: 042917", "Вашият код: 042917", "Il-kodiċi tiegħek: 042917",
		" lead", "trail ", "two  spaces", "=?utf-8?q?x?=", "a\r\nBcc: x@y", strings.Repeat("x", 100), strings.Repeat("ħ", 60), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		m := sample()
		m.Subject = subject
		raw, err := Build(m)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%q: %v", subject, err)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if want := cleanHeaderText(subject); err != nil || got != want {
			t.Fatalf("subject %q arrived as %q (%v)", want, got, err)
		}
		for _, w := range strings.Fields(msg.Header.Get("Subject")) {
			if strings.HasPrefix(w, "=?") && (!strings.HasSuffix(w, "?=") || len(w) > maxEncodedWord) {
				t.Fatalf("encoded word %q: broken by a space or too long", w)
			}
		}
		head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		for _, line := range strings.Split(string(head), "\r\n") {
			// Only a plain word too long for any line may pass the limit.
			if len(line) > maxHeaderLine && strings.Contains(strings.TrimPrefix(strings.TrimPrefix(line, "Subject: "), " "), " ") {
				t.Fatalf("header line of %d characters: %q", len(line), line)
			}
		}
	})
}

// The headers every mail carries, as receivers' filters look at them.
func TestBuildHeaders(t *testing.T) {
	m := sample()
	raw, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for i, c := range head {
		if c > 0x7e || (c < 0x20 && c != '\r' && c != '\n') {
			t.Fatalf("header byte %d is %#x: headers must be ASCII\n%s", i, c, head)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	// Date in RFC 5322 form, the time the mail was made.
	if d, err := mail.ParseDate(h.Get("Date")); err != nil || !d.Equal(m.Date) {
		t.Errorf("Date %q parses as %v, %v; want %v", h.Get("Date"), d, err, m.Date)
	}
	if _, err := time.Parse(time.RFC1123Z, h.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	for k, want := range map[string]string{"Message-Id": "<abc123@notrain.example>", "Auto-Submitted": "auto-generated", "Mime-Version": "1.0",
		"From": `"notrain" <noreply@notrain.example>`, "To": "<anna@example.de>", "Content-Language": "de"} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// A non-ASCII subject is RFC 2047 encoded, in UTF-8.
	if s := h.Get("Subject"); !strings.HasPrefix(s, "=?utf-8?q?") || strings.Contains(s, "ä") {
		t.Errorf("Subject %q is not an RFC 2047 encoded word", s)
	}
	// The plain text first, then the HTML: a reader (and a filter) that
	// takes the first part it understands gets the text.
	ct, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || ct != "multipart/alternative" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	got := partTypes(t, msg.Body, params["boundary"])
	if want := []string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("parts %q, want %q", got, want)
	}
	// An ASCII subject stays as it is; a long one is split into encoded
	// words of at most 75 characters (RFC 2047 section 2).
	m.Subject = "Your code"
	if raw, _ = Build(m); !bytes.Contains(raw, []byte("\r\nSubject: Your code\r\n")) {
		t.Errorf("ASCII subject changed:\n%s", raw)
	}
	m.Subject = strings.Repeat("Widerspruch gegen die Nutzung für KI-Training bestätigt, ", 4)
	raw, _ = Build(m)
	msg, _ = mail.ReadMessage(bytes.NewReader(raw))
	for w := range strings.FieldsSeq(msg.Header.Get("Subject")) {
		if len(w) > 75 || !strings.HasPrefix(w, "=?utf-8?q?") {
			t.Errorf("encoded word %q", w)
		}
	}
	if s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || s != m.Subject {
		t.Errorf("long subject decodes as %q, %v", s, err)
	}
}

// With an attachment the mail is multipart/mixed, and its first part
// holds the alternatives, text first.
func TestBuildWithAttachmentKeepsTextFirst(t *testing.T) {
	m := sample()
	m.Attachments = []Attachment{{Name: "NT-1.tlog-proof", Data: []byte("proof\n")}}
	raw, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ct, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if ct != "multipart/mixed" {
		t.Fatalf("Content-Type %q", ct)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	alt, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	act, aparams, _ := mime.ParseMediaType(alt.Header.Get("Content-Type"))
	if act != "multipart/alternative" {
		t.Fatalf("first part %q", act)
	}
	if got := partTypes(t, alt, aparams["boundary"]); len(got) != 2 || !strings.HasPrefix(got[0], "text/plain") || !strings.HasPrefix(got[1], "text/html") {
		t.Fatalf("alternatives %q", got)
	}
}

// partTypes are the Content-Types of a multipart body's parts, in order.
func partTypes(t *testing.T, body io.Reader, boundary string) []string {
	t.Helper()
	var types []string
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return types
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type"))
	}
}

func TestSenderDomain(t *testing.T) {
	for in, want := range map[string]string{
		"notrain <noreply@Notrain.Example>": "notrain.example",
		"privacy@example.org":               "example.org",
		"Datenschutz <dsb@müller.de>":       "xn--mller-kva.de",
		`"a@b" <x@example.com>`:             "example.com",
	} {
		if got, err := SenderDomain(in); err != nil || got != want {
			t.Errorf("SenderDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "no address", "x@", "x@exa mple.com", "a@b.de\r\nBcc: e@x.de"} {
		if got, err := SenderDomain(in); err == nil {
			t.Errorf("SenderDomain(%q) = %q, accepted", in, got)
		}
	}
}
