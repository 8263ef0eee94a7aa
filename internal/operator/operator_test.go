package operator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

const password = "correct horse battery staple"

func newService(t *testing.T, dsn string) (*operator.Service, *fixture.Fixture) {
	f := fixture.New(t, fixture.Options{DSN: dsn})
	return operator.New(f.DB, f.Keys, f.Clock.Now), f
}

// setUp adds an operator and completes its set-up, with a second factor
// when totp is set; it returns the TOTP secret ("" without).
func setUp(t *testing.T, s *operator.Service, f *fixture.Fixture, name, role string, totp bool) string {
	t.Helper()
	ctx := context.Background()
	tok, err := s.Add(ctx, name, role, "cli")
	if err != nil {
		t.Fatal(err)
	}
	in := operator.Setup{Password: password, Confirm: password}
	if totp {
		e, err := operator.NewTOTP(name)
		if err != nil {
			t.Fatal(err)
		}
		in.TOTPSecret = e.Secret
		if in.TOTPCode, err = operator.TOTPCode(e.Secret, f.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CompleteSetup(ctx, tok, in); err != nil {
		t.Fatal(err)
	}
	return in.TOTPSecret
}

func TestSetupLinkIsOneTimeAndExpires(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		tok, err := s.Add(ctx, "rita", operator.RoleReviewer, "cli")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Add(ctx, "rita", operator.RoleAdmin, "cli"); !errors.Is(err, operator.ErrExists) {
			t.Fatalf("second add: %v, want ErrExists", err)
		}
		if _, err := s.CompleteSetup(ctx, tok, operator.Setup{Password: "short", Confirm: "short"}); !errors.Is(err, operator.ErrPassword) {
			t.Fatalf("short password: %v", err)
		}
		if _, err := s.CompleteSetup(ctx, tok, operator.Setup{Password: password, Confirm: password + "x"}); !errors.Is(err, operator.ErrMismatch) {
			t.Fatalf("mismatch: %v", err)
		}
		if name, err := s.CompleteSetup(ctx, tok, operator.Setup{Password: password, Confirm: password}); err != nil || name != "rita" {
			t.Fatalf("setup: %q %v", name, err)
		}
		if _, err := s.CompleteSetup(ctx, tok, operator.Setup{Password: password, Confirm: password}); !errors.Is(err, operator.ErrSetupLink) {
			t.Fatalf("second use: %v, want ErrSetupLink", err)
		}
		tok2, err := s.Add(ctx, "otto", operator.RoleAdmin, "cli")
		if err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(operator.SetupTTL)
		if _, err := s.SetupFor(ctx, tok2); !errors.Is(err, operator.ErrSetupLink) {
			t.Fatalf("after 24 h: %v, want ErrSetupLink", err)
		}
		// The ledger names who was added, by whom, with which role: the
		// operators by pseudonym, since the log is public.
		var body string
		if err := dbtest.Raw(t, dsn).QueryRow(`SELECT body FROM ledger WHERE kind = 'operator.added' ORDER BY seq LIMIT 1`).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if body != `{"by":"`+f.Keys.OperatorPseudonym("cli")+`","operator":"`+f.Keys.OperatorPseudonym("rita")+`","role":"reviewer"}` ||
			strings.Contains(body, "rita") {
			t.Fatalf("ledger body %s", body)
		}
		names, err := f.DB.OperatorNames(ctx, []string{f.Keys.OperatorPseudonym("rita"), f.Keys.OperatorPseudonym("cli")})
		if err != nil || names[f.Keys.OperatorPseudonym("rita")] != "rita" || names[f.Keys.OperatorPseudonym("cli")] != "cli" {
			t.Fatalf("names behind the pseudonyms: %v %v", names, err)
		}
	})
}

// The password is kept only as an argon2id PHC string, and no table holds
// it (or a set-up or session token) in clear.
func TestPasswordNeverStoredInClear(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		tok, err := s.Add(ctx, "rita", operator.RoleReviewer, "cli")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompleteSetup(ctx, tok, operator.Setup{Password: password, Confirm: password}); err != nil {
			t.Fatal(err)
		}
		sess, _, err := s.Login(ctx, "rita", password, "", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		raw := dbtest.Raw(t, dsn)
		var hash string
		if err := raw.QueryRow(`SELECT password_hash FROM operators WHERE name = 'rita'`).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("hash %q is not argon2id PHC", hash)
		}
		if ok, err := operator.CheckPassword(hash, password); !ok || err != nil {
			t.Fatalf("stored hash does not verify: %v", err)
		}
		for _, q := range []string{
			`SELECT name || role || password_hash || totp_secret || created_by FROM operators`,
			`SELECT hash || operator FROM operator_setup_tokens`,
			`SELECT hash || operator FROM operator_sessions`,
			`SELECT kind || body FROM ledger`,
		} {
			rows, err := raw.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				for _, secret := range []string{password, tok, sess} {
					if strings.Contains(v, secret) {
						t.Errorf("%s holds a secret in clear: %s", q, v)
					}
				}
			}
			rows.Close()
		}
		_ = f
	})
}

// Five failures in the window lock the name — whether or not it exists —
// and the client address; the answer never says which.
func TestLoginRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		setUp(t, s, f, "rita", operator.RoleReviewer, false)
		for _, name := range []string{"rita", "nobody"} {
			for i := range operator.LoginMaxFailed {
				_, _, err := s.Login(ctx, name, "wrong password!", "", "198.51.100."+string(rune('1'+i)))
				if !errors.Is(err, operator.ErrLoginFailed) {
					t.Fatalf("%s failure %d: %v", name, i, err)
				}
			}
			if _, _, err := s.Login(ctx, name, password, "", "198.51.100.99"); !errors.Is(err, operator.ErrLocked) {
				t.Fatalf("%s after %d failures: %v, want ErrLocked", name, operator.LoginMaxFailed, err)
			}
		}
		// By client address: failures on many names from one address.
		setUp(t, s, f, "otto", operator.RoleAdmin, false)
		for i := range operator.LoginMaxFailed {
			s.Login(ctx, "guess"+string(rune('a'+i)), "x", "", "203.0.113.7")
		}
		if _, _, err := s.Login(ctx, "otto", password, "", "203.0.113.7"); !errors.Is(err, operator.ErrLocked) {
			t.Fatalf("address locked: %v", err)
		}
		if _, _, err := s.Login(ctx, "otto", password, "", "203.0.113.8"); err != nil {
			t.Fatalf("another address: %v", err)
		}
		// The window ends.
		f.Clock.Advance(operator.LoginWindow + time.Second)
		if _, _, err := s.Login(ctx, "rita", password, "", "198.51.100.99"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestTOTPRequiredWhenEnrolled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		ctx := context.Background()
		secret := setUp(t, s, f, "rita", operator.RoleAdmin, true)
		setupCode, _ := operator.TOTPCode(secret, f.Clock.Now())
		if _, _, err := s.Login(ctx, "rita", password, setupCode, "192.0.2.9"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("the set-up code logs in: %v", err)
		}
		f.Clock.Advance(time.Minute)
		if _, _, err := s.Login(ctx, "rita", password, "", "192.0.2.1"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("no code: %v", err)
		}
		if _, _, err := s.Login(ctx, "rita", password, "000000", "192.0.2.2"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("wrong code: %v", err)
		}
		code, _ := operator.TOTPCode(secret, f.Clock.Now())
		tok, sess, err := s.Login(ctx, "rita", password, code, "192.0.2.3")
		if err != nil || sess.Role != operator.RoleAdmin || !sess.IsAdmin() {
			t.Fatalf("with code: %v %+v", err, sess)
		}
		if _, _, err := s.Login(ctx, "rita", password, code, "192.0.2.4"); !errors.Is(err, operator.ErrLoginFailed) {
			t.Fatalf("replayed code: %v", err)
		}
		if got, err := s.Session(ctx, tok); err != nil || got.Operator != "rita" || got.CSRF != sess.CSRF {
			t.Fatalf("session: %+v %v", got, err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	s, f := newService(t, "")
	ctx := context.Background()
	setUp(t, s, f, "rita", operator.RoleReviewer, false)
	tok, _, err := s.Login(ctx, "rita", password, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	// Active use keeps it alive up to the absolute limit.
	for elapsed := time.Duration(0); elapsed < operator.SessionMaxAge-operator.SessionIdle; elapsed += operator.SessionIdle - time.Minute {
		if _, err := s.Session(ctx, tok); err != nil {
			t.Fatalf("after %s of use: %v", elapsed, err)
		}
		f.Clock.Advance(operator.SessionIdle - time.Minute)
	}
	f.Clock.Advance(operator.SessionIdle)
	if _, err := s.Session(ctx, tok); !errors.Is(err, operator.ErrNoSession) {
		t.Fatalf("past the absolute limit: %v", err)
	}
	tok, _, err = s.Login(ctx, "rita", password, "", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(operator.SessionIdle)
	if _, err := s.Session(ctx, tok); !errors.Is(err, operator.ErrNoSession) {
		t.Fatalf("idle: %v", err)
	}
	tok, _, _ = s.Login(ctx, "rita", password, "", "192.0.2.1")
	if err := s.Logout(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, tok); !errors.Is(err, operator.ErrNoSession) {
		t.Fatalf("after logout: %v", err)
	}
}

func FuzzCheckPassword(f *testing.F) {
	h, err := operator.HashPassword("x")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(h)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		ok, err := operator.CheckPassword(s, "x")
		if ok && err != nil {
			t.Fatal("ok with an error")
		}
		if err != nil && !errors.Is(err, operator.ErrBadHash) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
