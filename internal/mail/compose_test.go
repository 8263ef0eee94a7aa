package mail_test

import (
	"encoding/json"
	"html"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// The confirmation promises that posts by others are left out only when the
// composer is told the policy does so, whatever the queued data says.
func TestConfirmationPromisesOnlyWhatThePolicyDoes(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, excluded := range []bool{true, false} {
		c, err := mail.NewComposer(cat, mail.ComposerConfig{ThirdPartyExcluded: excluded})
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range cat.Languages() {
			promise := cat.T(lang, "what_third_exclude")
			// Stored data from before the policy changed claims the opposite.
			data, _ := json.Marshal(map[string]any{"ref": "NT-1234-5678-9ABC", "at": fixture.Start, "third_party_excluded": !excluded})
			m, err := c.Render(store.Mail{Kind: mail.KindObjectionConfirmed, Lang: lang, Data: string(data)})
			if err != nil {
				t.Fatal(err)
			}
			for part, body := range map[string]string{"text": m.Text, "html": html.UnescapeString(m.HTML)} {
				if got := strings.Contains(body, promise); got != excluded {
					t.Errorf("policy excludes third parties = %v, %s %s: promise shown = %v:\n%s", excluded, lang, part, got, body)
				}
			}
		}
	}
}
