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
		head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		for _, line := range strings.Split(string(head), "\r\n") {
			// Only a plain word too long for any line may pass the limit.
			if len(line) > maxHeaderLine && strings.Contains(strings.TrimPrefix(strings.TrimPrefix(line, "Subject: "), " "), " ") {
				t.Fatalf("header line of %d characters: %q", len(line), line)
			}
		}
	})
}
