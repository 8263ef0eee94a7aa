// Package tokens issues and checks the bearer tokens machines use on the
// API (the training platform registering models, later others). A token is
// shown once, when it is made; the store keeps only its keyed hash.
package tokens

import (
	"cmp"
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
	if strings.HasPrefix(name, Prefix) {
		// Revoke reads such an argument as a token's prefix.
		return "", fmt.Errorf("tokens: a name must not start with %q", Prefix)
	}
	tok := Prefix + ids.Random(32)
	err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.InsertAPIToken(ctx, store.APIToken{Hash: keys.TokenHash(hashKind, tok), Prefix: ShownPrefix(tok), Scope: string(scope), Name: name, CreatedAt: now})
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// shownLen is how much of a token is kept in clear to name it by: Prefix
// and eight random characters (48 of its 256 bits), too little to guess
// the rest from, enough to tell a handful of tokens apart.
const shownLen = len(Prefix) + 8

// minRevokePrefix is the shortest prefix revoke accepts, so "ntk_" alone
// cannot name every token.
const minRevokePrefix = len(Prefix) + 4

// ShownPrefix is the part of tok that is stored in clear and printed.
func ShownPrefix(tok string) string { return tok[:min(len(tok), shownLen)] }

// Revocation errors.
var (
	ErrNoMatch   = errors.New("tokens: no live token has this name or prefix")
	ErrAmbiguous = errors.New("tokens: this prefix names more than one live token; give more of it")
)

// Revoke revokes the live tokens that which names: a whole token; a
// prefix of one (at least Prefix and four characters, naming exactly one
// token); or otherwise a name given at create, which revokes every live
// token of that name. It returns the prefixes of the tokens revoked. A
// revoked token fails Check at once.
func Revoke(ctx context.Context, db *store.DB, keys *secret.Keys, which string, now time.Time) ([]string, error) {
	all, err := db.APITokens(ctx)
	if err != nil {
		return nil, err
	}
	var hit []store.APIToken
	byPrefix := strings.HasPrefix(which, Prefix)
	for _, t := range all {
		if !t.RevokedAt.IsZero() {
			continue
		}
		switch {
		case byPrefix && t.Hash == keys.TokenHash(hashKind, which):
			hit = []store.APIToken{t}
		case byPrefix && len(which) >= minRevokePrefix && len(which) <= shownLen && t.Prefix != "" && strings.HasPrefix(t.Prefix, which):
			hit = append(hit, t)
		case !byPrefix && which != "" && t.Name == which:
			hit = append(hit, t)
		}
	}
	switch {
	case len(hit) == 0:
		return nil, ErrNoMatch
	case byPrefix && len(hit) > 1:
		return nil, ErrAmbiguous
	}
	out := make([]string, len(hit))
	err = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		for i, t := range hit {
			if err := tx.RevokeAPIToken(ctx, t.Hash, now); err != nil {
				return err
			}
			out[i] = cmp.Or(t.Prefix, "(token of "+t.Name+")")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: revoke: %w", err)
	}
	return out, nil
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
