package web

import (
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Connection limits of the public listener. A keep-alive connection that
// sits unused still holds one of the listener's slots (and a descriptor);
// with two minutes of idle time one client could open them all and keep
// them. Idle connections are closed after IdleTimeout, and one client
// address holds at most DefaultConnsPerClient connections at a time.
const (
	IdleTimeout           = 15 * time.Second
	DefaultConnsPerClient = 32
)

// NewHTTPServer is the public listener's server, with the timeouts that
// keep slow or idle clients from holding connections.
func NewHTTPServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          errorLog,
	}
}

// LimitPerClient lets each client address (IPv6 by /64, as the rate limits
// group them) hold at most perClient open connections; a connection beyond
// that is closed at once. Connections from exempt prefixes (trusted reverse
// proxies, which carry many clients) are not counted. perClient <= 0 turns
// the cap off.
func LimitPerClient(l net.Listener, perClient int, exempt []netip.Prefix) net.Listener {
	if perClient <= 0 {
		return l
	}
	return &clientLimit{Listener: l, max: perClient, exempt: exempt, open: map[netip.Prefix]int{}}
}

type clientLimit struct {
	net.Listener
	max    int
	exempt []netip.Prefix

	mu   sync.Mutex
	open map[netip.Prefix]int
}

// Accept returns the next connection within its client's cap.
func (l *clientLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := l.key(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *clientLimit) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// key is the client a connection counts against; ok is false for exempt
// and unparseable addresses.
func (l *clientLimit) key(a net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	addr := ap.Addr().Unmap()
	if isTrusted(addr, l.exempt) {
		return netip.Prefix{}, false
	}
	return clientPrefix(addr), true
}

// countedConn gives its slot back once, when it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
