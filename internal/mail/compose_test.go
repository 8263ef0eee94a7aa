package mail_test

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

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

// shippedWithout is the shipped catalogs with key taken out of every language.
func shippedWithout(t *testing.T, key string) *locale.Catalog {
	t.Helper()
	files, err := filepath.Glob("../locale/catalog/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("catalogs: %v %v", files, err)
	}
	fsys := fstest.MapFS{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m[key]; !ok {
			t.Fatalf("%s has no key %q to take out", f, key)
		}
		delete(m, key)
		b, _ = json.Marshal(m)
		fsys["catalog/"+filepath.Base(f)] = &fstest.MapFile{Data: b}
	}
	cat, err := locale.LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// shippedLanguages lists the shipped catalogs' languages, as a missing key's
// error names them.
func shippedLanguages(t *testing.T) []string {
	t.Helper()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat.Languages()
}

// A catalog without a key some mail uses stops the composer at start,
// naming the key and the languages.
func TestComposerRefusesACatalogMissingAKey(t *testing.T) {
	for _, key := range []string{
		"what_third_keep",         // the confirmation's, in the else branch
		"mail_code_valid",         // the code mail's
		"mail_withdrawal_subject", // a subject, named in Go code
		"product_whatsapp",        // a product's name
	} {
		_, err := mail.NewComposer(shippedWithout(t, key), mail.ComposerConfig{})
		if err == nil || !strings.Contains(err.Error(), `"`+key+`"`) || !strings.Contains(err.Error(), strings.Join(shippedLanguages(t), ", ")) {
			t.Errorf("without %s: %v", key, err)
		}
	}
}
