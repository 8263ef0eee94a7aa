package store

import (
	"context"
	"fmt"
	"time"
)

// APIToken is a machine token as stored: its keyed hash, never the token.
type APIToken struct {
	Hash      string
	Prefix    string // the token's first characters, to name it by
	Scope     string
	Name      string
	CreatedAt time.Time
	RevokedAt time.Time
}

// InsertAPIToken stores a machine token.
func (tx *Tx) InsertAPIToken(ctx context.Context, t APIToken) error {
	if _, err := tx.exec(ctx, `INSERT INTO api_tokens (hash, prefix, scope, name, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.Prefix, t.Scope, t.Name, micros(t.CreatedAt), micros(t.RevokedAt)); err != nil {
		return fmt.Errorf("store: insert api token: %w", err)
	}
	return nil
}

// APITokenByHash reads a machine token, or ErrNotFound.
func (db *DB) APITokenByHash(ctx context.Context, hash string) (APIToken, error) {
	t := APIToken{Hash: hash}
	var created, revoked int64
	err := db.r.QueryRowContext(ctx, "SELECT scope, name, created_at, revoked_at FROM api_tokens WHERE hash = $1", hash).
		Scan(&t.Scope, &t.Name, &created, &revoked)
	if isNoRows(err) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("store: api token: %w", err)
	}
	t.CreatedAt, t.RevokedAt = fromMicros(created), fromMicros(revoked)
	return t, nil
}

// APITokens lists every machine token, oldest first.
func (db *DB) APITokens(ctx context.Context) ([]APIToken, error) {
	rs, err := db.r.QueryContext(ctx, "SELECT hash, prefix, scope, name, created_at, revoked_at FROM api_tokens ORDER BY created_at, hash")
	if err != nil {
		return nil, fmt.Errorf("store: api tokens: %w", err)
	}
	defer rs.Close()
	var out []APIToken
	for rs.Next() {
		var t APIToken
		var created, revoked int64
		if err := rs.Scan(&t.Hash, &t.Prefix, &t.Scope, &t.Name, &created, &revoked); err != nil {
			return nil, fmt.Errorf("store: api tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt = fromMicros(created), fromMicros(revoked)
		out = append(out, t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken marks a live token revoked; a token revoked already keeps
// its first revocation time.
func (tx *Tx) RevokeAPIToken(ctx context.Context, hash string, at time.Time) error {
	return tx.write(ctx, "revoke api token", `UPDATE api_tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at = 0`, micros(at), hash)
}

// AccessToken is a person's short-lived "my data" token as stored.
type AccessToken struct {
	Hash      string
	EmailHash string
	RequestID string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// InsertAccessToken stores a person's access token.
func (tx *Tx) InsertAccessToken(ctx context.Context, t AccessToken) error {
	if _, err := tx.exec(ctx, `INSERT INTO access_tokens (hash, email_hash, request_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.EmailHash, t.RequestID, micros(t.CreatedAt), micros(t.ExpiresAt)); err != nil {
		return fmt.Errorf("store: insert access token: %w", err)
	}
	return nil
}

// AccessTokenByHash reads a person's access token, or ErrNotFound.
func (db *DB) AccessTokenByHash(ctx context.Context, hash string) (AccessToken, error) {
	t := AccessToken{Hash: hash}
	var created, expires int64
	err := db.r.QueryRowContext(ctx, "SELECT email_hash, request_id, created_at, expires_at FROM access_tokens WHERE hash = $1", hash).
		Scan(&t.EmailHash, &t.RequestID, &created, &expires)
	if isNoRows(err) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("store: access token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), fromMicros(expires)
	return t, nil
}
