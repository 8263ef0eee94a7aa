package objection_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// local+tag@domain reaches local@domain's mailbox: the per-address limits
// and the daily "no account" notice count all tags as one address.
func TestPlusAddressesCountAsOneMailbox(t *testing.T) {
	for _, base := range []string{"anna", "nobody"} {
		t.Run(base, func(t *testing.T) {
			f := fixture.New(t, fixture.Options{})
			f.Import(t, fixture.Accounts)
			addr := func(i int) string { return fmt.Sprintf("%s+%d@example.de", base, i) }
			for i := range otp.PerHour {
				if _, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr(i), Lang: "en", Scope: objection.AllAccounts}); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				f.Clock.Advance(time.Second)
			}
			_, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: base + "@example.de", Lang: "en", Scope: objection.AllAccounts})
			refusal(t, err, objection.CodeRateLimited)
			notices := 0
			for _, m := range f.Mails(t) {
				if m.Kind == mail.KindNoAccount {
					notices++
				}
			}
			if notices != 1 {
				t.Fatalf("%d 'no account' notices to one mailbox within a day, want 1", notices)
			}
		})
	}
}

// A local part that only a mapping other than NFC and ASCII lower-casing
// would turn into an account's address is refused, so nobody receives a
// code for anna.ig@… by typing anna.İg@…; every code goes to the very
// address that matched.
func TestAddressMustBeItsOwnCanonicalForm(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	f.Import(t, `{"product":"threads","account_id":"th9","email":"anna.ig@example.de","handle":"annaig"}`+"\n")
	for _, addr := range []string{"anna.\u0130g@example.de", "anna.\u0131g@example.de", "\uFF41nna.ig@example.de"} {
		_, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr, Lang: "en", Scope: objection.AllAccounts})
		if e := refusal(t, err, objection.CodeEmailNotCanonical); e.Field != "email" {
			t.Fatalf("%q: refusal on field %q", addr, e.Field)
		}
	}
	st := start(t, f, objection.FlowObjection, "Anna.IG@Example.DE")
	for _, m := range f.Mails(t) {
		if m.RequestID == st.RequestID && (m.Kind != mail.KindCode || m.To != "anna.ig@example.de") {
			t.Fatalf("the code went to %q (%s), want the canonical anna.ig@example.de", m.To, m.Kind)
		}
	}
	if len(f.Mails(t)) != 1 {
		t.Fatalf("%d mails, want the one code", len(f.Mails(t)))
	}
}
