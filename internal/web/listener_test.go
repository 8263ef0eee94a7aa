package web_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/web"
)

// liveListener serves h on 127.0.0.1 with the public listener's server and
// per-client cap, and returns its address.
func liveListener(t *testing.T, perClient int, exempt ...netip.Prefix) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := web.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), nil)
	go hs.Serve(web.LimitPerClient(l, perClient, exempt))
	t.Cleanup(func() { hs.Close() })
	return l.Addr().String()
}

// keepAlive opens a connection from the local address from and completes
// one request on it, leaving it open; ok is false when the server refused.
func keepAlive(t *testing.T, addr, from string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		c.Close()
		return nil, false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetDeadline(time.Time{})
	return c, resp.StatusCode == http.StatusOK
}

// One client cannot hold every slot with idle keep-alive connections: past
// its cap its connections are closed at once, while another client (here
// 127.0.0.2, also loopback) is still served; a closed connection frees its
// slot; a trusted proxy, carrying many clients, is not capped.
func TestConnectionsPerClientAreCapped(t *testing.T) {
	const cap = 4
	addr := liveListener(t, cap, netip.MustParsePrefix("127.0.0.3/32"))
	var held []net.Conn
	for i := range cap {
		c, ok := keepAlive(t, addr, "127.0.0.1")
		if !ok {
			t.Fatalf("connection %d of %d refused", i+1, cap)
		}
		held = append(held, c)
	}
	if c, ok := keepAlive(t, addr, "127.0.0.1"); ok {
		c.Close()
		t.Fatalf("connection %d from one client was served, cap is %d", cap+1, cap)
	}
	other, ok := keepAlive(t, addr, "127.0.0.2")
	if !ok {
		t.Fatal("another client was refused while the first held its cap")
	}
	other.Close()
	held[0].Close()
	time.Sleep(100 * time.Millisecond) // the server sees the close
	c, ok := keepAlive(t, addr, "127.0.0.1")
	if !ok {
		t.Fatal("a closed connection did not free its slot")
	}
	c.Close()
	for i := range cap + 2 {
		c, ok := keepAlive(t, addr, "127.0.0.3")
		if !ok {
			t.Fatalf("trusted proxy connection %d refused", i+1)
		}
		defer c.Close()
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

// An idle keep-alive connection is closed by the server well before the two
// minutes it used to be allowed.
func TestIdleConnectionsAreClosed(t *testing.T) {
	if web.IdleTimeout > 15*time.Second {
		t.Fatalf("idle timeout %s", web.IdleTimeout)
	}
	t.Parallel()
	addr := liveListener(t, 0)
	c, ok := keepAlive(t, addr, "127.0.0.1")
	if !ok {
		t.Fatal("refused")
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(start.Add(web.IdleTimeout + 5*time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: %v after %s, want the server to close it", err, time.Since(start))
	}
	if d := time.Since(start); d < web.IdleTimeout-time.Second {
		t.Fatalf("closed after %s, before the idle timeout", d)
	}
}
