package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr returns the address rate limits apply to. X-Forwarded-For is
// believed only from configured proxies, read right to left, so a client
// cannot reset its limit by sending a forged header. IPv6 clients are
// grouped by /64, the block one subscriber usually gets.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	addr = addr.Unmap()
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: stop at the last address we can vouch for
			}
			addr = a.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	return clientPrefix(addr)
}

// clientPrefix is the block one subscriber usually gets: the address
// itself for IPv4, its /64 for IPv6.
func clientPrefix(addr netip.Addr) netip.Prefix {
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client is the key the service's per-client limit counts requests under.
func (s *Server) client(r *http.Request) string {
	p := clientAddr(r, s.cfg.TrustedProxies)
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// ClientAddrFunc names a request's client as the portal's rate limits do
// (trusted proxies' X-Forwarded-For believed, IPv6 by /64), for other
// handlers that limit per client, such as the console's login.
func ClientAddrFunc(trusted []netip.Prefix) func(*http.Request) string {
	return func(r *http.Request) string { return clientAddr(r, trusted).String() }
}
