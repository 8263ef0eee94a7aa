// Package web serves notrain's pages and JSON API. All routes are in
// routes.go; handlers are methods on Server, one file per group.
package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/httpsec"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/mydata"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/translog"
)

// MaxBody is the largest request body accepted (413 beyond).
const MaxBody = 16 << 10

// Config configures the web layer.
type Config struct {
	Dev                bool           // dev mailbox routes and banner
	TrustedProxies     []netip.Prefix // whose X-Forwarded-For is believed (the service applies the limit)
	ThirdPartyExcluded bool           // what confirmation pages say about tags and mentions
	Now                func() time.Time
	Log                *slog.Logger
	Composer           *mail.Composer  // renders mails for the dev mailbox
	Keys               *secret.Keys    // hashes bearer tokens (required)
	LogKey             *translog.Key   // the log's key; its verifier key is published
	PublicHTTPS        bool            // --base-url is https: cookies are Secure whatever the Host
	Backlog            Backlog         // whether code mails are behind; nil: never said
	Reports            *report.Service // "content that shows me"; nil: no report routes
	// Consent is the policy's mode consent: the consent pages and API
	// exist (the consent flows must be registered on the service). In
	// objection mode they are not routes at all.
	Consent bool
	// Admin serves the operator console under /admin and /api/v1/admin
	// (console.Console.Handler); nil: those paths are 404 here, as when the
	// console has a listener of its own (serve --admin-addr).
	Admin http.Handler
	// Assertions checks the platform's signed assertions (one click for a
	// person signed in there); nil: a Bearer on the objection API is
	// refused and ?assertion= links show an error.
	Assertions *assertion.Verifier
}

// Backlog tells whether code mails wait longer than they should. It is
// the service's state, never a person's, so what pages say with it is the
// same for every address. *backlog.Monitor is one.
type Backlog interface {
	Behind() bool
}

// Server is the HTTP side of notrain.
type Server struct {
	svc      *objection.Service
	db       *store.DB
	cat      *locale.Catalog
	pages    *renderer
	m        *metrics.Metrics
	gatherer prometheus.Gatherer
	cfg      Config
	log      *slog.Logger
	mydata   *mydata.Service
}

// New builds the server; it fails if a template or translation is broken.
func New(svc *objection.Service, db *store.DB, cat *locale.Catalog, m *metrics.Metrics, g prometheus.Gatherer, cfg Config) (*Server, error) {
	pages, err := newRenderer(cat)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LogKey == nil {
		return nil, errors.New("web: no log key: the log's checkpoints cannot be verified without it")
	}
	if cfg.Keys == nil {
		return nil, errors.New("web: no keys to check bearer tokens with")
	}
	if cfg.Consent && (!svc.Runs(consent.FlowGive) || !svc.Runs(consent.FlowWithdraw)) {
		return nil, errors.New("web: consent mode, but the service runs no consent flows (consent.Register)")
	}
	md := mydata.New(db, cfg.Keys, receipt.Maker{Log: db.RecentLog()}, cfg.Now)
	return &Server{svc: svc, db: db, cat: cat, pages: pages, m: m, gatherer: g, cfg: cfg, log: cfg.Log, mydata: md}, nil
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// behind reports whether pages and answers should say that codes are late.
func (s *Server) behind() bool { return s.cfg.Backlog != nil && s.cfg.Backlog.Behind() }

// Handler returns the complete handler people reach, with its middleware.
func (s *Server) Handler() http.Handler {
	h := s.recoverer(s.instrument(httpsec.Headers(httpsec.LimitBody(MaxBody, s.crossOrigin(s.routes())))))
	if s.cfg.Dev {
		h = loopbackHostOnly(h)
	}
	return h
}

// MetricsHandler serves /metrics (and /healthz) for the operator's own
// listener; it is not part of Handler.
func (s *Server) MetricsHandler() http.Handler {
	return s.recoverer(s.metricsRoutes())
}
