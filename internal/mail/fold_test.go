package mail

import (
	"testing"
	"time"

	"github.com/notrain/notrain/internal/locale"
)

// Putting the fixed messages into the templates changes no byte of any
// mail, in any language, for any flow: the same templates rendered with a
// call to t for every message give the same subject, text and HTML.
func TestFoldedTemplatesRenderTheSame(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	folded, err := newComposer(cat, ComposerConfig{ThirdPartyExcluded: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := newComposer(cat, ComposerConfig{ThirdPartyExcluded: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	folds := 0
	for _, kind := range allKinds() {
		for _, lang := range cat.Languages() {
			for _, flow := range []string{"objection", "withdrawal", "access"} {
				d := Data{Flow: flow, Code: "042917", ExpiresAt: at, Reference: "NT-1234-5678-9ABC", At: at, Ended: 3,
					Accounts: []AccountLine{{Product: "instagram", Handle: "<b>&x</b>"}, {Product: "threads"}}, BaseURL: "https://notrain.example/a?b=1&c=\"2\""}
				s1, t1, h1, err1 := folded.Compose(kind, lang, d)
				s2, t2, h2, err2 := plain.Compose(kind, lang, d)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if s1 != s2 || t1 != t2 || h1 != h2 {
					t.Fatalf("%s/%s/%s differs:\n%s\n%s\n---\n%s\n%s", lang, kind, flow, t1, t2, h1, h2)
				}
			}
			if folded.text[lang+"/"+kind].Tree.Root.String() != plain.text[lang+"/"+kind].Tree.Root.String() {
				folds++
			}
		}
	}
	if folds == 0 {
		t.Fatal("no template had a message folded in")
	}
}
