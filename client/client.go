// Package client is a typed Go client of notrain's JSON API, written from
// its OpenAPI document (api/openapi.json, served at GET /api/v1/openapi.json).
// It depends on nothing of notrain's own, so that a platform can use it.
//
// Every refusal is an *Error with the HTTP status and the stable code of
// the error envelope; branch on Code, never on Message:
//
//	c := client.NewClient("https://objections.example.org", nil)
//	st, err := c.StartObjection(ctx, client.ObjectionRequest{Email: addr})
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == "rate_limited" {
//		time.Sleep(e.RetryAfter)
//	}
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAnswer bounds what is read of one answer: the largest, a person's
// overview, stays far below it.
const maxAnswer = 32 << 20

// Client calls one notrain server.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client of the server at baseURL (scheme and host,
// optionally a path prefix); a nil hc is http.DefaultClient.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// Option sets something on one request.
type Option func(*http.Request)

// IdempotencyKey makes a POST safe to retry: a repeat with the same key
// and body gets the first answer again and changes nothing.
func IdempotencyKey(key string) Option {
	return func(r *http.Request) { r.Header.Set("Idempotency-Key", key) }
}

// AcceptLanguage asks for messages in lang when the body names none.
func AcceptLanguage(lang string) Option {
	return func(r *http.Request) { r.Header.Set("Accept-Language", lang) }
}

// Bearer authenticates the request with a token: an access token, an
// operator token, or a platform assertion.
func Bearer(token string) Option {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// Error is a refusal: Status is the HTTP status, Code the stable code of
// the error envelope (empty when the answer had none, as a proxy's may).
type Error struct {
	Status            int
	Code              string
	Message           string
	Field             string        // the request member at fault, if any
	RetryAfter        time.Duration // when a retry can succeed (429, 503, 409)
	AttemptsRemaining *int          // code_invalid: code attempts left
	Snapshots         []string      // snapshot_unknown: the ones not registered

	raw string // the answer, for callers of answers that are not the envelope
}

func (e *Error) Error() string {
	s := fmt.Sprintf("notrain: %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// envelope is the error answer: {"error":{"code":…,"message":…}}.
type envelope struct {
	Error struct {
		Code              string   `json:"code"`
		Message           string   `json:"message"`
		Field             string   `json:"field"`
		RetryAfter        int      `json:"retry_after"`
		AttemptsRemaining *int     `json:"attempts_remaining"`
		Snapshots         []string `json:"snapshots"`
	} `json:"error"`
}

// do sends one request and decodes a 2xx answer into out (nil: ignored);
// any other answer is an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any, opts []Option) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("notrain: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("notrain: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for _, o := range opts {
		o(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("notrain: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("notrain: %s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return answerError(resp, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("notrain: %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

func answerError(resp *http.Response, b []byte) *Error {
	e := &Error{Status: resp.StatusCode, raw: string(b)}
	var env envelope
	if json.Unmarshal(b, &env) == nil && env.Error.Code != "" {
		e.Code, e.Message, e.Field = env.Error.Code, env.Error.Message, env.Error.Field
		e.AttemptsRemaining, e.Snapshots = env.Error.AttemptsRemaining, env.Error.Snapshots
		if env.Error.RetryAfter > 0 {
			e.RetryAfter = time.Duration(env.Error.RetryAfter) * time.Second
		}
	} else {
		e.Message = strings.TrimSpace(string(b[:min(len(b), 200)]))
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// getText fetches a text answer (the log's).
func (c *Client) getText(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("notrain: GET %s: %w", path, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("notrain: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("notrain: GET %s: read the answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp, b)
	}
	return b, nil
}
