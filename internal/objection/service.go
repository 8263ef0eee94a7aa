// Package objection runs the objection and withdrawal flows: e-mail, one-time
// code, verification, and the state change with its ledger entry and
// confirmation mail, all in one transaction. The web pages and the JSON API
// both call this package, so both follow exactly the same rules.
package objection

import (
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Flow is what a code confirms.
type Flow string

// Flows.
const (
	FlowObjection  Flow = "objection"
	FlowWithdrawal Flow = "withdrawal"
	// FlowAccess proves an address to see "my data": its code buys a
	// short-lived access token instead of a state change.
	FlowAccess Flow = "access"
)

// AccessTTL is how long a "my data" access token is good for.
const AccessTTL = 15 * time.Minute

// Reference prefixes.
const (
	ObjectionPrefix  = "NT"
	WithdrawalPrefix = "NTW"
)

// MaxReason is the longest reason accepted, in characters.
const MaxReason = 2000

// Config is the service's configuration.
type Config struct {
	CodeTTL     time.Duration // default otp.DefaultTTL
	BaseURL     string        // for links in mails
	MailDomain  string        // right-hand side of Message-IDs: the sender address's domain
	ClientLimit int           // code requests per minute per client address; 0 = off
	SaveTimeout time.Duration // a code request not saved within this is refused unsaved (default DefaultSaveTimeout); negative: no bound
	Now         func() time.Time
}

// DefaultSaveTimeout bounds the wait for the store to take a code
// request: well above a healthy commit (milliseconds), well below the
// point where a person gives up on a spinning page.
const DefaultSaveTimeout = 3 * time.Second

// Service runs the flows.
type Service struct {
	db   *store.DB
	keys *secret.Keys
	cat  *locale.Catalog
	m    *metrics.Metrics
	wake func()
	cfg  Config
	// flows other packages own, registered before serving (flows.go).
	flows map[Flow]FlowHandler
}

// New makes a Service. wake is called after a commit that queued mail.
func New(db *store.DB, keys *secret.Keys, cat *locale.Catalog, m *metrics.Metrics, wake func(), cfg Config) (*Service, error) {
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = otp.DefaultTTL
	}
	if !otp.ValidTTL(cfg.CodeTTL) {
		return nil, fmt.Errorf("objection: code lifetime %s is outside 1 minute to %s", cfg.CodeTTL, otp.MaxTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SaveTimeout == 0 {
		cfg.SaveTimeout = DefaultSaveTimeout
	}
	if cfg.MailDomain == "" {
		cfg.MailDomain = "notrain.invalid"
	}
	if wake == nil {
		wake = func() {}
	}
	return &Service{db: db, keys: keys, cat: cat, m: m, wake: wake, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
