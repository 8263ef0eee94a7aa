package report_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// TestAttackInvisibleOrURLLikeItemsRefused: an item id with an invisible
// format character (U+200B zero-width space, U+202E right-to-left
// override, U+FEFF) was accepted and stored; the console showed it as
// "fb:1001", a reviewer approving it excluded an id no content record has,
// and the person was told the item is kept out. A protocol-relative URL
// ("//host/photo/1001") was kept as an id as well, though a URL no pattern
// maps is refused (item_url_unknown). Each must be refused, not stored.
func TestAttackInvisibleOrURLLikeItemsRefused(t *testing.T) {
	pats, err := report.ParsePatterns(strings.NewReader(testPatterns))
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"fb:1001\u200b", "fb:\u202e1001", "\ufefffb:1001", "//www.facebook.example/photo/1001"} {
		_, errs := report.Validate(pats, report.Input{Email: "nobody@example.org", Items: []string{item}, Relation: report.RelationMe, Lang: "en"})
		if len(errs) == 0 {
			t.Errorf("item %q accepted, want item_invalid or item_url_unknown", item)
		}
	}
}

// TestAttackReportNotLinkableToObjectionInPublicLog: the log's entry
// bundles are public (/log/tile/entries/…). A report's entry carries a
// "subject" pseudonym of the address, and it is the same keyed pseudonym
// the same address's objection.accepted entry carries (next to that
// person's account pseudonyms): anyone reading the log, e.g. holding one
// receipt of that person, finds every "content that shows me" report the
// person filed, and every other flow of theirs. A report's subject must not
// equal any other flow's subject for the same address.
func TestAttackReportNotLinkableToObjectionInPublicLog(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	const addr = "anna@example.de"
	st, err := e.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr, Lang: "en", Scope: objection.AllAccounts, Channel: "api"})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	rep := e.file(t, addr, "fb:1001")
	raw := dbtest.Raw(t, e.Path)
	subject := func(seq int64) string {
		var body string
		if err := raw.QueryRow(`SELECT body FROM ledger WHERE seq = $1`, seq).Scan(&body); err != nil {
			t.Fatal(err)
		}
		var b struct{ Subject string }
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatal(err)
		}
		return b.Subject
	}
	if so, sr := subject(obj.LedgerSeq), subject(rep.LedgerSeq); so != "" && so == sr {
		t.Fatalf("objection %s and report %s carry the same public subject %s", obj.Reference, rep.Reference, so)
	}
}
