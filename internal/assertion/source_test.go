package assertion

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwksServer is a JWKS endpoint on loopback whose set, answer and
// Cache-Control the test changes.
type jwksServer struct {
	mu     sync.Mutex
	body   []byte
	status int
	cc     string
	hits   atomic.Int64
}

func (p *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.hits.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cc != "" {
		w.Header().Set("Cache-Control", p.cc)
	}
	w.WriteHeader(p.status)
	w.Write(p.body)
}

func (p *jwksServer) set(status int, body []byte, cc string) {
	p.mu.Lock()
	p.status, p.body, p.cc = status, body, cc
	p.mu.Unlock()
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRemoteKeys(t *testing.T) {
	k := newTestKeys(t)
	p := &jwksServer{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	clk := &clock{t: t0}
	ctx := context.Background()

	// Never fetched: no set, and the failure is not retried at once.
	p.set(http.StatusServiceUnavailable, nil, "")
	ks, err := LoadKeys(ctx, srv.URL+"/jwks.json", srv.Client(), clk.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{Issuer: testIssuer, Audience: testAudience, Keys: ks, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(kid string) string {
		c := goodClaims()
		c["iat"], c["exp"] = clk.now().Unix(), clk.now().Add(5*time.Minute).Unix()
		return sign(t, jose.EdDSA, k.ed, kid, c)
	}
	_, err = v.Verify(ctx, tok("ed-1"))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeKeysUnavailable {
		t.Fatalf("without keys: %v", err)
	}
	if n := p.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (the failed one is not retried at once)", n)
	}

	// Fetched once the platform answers; kept for its max-age.
	p.set(http.StatusOK, k.jwks, "public, max-age=300")
	clk.add(retryFailed)
	if _, err := v.Verify(ctx, tok("ed-1")); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := v.Verify(ctx, tok("ed-1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}

	// A rotated key: an unknown kid refetches at once, but only once a minute.
	_, ed2, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: ed2.Public(), KeyID: "ed-2", Algorithm: "EdDSA"}}})
	p.set(http.StatusOK, rotated, "max-age=300")
	c := goodClaims()
	c["iat"], c["exp"] = clk.now().Unix(), clk.now().Add(5*time.Minute).Unix()
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, ed2, "ed-2", c)); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := p.hits.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	for range 5 {
		if _, err := v.Verify(ctx, tok("made-up")); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := p.hits.Load(); n != 3 {
		t.Fatalf("%d fetches after unknown kids, want 3 (one a minute)", n)
	}
	clk.add(UnknownKidEvery)
	if _, err := v.Verify(ctx, tok("made-up")); err == nil {
		t.Fatal("unknown kid accepted")
	}
	if n := p.hits.Load(); n != 4 {
		t.Fatalf("%d fetches a minute later, want 4", n)
	}

	// The platform fails: the last good set stays in use after max-age.
	p.set(http.StatusInternalServerError, []byte("down"), "")
	clk.add(6 * time.Minute)
	c["iat"], c["exp"] = clk.now().Unix(), clk.now().Add(5*time.Minute).Unix()
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, ed2, "ed-2", c)); err != nil {
		t.Fatalf("last good set not used: %v", err)
	}
	if n := p.hits.Load(); n != 5 {
		t.Fatalf("%d fetches, want 5", n)
	}

	// A set without usable keys is a failed fetch too.
	p.set(http.StatusOK, []byte(`{"keys":[]}`), "")
	clk.add(time.Minute)
	if _, err := v.Verify(ctx, sign(t, jose.EdDSA, ed2, "ed-2", c)); err != nil {
		t.Fatalf("an empty set replaced the good one: %v", err)
	}
}

func TestRemoteKeysBodyLimit(t *testing.T) {
	big := make([]byte, MaxKeySet+10)
	for i := range big {
		big[i] = ' '
	}
	copy(big, `{"keys":[]}`)
	p := &jwksServer{}
	p.set(http.StatusOK, big, "")
	srv := httptest.NewServer(p)
	defer srv.Close()
	r, err := NewRemoteKeys(srv.URL, srv.Client(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.KeySet(context.Background(), ""); !errors.Is(err, ErrKeysUnavailable) || r.LastError() == nil {
		t.Fatalf("an oversized set: %v (%v)", err, r.LastError())
	}
}

func TestRemoteKeysURL(t *testing.T) {
	for _, u := range []string{"http://platform.example/jwks", "ftp://127.0.0.1/x", "https://", "http://10.0.0.1/jwks"} {
		if _, err := NewRemoteKeys(u, nil, nil, nil); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://platform.example/.well-known/jwks.json", "http://127.0.0.1:9000/jwks", "http://localhost/jwks", "http://[::1]/jwks"} {
		if _, err := NewRemoteKeys(u, nil, nil, nil); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestMaxAge(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                        DefaultRefresh,
		"max-age=300":             5 * time.Minute,
		"public, max-age=3600":    time.Hour,
		"max-age=0":               minRefresh,
		"max-age=999999999999999": maxRefresh,
		"max-age=abc":             DefaultRefresh,
		"no-cache":                DefaultRefresh,
	} {
		if got := maxAge(cc); got != want {
			t.Errorf("%q: %s, want %s", cc, got, want)
		}
	}
}
