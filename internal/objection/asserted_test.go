package objection_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

func asserted(f *fixture.Fixture, sub, jti string) objection.AssertedInput {
	product, id, _ := assertion.ParseSubject(sub)
	now := f.Clock.Now()
	return objection.AssertedInput{
		Assertion: assertion.Assertion{Product: product, AccountID: id, ID: jti, IssuedAt: now, Expires: now.Add(5 * time.Minute)},
		Scope:     objection.AllAccounts, Lang: "de", Channel: objection.ChannelAPIAssertion,
	}
}

func TestObjectAsserted(t *testing.T) { dbtest.Each(t, testObjectAsserted) }

func testObjectAsserted(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)

	// Before the click: what it would cover, without using the assertion.
	in := asserted(f, "instagram:ig2", "j-1")
	preview, err := f.Svc.AssertedAccounts(ctx, in.Assertion)
	if err != nil {
		t.Fatal(err)
	}
	out, rid, err := f.Svc.ObjectAsserted(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(accts []store.Account) []string {
		var ks []string
		for _, a := range accts {
			ks = append(ks, a.Product+"/"+a.AccountID)
		}
		return ks
	}
	// ben's link group: two accounts on two addresses.
	if want := []string{"facebook/u2", "instagram/ig2"}; !slices.Equal(keys(out.Accounts), want) || !slices.Equal(keys(preview), want) {
		t.Fatalf("covers %v (preview %v), want %v", keys(out.Accounts), keys(preview), want)
	}
	if out.Status != objection.StatusAccepted || out.LedgerSeq == 0 || !out.NoMail {
		t.Fatalf("outcome %+v", out)
	}
	// The confirmation page reads the same outcome back.
	res, err := f.Svc.Result(ctx, objection.FlowObjection, rid)
	if err != nil || res.Reference != out.Reference || !res.NoMail || !slices.Equal(keys(res.Accounts), keys(out.Accounts)) {
		t.Fatalf("result %+v %v", res, err)
	}
	// No mail: no address is known.
	if n, err := f.DB.OutboxDepth(ctx); err != nil || n != 0 {
		t.Fatalf("%d mails queued (%v)", n, err)
	}

	_, _, err = f.Svc.ObjectAsserted(ctx, in)
	refusal(t, err, objection.CodeAssertionReplayed)
	_, err = f.Svc.AssertedAccounts(ctx, in.Assertion)
	refusal(t, err, objection.CodeAssertionReplayed)

	// An unknown account is refused and does not use its assertion up.
	unknown := asserted(f, "facebook:nobody", "j-2")
	_, _, err = f.Svc.ObjectAsserted(ctx, unknown)
	refusal(t, err, objection.CodeAssertionUnknownAccount)
	_, err = f.Svc.AssertedAccounts(ctx, unknown.Assertion)
	refusal(t, err, objection.CodeAssertionUnknownAccount)
	if used, err := f.DB.AssertionUsed(ctx, "j-2"); err != nil || used {
		t.Fatalf("refused assertion used up: %v %v", used, err)
	}
	if n, _, _ := f.DB.ObjectionCounts(ctx); n != 1 {
		t.Fatalf("%d objections, want 1", n)
	}
}

// Two instances on one store, many clicks with one assertion: one objection.
func TestObjectAssertedOnceAcrossInstances(t *testing.T) {
	dbtest.Each(t, testObjectAssertedOnceAcrossInstances)
}

func testObjectAssertedOnceAcrossInstances(t *testing.T, dsn string) {
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	db2, err := store.Open(ctx, f.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.SetLogKey(ctx, f.LogKey); err != nil {
		t.Fatal(err)
	}
	svc2, err := objection.New(db2, f.Keys, f.Cat, nil, nil, objection.Config{Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	in := asserted(f, "facebook:u3", "j-once")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, replayed, other := 0, 0, []error{}
	gate := make(chan struct{})
	for i := range 40 {
		svc := f.Svc
		if i%2 == 1 {
			svc = svc2
		}
		wg.Go(func() {
			<-gate
			_, _, err := svc.ObjectAsserted(ctx, in)
			mu.Lock()
			defer mu.Unlock()
			var e *objection.Error
			switch {
			case err == nil:
				wins++
			case errors.As(err, &e) && e.Code == objection.CodeAssertionReplayed:
				replayed++
			default:
				other = append(other, err)
			}
		})
	}
	close(gate)
	wg.Wait()
	if wins != 1 || replayed != 39 || len(other) > 0 {
		t.Fatalf("wins=%d replayed=%d other=%v", wins, replayed, other)
	}
	if n, _, _ := f.DB.ObjectionCounts(ctx); n != 1 {
		t.Fatalf("%d objections recorded, want 1", n)
	}
}

func TestObjectAssertedInput(t *testing.T) {
	f := fixture.New(t, fixture.Options{})
	f.Import(t, fixture.Accounts)
	for code, edit := range map[string]func(*objection.AssertedInput){
		objection.CodeLangInvalid:   func(in *objection.AssertedInput) { in.Lang = "xx" },
		objection.CodeReasonInvalid: func(in *objection.AssertedInput) { in.Reason = "a\x00b" },
	} {
		in := asserted(f, "facebook:u1", fmt.Sprintf("j-%s", code))
		edit(&in)
		_, _, err := f.Svc.ObjectAsserted(ctx, in)
		refusal(t, err, code)
	}
}
