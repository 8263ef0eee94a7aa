package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/mail"
)

// Every mail, in every language and both parts, links to "My data".
func TestEveryMailLinksMyData(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	c, err := mail.NewComposer(cat, mail.ComposerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	d := mail.Data{Flow: "objection", Code: "123456", ExpiresAt: time.Unix(0, 0), Reference: "NT-0000-0000-0000", At: time.Unix(0, 0),
		BaseURL: "https://portal.example"}
	for _, kind := range []string{mail.KindCode, mail.KindNoAccount, mail.KindObjectionConfirmed, mail.KindWithdrawalConfirmed} {
		for _, lang := range cat.Languages() {
			_, text, html, err := c.Compose(kind, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text, "https://portal.example/me") || !strings.Contains(html, `href="https://portal.example/me"`) {
				t.Errorf("%s/%s has no My data link:\n%s", kind, lang, text)
			}
		}
	}
	// The access code mail says what the code is for.
	d.Flow = "access"
	_, text, _, err := c.Compose(mail.KindCode, "en", d)
	if err != nil || !strings.Contains(text, "what notrain holds about your address") {
		t.Fatalf("access code mail: %v\n%s", err, text)
	}
}
