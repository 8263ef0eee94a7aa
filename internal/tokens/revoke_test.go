package tokens_test

import (
	"context"
	"errors"
	"testing"

	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/tokens"
)

// A token is revoked by its name (every live token of that name), by a
// prefix naming exactly one, or whole; a revoked token fails Check at once
// and the others keep working.
func TestRevokeByNameOrPrefix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		f := fixture.New(t, fixture.Options{DSN: dsn})
		ctx := context.Background()
		mk := func(name string) string {
			tok, err := tokens.Create(ctx, f.DB, f.Keys, tokens.ScopeReviews, name, f.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		live := func(tok string) bool { return tokens.Check(ctx, f.DB, f.Keys, tok, tokens.ScopeReviews) == nil }
		triage1, triage2, robot, other := mk("triage"), mk("triage"), mk("robot"), mk("other")

		got, err := tokens.Revoke(ctx, f.DB, f.Keys, "triage", f.Clock.Now())
		if err != nil || len(got) != 2 {
			t.Fatalf("revoke by name: %v %v", got, err)
		}
		if live(triage1) || live(triage2) || !live(robot) || !live(other) {
			t.Fatal("revoking by name revoked the wrong tokens")
		}
		if _, err := tokens.Revoke(ctx, f.DB, f.Keys, "triage", f.Clock.Now()); !errors.Is(err, tokens.ErrNoMatch) {
			t.Fatalf("revoking again: %v, want ErrNoMatch", err)
		}
		got, err = tokens.Revoke(ctx, f.DB, f.Keys, robot[:len(tokens.Prefix)+6], f.Clock.Now())
		if err != nil || len(got) != 1 || got[0] != tokens.ShownPrefix(robot) {
			t.Fatalf("revoke by prefix: %v %v", got, err)
		}
		if live(robot) || !live(other) {
			t.Fatal("revoking by prefix revoked the wrong token")
		}
		if _, err := tokens.Revoke(ctx, f.DB, f.Keys, tokens.Prefix, f.Clock.Now()); !errors.Is(err, tokens.ErrNoMatch) {
			t.Fatalf("bare prefix: %v, want ErrNoMatch", err)
		}
		if _, err := tokens.Revoke(ctx, f.DB, f.Keys, other, f.Clock.Now()); err != nil || live(other) {
			t.Fatalf("revoke whole token: %v", err)
		}
		if _, err := tokens.Create(ctx, f.DB, f.Keys, tokens.ScopeReviews, "ntk_lookalike", f.Clock.Now()); err == nil {
			t.Fatal("a name that looks like a token prefix was accepted")
		}
	})
}
