package objection_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

var ctx = context.Background()

// freshDSN gives each (sub)test its own database: a new SQLite file, or a
// new PostgreSQL database when the test runs on PostgreSQL.
func freshDSN(t *testing.T, dsn string) string {
	if dbtest.IsPostgres(dsn) {
		return dbtest.Postgres(t)
	}
	return filepath.Join(t.TempDir(), "notrain.db")
}

func start(t *testing.T, f *fixture.Fixture, flow objection.Flow, addr string) objection.Started {
	t.Helper()
	st, err := f.Svc.Start(ctx, objection.StartInput{Flow: flow, Email: addr, Lang: "de", Channel: "api", Scope: objection.AllAccounts})
	if err != nil {
		t.Fatalf("Start(%s): %v", addr, err)
	}
	return st
}

func refusal(t *testing.T, err error, code string) *objection.Error {
	t.Helper()
	var e *objection.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want refusal %q", err, code)
	}
	return e
}

func TestObjectionCoversLinkedAccounts(t *testing.T) {
	dbtest.Each(t, testObjectionCoversLinkedAccounts)
}

func testObjectionCoversLinkedAccounts(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: freshDSN(t, dsn)})
	f.Import(t, fixture.Accounts)
	// Another spelling of the address matches (case, surrounding space).
	st := start(t, f, objection.FlowObjection, "  ANNA@Example.DE ")
	code := f.CodeFor(t, st.RequestID)
	if len(code) != 6 {
		t.Fatalf("no 6-digit code in the mail to anna (got %q)", code)
	}
	f.Clock.Advance(30 * time.Second)
	out, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != objection.StatusAccepted || !strings.HasPrefix(out.Reference, "NT-") || !out.At.Equal(fixture.Start.Add(30*time.Second)) {
		t.Fatalf("outcome = %+v", out)
	}
	// threads/th1 uses another address but is in anna's link group.
	if got := keysOf(out.Accounts); got != "facebook/u1 instagram/ig1 threads/th1" {
		t.Fatalf("covered = %s", got)
	}
	o, err := f.DB.Objection(ctx, out.Reference)
	if err != nil || len(o.Accounts) != 3 || !o.EffectiveAt.Equal(out.At) || o.LedgerSeq == 0 {
		t.Fatalf("stored objection = %+v, %v", o, err)
	}
	conf := f.MailsTo(t, "ANNA@example.de")
	if len(conf) != 2 || conf[0].Kind != mail.KindObjectionConfirmed || !strings.Contains(conf[0].Text, out.Reference) {
		t.Fatalf("confirmation mail missing: %+v", conf)
	}
	if _, err := f.DB.VerifyLedger(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func keysOf(accts []store.Account) string {
	var s []string
	for _, a := range accts {
		s = append(s, a.Product+"/"+a.AccountID)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func TestScopeNarrowsToProducts(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	scope, err := objection.NewScope([]string{"instagram", "threads", "instagram"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: "ben@example.com", Lang: "en", Channel: "web", Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, f.CodeFor(t, st.RequestID))
	if err != nil {
		t.Fatal(err)
	}
	// ben's instagram is linked (other address); his facebook is out of scope.
	if got := keysOf(out.Accounts); got != "instagram/ig2" || out.Scope.String() != "instagram,threads" {
		t.Fatalf("covered = %s, scope %s", got, out.Scope)
	}
	for _, bad := range [][]string{{"myspace"}, {"facebook", ""}, {"all", "facebook"}} {
		if _, err := objection.NewScope(bad); err == nil {
			t.Errorf("NewScope(%q) accepted", bad)
		}
	}
}

func TestCodeRules(t *testing.T) { dbtest.Each(t, testCodeRules) }

func testCodeRules(t *testing.T, dsn string) {
	type step func(t *testing.T, f *fixture.Fixture, rid string, code string)
	verifyOK := func(t *testing.T, f *fixture.Fixture, rid, code string) {
		t.Helper()
		if _, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, code); err != nil {
			t.Fatalf("right code refused: %v", err)
		}
	}
	wrong := func(code string) string { return fmt.Sprintf("%06d", (atoi(code)+1)%1000000) }
	tests := []struct {
		name string
		run  step
	}{
		{"right code once", func(t *testing.T, f *fixture.Fixture, rid, code string) { verifyOK(t, f, rid, code) }},
		{"spaces and dashes in the code are fine", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			verifyOK(t, f, rid, code[:3]+" - "+code[3:])
		}},
		{"single use", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			verifyOK(t, f, rid, code)
			_, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, code)
			refusal(t, err, objection.CodeCodeUsed)
		}},
		{"wrong code counts down", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			for left := otp.MaxAttempts - 1; left >= 0; left-- {
				_, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, wrong(code))
				if e := refusal(t, err, objection.CodeCodeInvalid); e.Remaining != left {
					t.Fatalf("remaining = %d, want %d", e.Remaining, left)
				}
			}
			// Attempts are spent: even the right code is not evaluated now.
			_, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, code)
			refusal(t, err, objection.CodeTooManyAttempts)
		}},
		{"malformed code is not an attempt", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			for _, c := range []string{"", "12345", "1234567", "abcdef", "１２３４５６"} {
				_, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, c)
				refusal(t, err, objection.CodeCodeFormat)
			}
			verifyOK(t, f, rid, code)
		}},
		{"expires after its lifetime", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			f.Clock.Advance(otp.DefaultTTL)
			_, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, code)
			refusal(t, err, objection.CodeCodeExpired)
		}},
		{"valid just before expiry", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			f.Clock.Advance(otp.DefaultTTL - time.Second)
			verifyOK(t, f, rid, code)
		}},
		{"bound to its request", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			other := start(t, f, objection.FlowObjection, "carl@example.net")
			_, err := f.Svc.Verify(ctx, objection.FlowObjection, other.RequestID, code)
			if f.CodeFor(t, other.RequestID) != code { // 1 in 10^6 that both codes are equal
				refusal(t, err, objection.CodeCodeInvalid)
			}
		}},
		{"bound to its flow", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			_, err := f.Svc.Verify(ctx, objection.FlowWithdrawal, rid, code)
			refusal(t, err, objection.CodeRequestNotFound)
			verifyOK(t, f, rid, code)
		}},
		{"unknown request id", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			for _, id := range []string{"", "nope", strings.Repeat("a", 32), strings.ToUpper(rid)} {
				_, err := f.Svc.Verify(ctx, objection.FlowObjection, id, code)
				refusal(t, err, objection.CodeRequestNotFound)
			}
		}},
		{"resend invalidates the old code and resets attempts", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			for range 3 {
				f.Svc.Verify(ctx, objection.FlowObjection, rid, wrong(code))
			}
			f.Clock.Advance(otp.ResendCooldown)
			if _, err := f.Svc.Resend(ctx, objection.FlowObjection, rid, ""); err != nil {
				t.Fatal(err)
			}
			fresh := f.CodeFor(t, rid)
			if fresh == code {
				t.Skip("the new code equals the old one (1 in 10^6)")
			}
			_, err := f.Svc.Verify(ctx, objection.FlowObjection, rid, code)
			if e := refusal(t, err, objection.CodeCodeInvalid); e.Remaining != otp.MaxAttempts-1 {
				t.Fatalf("attempts not reset: remaining %d", e.Remaining)
			}
			verifyOK(t, f, rid, fresh)
		}},
		{"resend has a cool-down", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			f.Clock.Advance(otp.ResendCooldown - time.Second)
			_, err := f.Svc.Resend(ctx, objection.FlowObjection, rid, "")
			if e := refusal(t, err, objection.CodeResendTooSoon); e.RetryAfter <= 0 {
				t.Fatalf("refusal = %+v", e)
			}
			verifyOK(t, f, rid, code)
		}},
		{"resend extends the lifetime", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			f.Clock.Advance(otp.DefaultTTL + time.Minute)
			if _, err := f.Svc.Resend(ctx, objection.FlowObjection, rid, ""); err != nil {
				t.Fatal(err)
			}
			verifyOK(t, f, rid, f.CodeFor(t, rid))
		}},
		{"no resend after use", func(t *testing.T, f *fixture.Fixture, rid, code string) {
			verifyOK(t, f, rid, code)
			f.Clock.Advance(otp.ResendCooldown)
			_, err := f.Svc.Resend(ctx, objection.FlowObjection, rid, "")
			refusal(t, err, objection.CodeCodeUsed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixture.New(t, fixture.Options{DSN: freshDSN(t, dsn)})
			f.Import(t, fixture.Accounts)
			st := start(t, f, objection.FlowObjection, "anna@example.de")
			tt.run(t, f, st.RequestID, f.CodeFor(t, st.RequestID))
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestCodeLifetimeIsConfigurableWithinBounds(t *testing.T) {
	f := fixture.New(t, fixture.Options{CodeTTL: 10 * time.Minute})
	f.Import(t, fixture.Accounts)
	st := start(t, f, objection.FlowObjection, "anna@example.de")
	if got := st.ExpiresAt.Sub(st.SentAt); got != 10*time.Minute {
		t.Fatalf("lifetime %s", got)
	}
	code := f.CodeFor(t, st.RequestID)
	f.Clock.Advance(10 * time.Minute)
	_, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code)
	refusal(t, err, objection.CodeCodeExpired)

	if _, err := objection.New(f.DB, f.Keys, f.Cat, nil, nil, objection.Config{CodeTTL: otp.MaxTTL + time.Second}); err == nil {
		t.Fatal("a code lifetime over 24 h was accepted")
	}
}

func TestCodeIsStoredOnlyAsKeyedHash(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	st := start(t, f, objection.FlowObjection, "anna@example.de")
	code := f.CodeFor(t, st.RequestID)
	req, err := f.DB.Request(ctx, st.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.CodeHash == "" || strings.Contains(req.CodeHash, code) || req.CodeHash != f.Keys.CodeHash(st.RequestID, code) {
		t.Fatalf("code hash %q does not look like the keyed hash of the code", req.CodeHash)
	}
	if strings.Contains(fmt.Sprintf("%+v", req), code) {
		t.Fatal("the code appears in the stored request")
	}
}

func TestPerAddressLimits(t *testing.T) { dbtest.Each(t, testPerAddressLimits) }

func testPerAddressLimits(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: freshDSN(t, dsn)})
	f.Import(t, fixture.Accounts)
	for _, addr := range []string{"anna@example.de", "nobody@example.de"} {
		t.Run(addr, func(t *testing.T) {
			f.Clock.Advance(48 * time.Hour)
			for i := range otp.PerHour {
				if _, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr, Lang: "en", Scope: objection.AllAccounts}); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				f.Clock.Advance(time.Minute)
			}
			// The sixth within the hour is refused, for known and unknown addresses alike.
			_, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: strings.ToUpper(addr), Lang: "en", Scope: objection.AllAccounts})
			e := refusal(t, err, objection.CodeRateLimited)
			if e.RetryAfter != 55*time.Minute {
				t.Fatalf("refusal %+v, want retry after 55m", e)
			}
			// An hour after the last, five more fit in the day; then the daily limit holds.
			f.Clock.Advance(time.Hour)
			for i := range otp.PerDay - otp.PerHour {
				if _, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr, Lang: "en", Scope: objection.AllAccounts}); err != nil {
					t.Fatalf("request %d of the day: %v", otp.PerHour+i+1, err)
				}
			}
			f.Clock.Advance(2 * time.Hour)
			_, err = f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: addr, Lang: "en", Scope: objection.AllAccounts})
			if e := refusal(t, err, objection.CodeRateLimited); e.RetryAfter < 20*time.Hour {
				t.Fatalf("daily limit retry after %s", e.RetryAfter)
			}
		})
	}
}

func TestUnknownAddressGetsNoticeNotCode(t *testing.T) {
	dbtest.Each(t, testUnknownAddressGetsNoticeNotCode)
}

func testUnknownAddressGetsNoticeNotCode(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: freshDSN(t, dsn)})
	f.Import(t, fixture.Accounts)
	known := start(t, f, objection.FlowObjection, "anna@example.de")
	unknown := start(t, f, objection.FlowObjection, "nobody@example.de")
	// Same shape of answer.
	if known.ExpiresAt.Sub(known.SentAt) != unknown.ExpiresAt.Sub(unknown.SentAt) || len(known.RequestID) != len(unknown.RequestID) {
		t.Fatalf("answers differ: %+v vs %+v", known, unknown)
	}
	mails := f.MailsTo(t, "nobody@example.de")
	if len(mails) != 1 || mails[0].Kind != mail.KindNoAccount || codeLike(mails[0].Text) {
		t.Fatalf("mails to unknown address = %+v", mails)
	}
	// The notice is sent at most once a day.
	f.Clock.Advance(otp.ResendCooldown)
	if _, err := f.Svc.Resend(ctx, objection.FlowObjection, unknown.RequestID, ""); err != nil {
		t.Fatal(err)
	}
	start(t, f, objection.FlowWithdrawal, "nobody@example.de")
	if n := len(f.MailsTo(t, "nobody@example.de")); n != 1 {
		t.Fatalf("%d notices within a day, want 1", n)
	}
	f.Clock.Advance(24 * time.Hour)
	start(t, f, objection.FlowObjection, "nobody@example.de")
	if n := len(f.MailsTo(t, "nobody@example.de")); n != 2 {
		t.Fatalf("%d notices after a day, want 2", n)
	}
	// No code can ever confirm a request for an unknown address.
	for c := 0; c < otp.MaxAttempts; c++ {
		_, err := f.Svc.Verify(ctx, objection.FlowObjection, unknown.RequestID, fmt.Sprintf("%06d", c))
		if !errors.As(err, new(*objection.Error)) {
			t.Fatal(err)
		}
	}
	if n, _, _ := f.DB.ObjectionCounts(ctx); n != 0 {
		t.Fatalf("%d objections recorded for an unknown address", n)
	}
}

func codeLike(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		all := true
		for j := i; j < i+6; j++ {
			if s[j] < '0' || s[j] > '9' {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// 100 goroutines present the right code at once: exactly one wins.
func TestConcurrentRightCodesOneWins(t *testing.T) { dbtest.Each(t, testConcurrentRightCodesOneWins) }

func testConcurrentRightCodesOneWins(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	st := start(t, f, objection.FlowObjection, "anna@example.de")
	code := f.CodeFor(t, st.RequestID)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, used, other := 0, 0, []error{}
	gate := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-gate
			_, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code)
			mu.Lock()
			defer mu.Unlock()
			var e *objection.Error
			switch {
			case err == nil:
				wins++
			case errors.As(err, &e) && (e.Code == objection.CodeCodeUsed || e.Code == objection.CodeTooManyAttempts):
				used++
			default:
				other = append(other, err)
			}
		})
	}
	close(gate)
	wg.Wait()
	if wins != 1 || used != 99 || len(other) > 0 {
		t.Fatalf("wins=%d used=%d other=%v", wins, used, other)
	}
	if n, _, _ := f.DB.ObjectionCounts(ctx); n != 1 {
		t.Fatalf("%d objections recorded, want 1", n)
	}
}

// 50 wrong guesses at once: at most 5 are compared.
func TestConcurrentWrongGuessesCapped(t *testing.T) { dbtest.Each(t, testConcurrentWrongGuessesCapped) }

func testConcurrentWrongGuessesCapped(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	st := start(t, f, objection.FlowObjection, "anna@example.de")
	code := f.CodeFor(t, st.RequestID)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range 50 {
		wg.Go(func() {
			<-gate
			guess := fmt.Sprintf("%06d", (atoi(code)+1+i)%1000000)
			f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, guess)
		})
	}
	close(gate)
	wg.Wait()
	checks := f.Counter(t, "notrain_code_checks_total", nil)
	if checks != otp.MaxAttempts {
		t.Fatalf("%v codes were compared, want %d", checks, otp.MaxAttempts)
	}
	req, _ := f.DB.Request(ctx, st.RequestID)
	if req.Attempts != otp.MaxAttempts {
		t.Fatalf("attempts = %d", req.Attempts)
	}
	_, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, code)
	refusal(t, err, objection.CodeTooManyAttempts)
}

func TestWithdrawalEndsObjectionsOfLinkedAccounts(t *testing.T) {
	dbtest.Each(t, testWithdrawalEndsObjectionsOfLinkedAccounts)
}

func testWithdrawalEndsObjectionsOfLinkedAccounts(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: freshDSN(t, dsn)})
	f.Import(t, fixture.Accounts)
	confirm := func(flow objection.Flow, addr string) objection.Outcome {
		t.Helper()
		st := start(t, f, flow, addr)
		out, err := f.Svc.Verify(ctx, flow, st.RequestID, f.CodeFor(t, st.RequestID))
		if err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(time.Minute)
		return out
	}
	o1 := confirm(objection.FlowObjection, "anna@example.de")
	o2 := confirm(objection.FlowObjection, "anna.threads@example.de")
	o3 := confirm(objection.FlowObjection, "carl@example.net")
	// anna withdraws using the threads address: both her objections cover th1.
	w := confirm(objection.FlowWithdrawal, "anna.threads@example.de")
	if w.Status != objection.StatusWithdrawn || w.Ended != 2 || !strings.HasPrefix(w.Reference, "NTW-") {
		t.Fatalf("withdrawal = %+v", w)
	}
	for _, ref := range []string{o1.Reference, o2.Reference} {
		o, _ := f.DB.Objection(ctx, ref)
		if !o.WithdrawnAt.Equal(w.At) || o.WithdrawalRef != w.Reference {
			t.Fatalf("objection %s not withdrawn: %+v", ref, o)
		}
	}
	if o, _ := f.DB.Objection(ctx, o3.Reference); !o.WithdrawnAt.IsZero() {
		t.Fatal("carl's objection was withdrawn by anna")
	}
	// Withdrawing again ends nothing and says so.
	again := confirm(objection.FlowWithdrawal, "anna@example.de")
	if again.Ended != 0 {
		t.Fatalf("second withdrawal ended %d", again.Ended)
	}
	head, err := f.DB.VerifyLedger(ctx, nil)
	if err != nil || head.Seq != 6 { // import + 3 objections + 2 withdrawals
		t.Fatalf("ledger head %+v, %v", head, err)
	}
}

func TestStartValidation(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	tests := []struct {
		in   objection.StartInput
		code string
	}{
		{objection.StartInput{Email: "", Lang: "de"}, objection.CodeEmailRequired},
		{objection.StartInput{Email: "anna", Lang: "de"}, objection.CodeEmailInvalid},
		{objection.StartInput{Email: "anna@example.de\r\nBcc: x@y.de", Lang: "de"}, objection.CodeEmailInvalid},
		{objection.StartInput{Email: strings.Repeat("a", 60) + "@" + strings.Repeat("b", 200) + ".de", Lang: "de"}, objection.CodeEmailTooLong},
		{objection.StartInput{Email: "anna@example.de", Lang: "ja"}, objection.CodeLangInvalid},
		{objection.StartInput{Email: "anna@example.de", Lang: "de", Reason: strings.Repeat("ä", objection.MaxReason+1)}, objection.CodeReasonTooLong},
		{objection.StartInput{Email: "anna@example.de", Lang: "de", Reason: "nul\x00byte"}, objection.CodeReasonInvalid},
	}
	for _, tt := range tests {
		tt.in.Flow = objection.FlowObjection
		_, err := f.Svc.Start(ctx, tt.in)
		refusal(t, err, tt.code)
	}
	// A reason of exactly the maximum length, in multi-byte characters, is fine.
	_, err := f.Svc.Start(ctx, objection.StartInput{Flow: objection.FlowObjection, Email: "anna@example.de", Lang: "de", Reason: strings.Repeat("ä", objection.MaxReason), Scope: objection.AllAccounts})
	if err != nil {
		t.Fatal(err)
	}
}

func TestViewHidesWhetherAMailWasQueued(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	start(t, f, objection.FlowObjection, "nobody@example.de") // uses up today's notice
	known := start(t, f, objection.FlowObjection, "anna@example.de")
	unknown := start(t, f, objection.FlowObjection, "nobody@example.de") // queues nothing
	vk, err := f.Svc.View(ctx, objection.FlowObjection, known.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	vu, err := f.Svc.View(ctx, objection.FlowObjection, unknown.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if vk.MailState != vu.MailState || vk.Done != vu.Done || vk.AttemptsOK != vu.AttemptsOK {
		t.Fatalf("views differ: %+v vs %+v", vk, vu)
	}
}
