package store

import (
	"context"
	"fmt"
	"time"
)

// Idempotency outcomes.
const (
	IdemNew      = "new"       // the caller owns the key: process the request
	IdemReplay   = "replay"    // answered before: send Stored
	IdemInFlight = "in_flight" // another request with the key is being processed
	IdemMismatch = "mismatch"  // the key was used for a different request
)

// StoredResponse is an answer kept for replays.
type StoredResponse struct {
	Status      int
	ContentType string
	RetryAfter  string
	Body        string
}

// ClaimIdempotencyKey decides what to do with a request carrying key. A key
// whose holder died (lease expired) can be claimed again.
func (tx *Tx) ClaimIdempotencyKey(ctx context.Context, key, route, fingerprint string, now time.Time, lease time.Duration) (string, StoredResponse, error) {
	q := `SELECT fingerprint, state, status, content_type, retry_after, body, lease_until FROM idempotency WHERE key = $1 AND route = $2`
	if tx.db.dialect == Postgres {
		q += " FOR UPDATE"
	}
	var fp, state string
	var resp StoredResponse
	var status, leaseUntil int64
	err := tx.queryRow(ctx, q, key, route).Scan(&fp, &state, &status, &resp.ContentType, &resp.RetryAfter, &resp.Body, &leaseUntil)
	switch {
	case isNoRows(err):
		if _, err := tx.exec(ctx, `INSERT INTO idempotency (key, route, fingerprint, state, created_at, lease_until) VALUES ($1, $2, $3, 'in_flight', $4, $5)`,
			key, route, fingerprint, micros(now), micros(now.Add(lease))); err != nil {
			return "", resp, fmt.Errorf("store: idempotency: %w", err)
		}
		return IdemNew, resp, nil
	case err != nil:
		return "", resp, fmt.Errorf("store: idempotency: %w", err)
	case fp != fingerprint:
		return IdemMismatch, resp, nil
	case state == "done":
		resp.Status = int(status)
		return IdemReplay, resp, nil
	case leaseUntil > micros(now):
		return IdemInFlight, resp, nil
	}
	if _, err := tx.exec(ctx, `UPDATE idempotency SET lease_until = $3 WHERE key = $1 AND route = $2`, key, route, micros(now.Add(lease))); err != nil {
		return "", resp, fmt.Errorf("store: idempotency: %w", err)
	}
	return IdemNew, resp, nil
}

// FinishIdempotencyKey stores the answer to replay.
func (tx *Tx) FinishIdempotencyKey(ctx context.Context, key, route string, r StoredResponse) error {
	_, err := tx.exec(ctx, `UPDATE idempotency SET state = 'done', status = $3, content_type = $4, retry_after = $5, body = $6
		WHERE key = $1 AND route = $2`, key, route, r.Status, r.ContentType, r.RetryAfter, r.Body)
	if err != nil {
		return fmt.Errorf("store: idempotency: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a key whose request failed on our side, so
// that a retry is processed instead of refused.
func (tx *Tx) ReleaseIdempotencyKey(ctx context.Context, key, route string) error {
	if _, err := tx.exec(ctx, `DELETE FROM idempotency WHERE key = $1 AND route = $2 AND state = 'in_flight'`, key, route); err != nil {
		return fmt.Errorf("store: idempotency: %w", err)
	}
	return nil
}

// ClientEvents counts a client's code requests since a moment and records
// one more when the count is below limit; allowed reports which happened,
// oldest the earliest counted request (for Retry-After).
func (tx *Tx) ClientEvent(ctx context.Context, client string, since, now time.Time, limit int) (allowed bool, oldest time.Time, err error) {
	var n int
	var first int64
	tx.lockKey("client", client) // as for an address's events
	if err := tx.queryRow(ctx, `SELECT COUNT(*), COALESCE(MIN(at), 0) FROM client_events WHERE client = $1 AND at > $2`,
		client, micros(since)).Scan(&n, &first); err != nil {
		return false, time.Time{}, fmt.Errorf("store: client events: %w", err)
	}
	if n >= limit {
		return false, fromMicros(first), nil
	}
	if err := tx.write(ctx, "client events", `INSERT INTO client_events (client, at) VALUES ($1, $2)`, client, micros(now)); err != nil {
		return false, time.Time{}, err
	}
	return true, time.Time{}, nil
}
