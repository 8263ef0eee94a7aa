package assertion

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// nonLoopbackIPv4 is an address of this machine that is not loopback, so
// that a plain-http server on it is "on the network".
func nonLoopbackIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address")
	return ""
}

// A JWKS URL that is allowed (http on loopback, or https) must not lead,
// by a redirect, to keys fetched in clear over the network.
func TestRemoteKeysRefuseRedirectToPlainHTTPOnTheNetwork(t *testing.T) {
	ip := nonLoopbackIPv4(t)
	_, evil, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	evilSet, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: evil.Public(), KeyID: "ed-1", Algorithm: "EdDSA"}}})
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	network := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(evilSet)
	})}}
	network.Start()
	defer network.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, network.URL+"/jwks.json", http.StatusFound)
	}))
	defer redirector.Close()

	for name, client := range map[string]*http.Client{"default client": nil, "caller's client": {Timeout: 5 * time.Second}} {
		t.Run(name, func(t *testing.T) {
			ks, err := NewRemoteKeys(redirector.URL+"/jwks.json", client, func() time.Time { return t0 }, nil)
			if err != nil {
				t.Fatal(err)
			}
			if set, err := ks.KeySet(context.Background(), ""); err == nil {
				t.Fatalf("keys fetched over plain http on %s after a redirect: %d keys", ip, set.Len())
			}
		})
	}
	// A redirect that stays on loopback is still followed.
	k := newTestKeys(t)
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(k.jwks) }))
	defer local.Close()
	hop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, local.URL+"/jwks.json", http.StatusFound)
	}))
	defer hop.Close()
	ks, err := NewRemoteKeys(hop.URL, nil, func() time.Time { return t0 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if set, err := ks.KeySet(context.Background(), ""); err != nil || set.Len() != 2 {
		t.Fatalf("loopback redirect: %v", err)
	}
}

// While no set was ever fetched and the platform is slow to fail, requests
// that queued behind the first fetch must not each fetch again: the
// platform would get one fetch per waiting request, and each request
// would wait for all the fetches before it.
func TestRemoteKeysSlowFailureIsFetchedOnce(t *testing.T) {
	p := &jwksServer{}
	p.set(http.StatusServiceUnavailable, nil, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		p.ServeHTTP(w, r)
	}))
	defer srv.Close()
	clk := &clock{t: t0}
	ks, err := NewRemoteKeys(srv.URL, srv.Client(), clk.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := ks.KeySet(context.Background(), "ed-1"); err == nil {
				t.Error("a set without a fetch that worked")
			}
		})
	}
	wg.Wait()
	if n := p.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 5 requests within %s, want 1", n, retryFailed)
	}
}

// A request that gives up (its client went away) must not make the fetch
// it started fail for everyone: a client cancelling at will could keep the
// set from ever being refreshed, so a revoked key would stay trusted.
func TestRemoteKeysFetchOutlivesTheRequest(t *testing.T) {
	k := newTestKeys(t)
	p := &jwksServer{}
	p.set(http.StatusOK, k.jwks, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		p.ServeHTTP(w, r)
	}))
	defer srv.Close()
	clk := &clock{t: t0}
	ks, err := NewRemoteKeys(srv.URL, srv.Client(), clk.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ks.KeySet(ctx, "")
	if err := ks.LastError(); err != nil {
		t.Fatalf("a request's cancellation failed the fetch: %v", err)
	}
	// And the next request does not have to wait out retryFailed.
	if set, err := ks.KeySet(context.Background(), ""); err != nil || set.Len() != 2 {
		t.Fatalf("after a cancelled request: %v", err)
	}
}
