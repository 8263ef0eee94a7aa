package operator_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// Parallel wrong logins cannot all pass the count: each attempt takes its
// place in the count before the password is checked, so at most
// LoginMaxFailed of them are checked, and the right password is locked out
// afterwards.
func TestLoginRateLimitHoldsUnderParallelAttempts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		setUp(t, s, f, "rita", operator.RoleReviewer, false)
		const n = 24
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = s.Login(ctx, "rita", "wrong password!", "", fmt.Sprintf("198.51.100.%d", i+1))
			})
		}
		wg.Wait()
		checked := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, operator.ErrLoginFailed):
				checked++
			case errors.Is(err, operator.ErrLocked):
			default:
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		if checked > operator.LoginMaxFailed || checked == 0 {
			t.Fatalf("%d of %d parallel wrong logins were checked, want 1..%d", checked, n, operator.LoginMaxFailed)
		}
		// Hash slots are free again; whether the burst's failures reached
		// the limit or not, filling it up sequentially must lock the name.
		for i := checked; i < operator.LoginMaxFailed; i++ {
			if _, _, err := s.Login(ctx, "rita", "wrong password!", "", "198.51.100.200"); !errors.Is(err, operator.ErrLoginFailed) {
				t.Fatalf("sequential failure %d: %v", i, err)
			}
		}
		if _, _, err := s.Login(ctx, "rita", password, "", "203.0.113.9"); !errors.Is(err, operator.ErrLocked) {
			t.Fatalf("right password after the burst: %v, want ErrLocked", err)
		}
	})
}

// A successful login takes back the place it reserved in the count: four
// failures and many successes do not lock the operator out.
func TestSuccessfulLoginIsNotCountedAsFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		setUp(t, s, f, "rita", operator.RoleReviewer, false)
		for range operator.LoginMaxFailed - 1 {
			if _, _, err := s.Login(ctx, "rita", "wrong password!", "", "198.51.100.1"); !errors.Is(err, operator.ErrLoginFailed) {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			if _, _, err := s.Login(ctx, "rita", password, "", "198.51.100.1"); err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
		}
	})
}

// When every hash slot is busy, a login is refused as a locked one and no
// hash is computed; once a slot is free, logins work again.
func TestLoginHashesAreBounded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		setUp(t, s, f, "rita", operator.RoleReviewer, false)
		give := operator.HoldHashSlots(s)
		if _, _, err := s.Login(ctx, "rita", password, "", "198.51.100.1"); !errors.Is(err, operator.ErrLocked) {
			give()
			t.Fatalf("all slots busy: %v, want ErrLocked", err)
		}
		give()
		if _, _, err := s.Login(ctx, "rita", password, "", "198.51.100.1"); err != nil {
			t.Fatalf("slots free: %v", err)
		}
	})
}

// Names are case-insensitive: "Rita" and "rita" are one operator, and
// either spelling logs in.
func TestOperatorNamesAreCaseInsensitive(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		setUp(t, s, f, "Rita", operator.RoleReviewer, false)
		if _, err := s.Add(ctx, "rita", operator.RoleAdmin, "cli"); !errors.Is(err, operator.ErrExists) {
			t.Fatalf("add rita after Rita: %v, want ErrExists", err)
		}
		for _, n := range []string{"rita", "RITA", "Rita"} {
			_, sess, err := s.Login(ctx, n, password, "", "198.51.100.1")
			if err != nil || sess.Operator != "rita" {
				t.Fatalf("login as %q: %+v %v", n, sess, err)
			}
		}
	})
}

// Disable ends the operator's sessions and refuses its login with the
// answer a wrong password gets; Reset ends sessions, makes the old password
// useless, voids earlier set-up links, keeps the second factor unless told
// to drop it, enables again, and each is a ledger entry naming who did it.
func TestDisableAndReset(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		secret := setUp(t, s, f, "rita", operator.RoleReviewer, true)
		f.Clock.Advance(time.Minute)
		code, _ := operator.TOTPCode(secret, f.Clock.Now())
		tok, _, err := s.Login(ctx, "rita", password, code, "198.51.100.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Disable(ctx, "Rita", "otto"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, tok); !errors.Is(err, operator.ErrNoSession) {
			t.Fatalf("session after disable: %v", err)
		}
		f.Clock.Advance(time.Minute)
		code, _ = operator.TOTPCode(secret, f.Clock.Now())
		if _, _, err := s.Login(ctx, "rita", password, code, "198.51.100.1"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("login when disabled: %v, want ErrLoginFailed", err)
		}
		if err := s.Disable(ctx, "nobody", "otto"); !errors.Is(err, operator.ErrUnknown) {
			t.Fatalf("disable unknown: %v", err)
		}

		// Reset keeping the second factor.
		first, err := s.Reset(ctx, "rita", false, "cli")
		if err != nil {
			t.Fatal(err)
		}
		second, err := s.Reset(ctx, "rita", false, "cli")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetupFor(ctx, first); !errors.Is(err, operator.ErrSetupLink) {
			t.Fatalf("earlier reset link: %v, want ErrSetupLink", err)
		}
		f.Clock.Advance(time.Minute)
		code, _ = operator.TOTPCode(secret, f.Clock.Now())
		if _, _, err := s.Login(ctx, "rita", password, code, "198.51.100.2"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("old password after reset: %v, want ErrLoginFailed", err)
		}
		const newPassword = "a new and long passphrase"
		if _, err := s.CompleteSetup(ctx, second, operator.Setup{Password: newPassword, Confirm: newPassword}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "rita", newPassword, "", "198.51.100.3"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("second factor kept: login without a code: %v, want ErrLoginFailed", err)
		}
		f.Clock.Advance(time.Minute)
		code, _ = operator.TOTPCode(secret, f.Clock.Now())
		if _, _, err := s.Login(ctx, "rita", newPassword, code, "198.51.100.3"); err != nil {
			t.Fatalf("new password and the kept second factor: %v", err)
		}

		// Reset dropping the second factor.
		third, err := s.Reset(ctx, "rita", true, "otto")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteSetup(ctx, third, operator.Setup{Password: password, Confirm: password}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "rita", password, "", "198.51.100.4"); err != nil {
			t.Fatalf("second factor dropped: %v", err)
		}

		raw := dbtest.Raw(t, dsn)
		for kind, want := range map[string]int{"operator.disabled": 1, "operator.reset": 3} {
			var n int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM ledger WHERE kind = $1`, kind).Scan(&n); err != nil || n != want {
				t.Fatalf("%s entries: %d %v, want %d", kind, n, err, want)
			}
		}
		var body string
		if err := raw.QueryRow(`SELECT body FROM ledger WHERE kind = 'operator.reset' ORDER BY seq DESC LIMIT 1`).Scan(&body); err != nil ||
			!strings.Contains(body, `"by":"`+f.Keys.OperatorPseudonym("otto")+`"`) || !strings.Contains(body, `"dropped_totp":true`) || strings.Contains(body, "rita") {
			t.Fatalf("reset entry: %s %v", body, err)
		}
	})
}

// LinkBase accepts only http(s) URLs with a host a browser can reach, and
// what it accepts makes a set-up link on that host.
func FuzzLinkBase(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9000", "https://console.example/", "http://0.0.0.0:9000", "http://[::]:9000",
		"http://[::0]:1", "http://:9000", "ftp://x", "http://user@x", "http://x/?q", "", "http://0:9000", "http://[0:0::]:9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		base, err := operator.LinkBase(s)
		if err != nil {
			return
		}
		u, perr := url.Parse(operator.SetupLink(base, "tok"))
		if perr != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.HasSuffix(base, "/") {
			t.Fatalf("%q accepted as %q: %v", s, base, perr)
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
			t.Fatalf("%q accepted with an unspecified host", s)
		}
	})
}

func TestLinkBaseRefusesUnspecifiedHosts(t *testing.T) {
	for _, s := range []string{"http://0.0.0.0:9000", "http://[::]:9000", "https://[::0]/", "http://:9000"} {
		if _, err := operator.LinkBase(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	for _, s := range []string{"http://0.0.0.0:9000", "http://[::]:9000"} {
		if _, err := operator.LinkBase(s); !errors.Is(err, operator.ErrLinkHost) {
			t.Errorf("%q: %v, want ErrLinkHost", s, err)
		}
	}
	if b, err := operator.LinkBase("https://console.example/"); err != nil || b != "https://console.example" {
		t.Errorf("good base: %q %v", b, err)
	}
}
