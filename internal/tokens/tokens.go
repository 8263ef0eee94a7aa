// Package tokens issues and checks the bearer tokens machines use on the
// API (the training platform registering models, later others). A token is
// shown once, when it is made; the store keeps only its keyed hash.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Scope is what a token may do.
type Scope string

// Scopes. Adding one is adding it here and to Scopes.
const (
	ScopeModels  Scope = "models"
	ScopeReviews Scope = "reviews" // the admin API: list and decide review cases
)

// Scopes is the closed list of scopes a token can have.
func Scopes() []Scope { return []Scope{ScopeModels, ScopeReviews} }

// ParseScope accepts exactly a listed scope.
func ParseScope(s string) (Scope, error) {
	if slices.Contains(Scopes(), Scope(s)) {
		return Scope(s), nil
	}
	names := make([]string, len(Scopes()))
	for i, sc := range Scopes() {
		names[i] = string(sc)
	}
	return "", fmt.Errorf("tokens: unknown scope %q (one of: %s)", s, strings.Join(names, ", "))
}

// Prefix starts every machine token, so a leaked one is recognisable
// (secret scanners) and a person's "my data" token is never mistaken for it.
const Prefix = "ntk_"

// hashKind separates machine-token hashes from other token hashes.
const hashKind = "api"

// MaxName is the longest token name accepted.
const MaxName = 200

// Refusals of Check. ErrUnauthorized is one answer for a missing, unknown
// or revoked token, so a caller learns nothing about which.
var (
	ErrUnauthorized = errors.New("tokens: no valid token")
	ErrForbidden    = errors.New("tokens: token lacks the scope")
)

// Create makes a token of scope, stores its hash and returns the token.
func Create(ctx context.Context, db *store.DB, keys *secret.Keys, scope Scope, name string, now time.Time) (string, error) {
	if _, err := ParseScope(string(scope)); err != nil {
		return "", err
	}
	if len(name) > MaxName || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("tokens: name must be at most %d characters of plain text", MaxName)
	}
	tok := Prefix + ids.Random(32)
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.InsertAPIToken(ctx, store.APIToken{Hash: keys.TokenHash(hashKind, tok), Scope: string(scope), Name: name, CreatedAt: now})
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// Check verifies that tok is a live token with scope.
func Check(ctx context.Context, db *store.DB, keys *secret.Keys, tok string, scope Scope) error {
	_, err := Holder(ctx, db, keys, tok, scope)
	return err
}

// Holder is Check that also returns the token's name, so an action taken
// with it can say who took it.
func Holder(ctx context.Context, db *store.DB, keys *secret.Keys, tok string, scope Scope) (string, error) {
	if !strings.HasPrefix(tok, Prefix) || len(tok) > 200 {
		return "", ErrUnauthorized
	}
	t, err := db.APITokenByHash(ctx, keys.TokenHash(hashKind, tok))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrUnauthorized
	case err != nil:
		return "", err
	case !t.RevokedAt.IsZero():
		return "", ErrUnauthorized
	case Scope(t.Scope) != scope:
		return "", ErrForbidden
	}
	return t.Name, nil
}
