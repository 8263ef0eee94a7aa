// Package console is the privacy team's web console (/admin) and its machine
// API (/api/v1/admin): log in, the review queue with its decisions, the
// dashboard and the evidence export. All routes are in routes.go; every
// route there names who may use it, and the list's wrapper enforces it.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/httpsec"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// MaxBody is the largest request body the console accepts (413 beyond).
const MaxBody = 16 << 10

// Cookie names. The session cookie is scoped to /admin: the portal's pages
// never see it.
const (
	sessionCookie = "notrain_admin"
	preCookie     = "notrain_admin_pre"
	langCookie    = "lang"
)

// Exporter builds the signed evidence file for a reference; the operator
// who asked is recorded with the export.
type Exporter interface {
	Export(ctx context.Context, reference, operator string) ([]byte, error)
}

// Config is what the console needs.
type Config struct {
	DB        *store.DB
	Keys      *secret.Keys
	Catalog   *locale.Catalog
	Operators *operator.Service
	Queue     review.Queue // nil: the pages say the review queue is not configured
	Evidence  Exporter     // nil: the pages say the evidence export is not configured
	BaseURL   string       // the console's public URL, for set-up links made in it
	// PublicHTTPS makes cookies Secure whatever the request (behind a TLS
	// proxy the console may see plain HTTP from loopback).
	PublicHTTPS bool
	// ItemURL maps an item id to the platform's URL for it ("" = none).
	ItemURL func(id string) string
	// ClientAddr names the client of a request for the login rate limit
	// (default: the connection's address).
	ClientAddr func(*http.Request) string
	Now        func() time.Time
	Log        *slog.Logger
}

// Console serves the console.
type Console struct {
	cfg   Config
	pages *renderer
	log   *slog.Logger
}

// New builds the console; a broken template or a missing translation fails
// here, not on a request.
func New(cfg Config) (*Console, error) {
	if cfg.DB == nil || cfg.Keys == nil || cfg.Catalog == nil || cfg.Operators == nil {
		return nil, errors.New("console: store, keys, catalog and operators are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteAddr
	}
	if cfg.ItemURL == nil {
		cfg.ItemURL = func(string) string { return "" }
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	pages, err := newRenderer(cfg.Catalog)
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, pages: pages, log: cfg.Log}, nil
}

func (c *Console) now() time.Time { return c.cfg.Now().UTC() }

// Handler serves every console route with the console's own protections
// (headers, body limit, cross-origin refusal), so it is safe on its own
// listener as well as mounted in the portal's.
func (c *Console) Handler() http.Handler {
	return c.recoverer(httpsec.Headers(noStore(httpsec.LimitBody(MaxBody, c.crossOrigin(c.routes())))))
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// secureCookie: always when the public URL is https, else unless served to
// loopback over plain HTTP (a local test or demo keeps no Secure cookie).
func (c *Console) secureCookie(r *http.Request) bool {
	return c.cfg.PublicHTTPS || !loopbackRequest(r)
}

func loopbackRequest(r *http.Request) bool {
	if r.TLS != nil {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// noStore keeps console answers (personal data of the cases) out of every
// cache.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses form posts another site's page makes (Sec-Fetch-Site
// and Origin); the CSRF token is the second, independent check.
func (c *Console) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			c.apiError(w, r, http.StatusForbidden, "cross_origin")
			return
		}
		c.message(w, r, http.StatusForbidden, "admin_err_csrf")
	}))
	return cop.Handler(next)
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

func (c *Console) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.log.Error("console panic", "route", r.Pattern, "value", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// lang picks the page language: ?lang= (remembered), the cookie, then
// Accept-Language.
func (c *Console) lang(w http.ResponseWriter, r *http.Request) string {
	cat := c.cfg.Catalog
	if l := r.URL.Query().Get("lang"); cat.Has(l) {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.secureCookie(r)})
		return l
	}
	if ck, err := r.Cookie(langCookie); err == nil && cat.Has(ck.Value) {
		return ck.Value
	}
	return cat.Match(r.Header.Get("Accept-Language"))
}

type ctxKey struct{}

// sessionOf is the operator's session a page runs in (set by the route
// wrapper; the zero Session on public routes).
func sessionOf(r *http.Request) operator.Session {
	s, _ := r.Context().Value(ctxKey{}).(operator.Session)
	return s
}
