package assertion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Keys is where a Verifier finds the platform's keys: a fixed set (a
// file) or one fetched from the platform's JWKS URL.
type Keys interface {
	// KeySet returns the keys to check a token with; kid is the token's
	// key id, so that a set that lacks it can be refreshed first.
	// ErrKeysUnavailable: there is no set at all.
	KeySet(ctx context.Context, kid string) (*KeySet, error)
}

// ErrKeysUnavailable: the platform's keys have never been fetched, so no
// assertion can be checked.
var ErrKeysUnavailable = errors.New("assertion: the platform's keys could not be fetched")

// Remote fetching bounds.
const (
	// DefaultRefresh is how long a fetched set is used when its answer
	// names no Cache-Control max-age.
	DefaultRefresh = 10 * time.Minute
	// minRefresh and maxRefresh bound a max-age: a platform's zero must
	// not make every assertion a fetch, nor a year keep a revoked key.
	minRefresh = time.Minute
	maxRefresh = 24 * time.Hour
	// UnknownKidEvery is how often a token with a key id the set lacks
	// may cause a fetch: a rotated key is found within seconds, while
	// tokens with made-up key ids cannot make notrain hammer the platform.
	UnknownKidEvery = time.Minute
	// retryFailed is how soon a failed fetch is tried again.
	retryFailed = 10 * time.Second
	// FetchTimeout bounds one fetch.
	FetchTimeout = 10 * time.Second
)

// StaticKeys is a key set that never changes (--platform-jwks FILE).
type StaticKeys struct{ set *KeySet }

// KeySet returns the set.
func (s StaticKeys) KeySet(context.Context, string) (*KeySet, error) { return s.set, nil }

// LoadKeys reads the key set named by --platform-jwks: a file, read and
// checked now (an error if it is missing, malformed or has no usable key),
// or an https URL (http only on loopback), fetched now and refreshed as
// its answers say. A URL that cannot be fetched now is not an error: the
// set is fetched again on the next assertion, which meanwhile are refused
// as unverifiable; log says so.
func LoadKeys(ctx context.Context, spec string, client *http.Client, now func() time.Time, log *slog.Logger) (Keys, error) {
	if log == nil {
		log = slog.Default()
	}
	if strings.HasPrefix(spec, "https://") || strings.HasPrefix(spec, "http://") {
		r, err := NewRemoteKeys(spec, client, now, log)
		if err != nil {
			return nil, err
		}
		if _, err := r.KeySet(ctx, ""); err != nil {
			log.Warn("platform keys not fetched yet: assertions are refused until they are", "url", spec, "err", r.LastError())
		}
		return r, nil
	}
	f, err := os.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("assertion: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeySet+1))
	if err != nil {
		return nil, fmt.Errorf("assertion: %s: %w", spec, err)
	}
	set, err := ParseKeySet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	return StaticKeys{set: set}, nil
}

// RemoteKeys is the platform's key set fetched from its JWKS URL and
// refreshed: when its Cache-Control max-age (else DefaultRefresh) has
// passed, and, at most once per UnknownKidEvery, when a token names a key
// id the set lacks. While the URL cannot be fetched the last good set is
// used.
type RemoteKeys struct {
	url    string
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	fetch sync.Mutex // one fetch at a time

	mu         sync.Mutex
	set        *KeySet
	freshUntil time.Time
	nextTry    time.Time // after a failure
	lastKid    time.Time // the last fetch for an unknown key id
	lastErr    error
}

// NewRemoteKeys checks the URL (https, or http on a loopback host only:
// keys fetched in clear over a network could be anyone's).
func NewRemoteKeys(raw string, client *http.Client, now func() time.Time, log *slog.Logger) (*RemoteKeys, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("assertion: key set URL %q is not a URL", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	default:
		return nil, fmt.Errorf("assertion: key set URL %q: use https (http only on loopback)", raw)
	}
	if client == nil {
		client = &http.Client{Timeout: FetchTimeout}
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &RemoteKeys{url: u.String(), client: client, now: now, log: log}, nil
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// KeySet returns the current set, fetching it first when it is stale or
// lacks kid (within the bounds above). When a set exists and another
// request is already fetching, the existing set is used without waiting.
func (r *RemoteKeys) KeySet(ctx context.Context, kid string) (*KeySet, error) {
	now := r.now()
	r.mu.Lock()
	set := r.set
	due := set == nil || !now.Before(r.freshUntil)
	if set != nil && kid != "" && !set.has(kid) && now.Sub(r.lastKid) >= UnknownKidEvery {
		due = true
		r.lastKid = now
	}
	if now.Before(r.nextTry) {
		due = false
	}
	r.mu.Unlock()
	if due {
		if set == nil {
			r.fetch.Lock()
		} else if !r.fetch.TryLock() {
			return set, nil
		}
		set = r.refresh(ctx, kid)
		r.fetch.Unlock()
	}
	if set == nil {
		return nil, ErrKeysUnavailable
	}
	return set, nil
}

// LastError is why the last fetch failed (nil after a success).
func (r *RemoteKeys) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// refresh fetches the set (unless a fetch that ran while this one waited
// made it fresh and gave it kid) and returns the set to use.
func (r *RemoteKeys) refresh(ctx context.Context, kid string) *KeySet {
	now := r.now()
	r.mu.Lock()
	if r.set != nil && now.Before(r.freshUntil) && (kid == "" || r.set.has(kid)) {
		set := r.set
		r.mu.Unlock()
		return set
	}
	r.mu.Unlock()
	set, maxAge, err := r.get(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.lastErr = err
		r.nextTry = now.Add(retryFailed)
		r.log.Warn("platform keys not refreshed; the last good set stays in use", "url", r.url, "err", err, "have_set", r.set != nil)
		return r.set
	}
	r.set, r.lastErr, r.nextTry = set, nil, time.Time{}
	r.freshUntil = now.Add(maxAge)
	return set
}

func (r *RemoteKeys) get(ctx context.Context) (*KeySet, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("assertion: key set: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, 0, fmt.Errorf("assertion: key set: timed out: %w", err)
		}
		return nil, 0, fmt.Errorf("assertion: key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("assertion: key set: %s answered %s", r.url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxKeySet+1))
	if err != nil {
		return nil, 0, fmt.Errorf("assertion: key set: %w", err)
	}
	set, err := ParseKeySet(b)
	if err != nil {
		return nil, 0, err
	}
	return set, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads a Cache-Control max-age, bounded; DefaultRefresh without one.
func maxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(name, "max-age") {
			continue
		}
		n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
		switch {
		case err != nil || n < 0:
			return DefaultRefresh
		case n > int64(maxRefresh/time.Second):
			return maxRefresh
		}
		return max(time.Duration(n)*time.Second, minRefresh)
	}
	return DefaultRefresh
}
