package assertion

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
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
