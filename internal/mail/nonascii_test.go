package mail_test

import (
	"bytes"
	"context"
	"mime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// Subjects and bodies in Greek, Bulgarian and Maltese (and the mixes a
// catalog makes: a code, a reference, typographic marks) arrive at a real
// SMTP server exactly as written; every header line stays within 78
// characters, and no character is split across encoded words.
func TestNonASCIIMailArrivesExactly(t *testing.T) {
	srv := smtptest.Start(t)
	sender, err := mail.NewSMTP(srv.URL(), "notrain.test")
	if err != nil {
		t.Fatal(err)
	}
	long := "Ο κωδικός επιβεβαίωσής σας για την εναντίωση στην εκπαίδευση τεχνητής νοημοσύνης είναι 042917 — ισχύει για 15 λεπτά"
	cases := []struct{ lang, subject, text string }{
		{"el", "Ο κωδικός σας: 042917", "Καλημέρα! Ο κωδικός σας είναι 042917.\nΑντίρρηση βάσει του άρθρου 21 ΓΚΠΔ."},
		{"el", long, strings.Repeat("Ελληνικό κείμενο με τόνους: ά έ ή ί ό ύ ώ ΐ ΰ. ", 12)},
		{"bg", "Вашият код за потвърждение: 042917", "Възражение по член 21 от ОРЗД.\nЩе получите потвърждение с номер NT-1234-5678-9ABC."},
		{"bg", strings.Repeat("Възражение срещу обучение на изкуствен интелект ", 4) + "NT-1234-5678-9ABC", strings.Repeat("Ъгъл, щъркел, юни, ябълка. ", 30)},
		{"mt", "Il-kodiċi tiegħek: 042917", "Oġġezzjoni skont l-Artikolu 21 tal-GDPR.\nĦ ħ Ġ ġ Ċ ċ Ż ż — għandek 15-il minuta."},
		{"mt", "Ir-referenza tiegħek NT-1234-5678-9ABC: l-oġġezzjoni ġiet aċċettata u hija fis-seħħ mil-lum", "ħ"},
		{"en", "123456 is your confirmation code", "plain ASCII stays plain"},
		{"en", strings.Repeat("word ", 30) + "end", "a long ASCII subject is folded, not cut"},
		{"de", "„Widerspruch“ – Ihr Code: 042917 (gültig bis 02.01.2026, 15:04)", "Grüße"},
		// Mostly ASCII: Q encoding, spaces and all.
		{"de", "Ihr Widerspruch ist wirksam, Ihre Referenz lautet NT-1234-5678-9ABC und gilt für alle Konten", "Grüße"},
		{"mt", "Il-kunsens tiegħek huwa fis-seħħ u r-referenza hija NT-1234-5678-9ABC", "ħ"},
	}
	for i, c := range cases {
		to := "person" + string(rune('a'+i)) + "@example.org"
		raw, err := mail.Build(mail.Message{From: "notrain <noreply@notrain.example>", To: to, Subject: c.subject, Text: c.text,
			HTML: "<p>" + c.text + "</p>", Lang: c.lang, MessageID: "m" + string(rune('a'+i)) + "@notrain.example", Date: time.Now()})
		if err != nil {
			t.Fatalf("%s: %v", c.subject, err)
		}
		if err := sender.Send(context.Background(), "noreply@notrain.example", to, raw); err != nil {
			t.Fatal(err)
		}
		m := srv.WaitFor(t, 5*time.Second, smtptest.To(to))
		if !strings.Contains(m.Header.Get("Subject"), "=?") && !isASCII(c.subject) {
			t.Errorf("%q was sent unencoded", c.subject)
		}
		for _, w := range strings.Fields(m.Header.Get("Subject")) {
			if strings.HasPrefix(w, "=?") != strings.HasSuffix(w, "?=") {
				t.Errorf("%q: an encoded word broken by a space: %q", c.subject, m.Header.Get("Subject"))
				break
			}
		}
		if m.Subject != c.subject {
			t.Errorf("subject arrived as %q, want %q", m.Subject, c.subject)
		}
		if got := strings.TrimRight(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n"); got != c.text {
			t.Errorf("%s: text arrived as %q, want %q", c.lang, got, c.text)
		}
		if got := m.Header.Get("Content-Language"); got != c.lang {
			t.Errorf("Content-Language = %q, want %q", got, c.lang)
		}
		head, _, _ := bytes.Cut(m.Raw, []byte("\r\n\r\n"))
		for _, line := range strings.Split(string(head), "\r\n") {
			if len(line) > 78 {
				t.Errorf("%s: header line of %d characters: %q", c.lang, len(line), line)
			}
			for _, r := range line {
				if r > 0x7e {
					t.Errorf("%s: raw non-ASCII in a header: %q", c.lang, line)
					break
				}
			}
		}
		// Each encoded word decodes on its own to whole characters: a
		// reader that decodes word by word shows no broken character.
		for _, w := range strings.Fields(m.Header.Get("Subject")) {
			if !strings.HasPrefix(w, "=?") {
				continue
			}
			s, err := wordDecoder.DecodeHeader(w)
			if err != nil || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
				t.Errorf("%s: encoded word %q decodes to %q (%v)", c.lang, w, s, err)
			}
		}
	}
}

var wordDecoder = new(mime.WordDecoder)

// Every mail, in every language, gives its times in the language's layout
// and its counts by the language's rules, and never says how far the
// catalog is reviewed.
func TestMailsUseTheLanguagesFormats(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := mail.NewComposer(cat, mail.ComposerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 19, 48, 0, 0, time.UTC)
	d := mail.Data{Flow: "withdrawal", Code: "042917", ExpiresAt: at, At: at, Reference: "NT-1234-5678-9ABC", Ended: 12345,
		Accounts: []mail.AccountLine{{Product: "facebook", Handle: "άννα"}}, BaseURL: "https://notrain.example", Items: []string{"fb:1"},
		ProductsEnded: []string{"instagram"}, ProductsKept: []string{"facebook"}}
	for _, lang := range cat.Languages() {
		for _, kind := range []string{mail.KindCode, mail.KindObjectionConfirmed, mail.KindWithdrawalConfirmed, mail.KindReportReceived,
			mail.KindReportApproved, mail.KindReportRejected, mail.KindConsentGiven, mail.KindConsentWithdrawn} {
			subject, text, html, err := c.Compose(kind, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if when := cat.DateTime(lang, at); !strings.Contains(text, when) || !strings.Contains(html, when) {
				t.Errorf("%s %s: no %q (layout %q) in\n%s", lang, kind, when, cat.T(lang, locale.LayoutKey), text)
			}
			if lang != locale.Default {
				for _, status := range []string{locale.ReviewMachine, locale.ReviewReviewed} {
					if strings.Contains(subject+text+html, status) {
						t.Errorf("%s %s mentions the review status %q", lang, kind, status)
					}
				}
			}
		}
		_, text, _, err := c.Compose(mail.KindWithdrawalConfirmed, lang, d)
		if err != nil {
			t.Fatal(err)
		}
		if n := cat.Number(lang, 12345); !strings.Contains(text, cat.T(lang, "withdraw_ended_many", "n", n)) {
			t.Errorf("%s: the count is not %q:\n%s", lang, n, text)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7e {
			return false
		}
	}
	return true
}
