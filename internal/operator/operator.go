// Package operator is the privacy team's side of notrain: operators with a
// role, their passwords (argon2id) and optional TOTP second factor, the
// one-time link that sets an operator up, console sessions with their CSRF
// tokens, and the login rate limit. It knows nothing of HTTP.
package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Roles. A reviewer works the review queue and reads the dashboard; an
// admin also exports evidence and adds operators.
const (
	RoleReviewer = "reviewer"
	RoleAdmin    = "admin"
)

// Lifetimes and limits.
const (
	SetupTTL       = 24 * time.Hour
	SessionIdle    = 30 * time.Minute
	SessionMaxAge  = 12 * time.Hour
	LoginWindow    = 15 * time.Minute
	LoginMaxFailed = 5
	MaxName        = 64
	touchEvery     = time.Minute
)

// Token hash kinds (secret.Keys.TokenHash), one per token family.
const (
	kindSetup     = "operator-setup"
	kindSession   = "operator-session"
	kindCSRF      = "operator-csrf"
	kindPreCSRF   = "operator-pre-csrf"
	kindLoginName = "operator-login-name"
	kindLoginAddr = "operator-login-addr"
)

// Errors.
var (
	ErrBadName     = errors.New("operator: a name is 1 to 64 letters, digits, '.', '-' or '_'")
	ErrBadRole     = errors.New("operator: role must be reviewer or admin")
	ErrExists      = errors.New("operator: an operator with this name exists")
	ErrSetupLink   = errors.New("operator: the set-up link is not valid (used, expired or unknown)")
	ErrPassword    = fmt.Errorf("operator: a password is %d to %d characters", MinPassword, MaxPassword)
	ErrMismatch    = errors.New("operator: the two passwords differ")
	ErrTOTPCode    = errors.New("operator: the code from the authenticator app is not right")
	ErrLoginFailed = errors.New("operator: name, password or code not right")
	ErrLocked      = errors.New("operator: too many failed logins; try again later")
	ErrNoSession   = errors.New("operator: no valid session")
)

// ParseRole accepts exactly a role.
func ParseRole(s string) (string, error) {
	if s == RoleReviewer || s == RoleAdmin {
		return s, nil
	}
	return "", ErrBadRole
}

// ValidName reports whether s can name an operator: it appears in ledger
// entries and on pages, so plain characters only.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxName {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Service manages operators and their sessions.
type Service struct {
	db   *store.DB
	keys *secret.Keys
	now  func() time.Time
}

// New makes a Service; now is the clock (time.Now when nil).
func New(db *store.DB, keys *secret.Keys, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keys: keys, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// Added is the ledger body of operator.added. The ledger is public, so
// it names both operators by pseudonym (secret.Keys.OperatorPseudonym);
// the store keeps the names behind them for the evidence export.
type Added struct {
	Operator string `json:"operator"`
	Role     string `json:"role"`
	By       string `json:"by"` // who added it: pseudonym of "cli" or of an admin's name
}

// Add creates an operator without a password and returns the token of its
// one-time set-up link (valid SetupTTL). The ledger records who added whom.
func (s *Service) Add(ctx context.Context, name, role, by string) (string, error) {
	if !ValidName(name) {
		return "", ErrBadName
	}
	if _, err := ParseRole(role); err != nil {
		return "", err
	}
	now := s.clock()
	tok := ids.Random(32)
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.InsertOperator(ctx, store.Operator{Name: name, Role: role, CreatedAt: now, CreatedBy: by}); err != nil {
			return err
		}
		if err := tx.InsertSetupToken(ctx, s.keys.TokenHash(kindSetup, tok), name, now, now.Add(SetupTTL)); err != nil {
			return err
		}
		added := Added{Operator: s.keys.OperatorPseudonym(name), Role: role, By: s.keys.OperatorPseudonym(by)}
		if err := tx.NameOperator(ctx, added.Operator, name, now); err != nil {
			return err
		}
		if err := tx.NameOperator(ctx, added.By, by, now); err != nil {
			return err
		}
		_, err := tx.Append(ctx, now, ledger.KindOperatorAdded, added)
		return err
	})
	if errors.Is(err, store.ErrExists) {
		return "", ErrExists
	}
	if err != nil {
		return "", fmt.Errorf("operator: add: %w", err)
	}
	return tok, nil
}

// SetupLink is the link an operator opens to choose a password.
func SetupLink(baseURL, token string) string {
	return strings.TrimSuffix(baseURL, "/") + "/admin/setup/" + token
}

// SetupFor names the operator a set-up token is for, or ErrSetupLink.
func (s *Service) SetupFor(ctx context.Context, token string) (string, error) {
	if !plausibleToken(token) {
		return "", ErrSetupLink
	}
	name, err := s.db.SetupTokenOperator(ctx, s.keys.TokenHash(kindSetup, token), s.clock())
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrSetupLink
	}
	return name, err
}

// Setup is what the set-up page submits.
type Setup struct {
	Password, Confirm string
	TOTPSecret        string // from NewTOTP, shown on the page; "" = no second factor
	TOTPCode          string // the app's current code, proving it was enrolled
}

// CompleteSetup consumes the set-up token and stores the password hash
// (and the second factor, once a code from it was right). Any session the
// operator had ends.
func (s *Service) CompleteSetup(ctx context.Context, token string, in Setup) (string, error) {
	name, err := s.SetupFor(ctx, token)
	if err != nil {
		return "", err
	}
	if n := len([]rune(in.Password)); n < MinPassword || len(in.Password) > MaxPassword {
		return "", ErrPassword
	}
	if in.Password != in.Confirm {
		return "", ErrMismatch
	}
	now := s.clock()
	secretKey, step := "", int64(0)
	if in.TOTPSecret != "" || in.TOTPCode != "" {
		var ok bool
		if step, ok = totpStep(in.TOTPSecret, in.TOTPCode, now); !ok {
			return "", ErrTOTPCode
		}
		secretKey = in.TOTPSecret
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return "", err
	}
	err = s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		got, err := tx.UseSetupToken(ctx, s.keys.TokenHash(kindSetup, token), now)
		if err != nil {
			return err
		}
		if got != name {
			return store.ErrUsed
		}
		if err := tx.SetOperatorCredentials(ctx, name, hash, secretKey, step, now); err != nil {
			return err
		}
		return tx.DeleteOperatorSessions(ctx, name)
	})
	if errors.Is(err, store.ErrUsed) {
		return "", ErrSetupLink
	}
	if err != nil {
		return "", fmt.Errorf("operator: set up: %w", err)
	}
	return name, nil
}

// Session is a logged-in operator.
type Session struct {
	Operator string
	Role     string
	CSRF     string // the token every form of this session carries
	Expires  time.Time
}

// IsAdmin reports whether the session may do admin things.
func (s Session) IsAdmin() bool { return s.Role == RoleAdmin }

// Login checks a name, a password and (when enrolled) a TOTP code, and
// returns a new session's token. Every failure is ErrLoginFailed, whether
// the name exists or not, and takes one argon2id hash either way; after
// LoginMaxFailed failures within LoginWindow for the name or for the client
// address, ErrLocked for the rest of the window.
func (s *Service) Login(ctx context.Context, name, password, code, client string) (string, Session, error) {
	now := s.clock()
	keys := []string{s.keys.TokenHash(kindLoginName, strings.ToLower(name)), s.keys.TokenHash(kindLoginAddr, client)}
	for _, k := range keys {
		n, _, err := s.db.LoginFailures(ctx, k, now.Add(-LoginWindow))
		if err != nil {
			return "", Session{}, err
		}
		if n >= LoginMaxFailed {
			return "", Session{}, ErrLocked
		}
	}
	op, err := s.db.OperatorByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", Session{}, err
	}
	hash := op.PasswordHash
	if err != nil || hash == "" || !ValidName(name) || len(password) > MaxPassword {
		hash = dummyHash()
	}
	ok, herr := CheckPassword(hash, password)
	ok = ok && herr == nil && err == nil && op.PasswordHash != ""
	step := int64(0)
	if ok && op.TOTPSecret != "" {
		step, ok = totpStep(op.TOTPSecret, code, now)
	}
	if !ok {
		if err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return tx.LoginFailure(ctx, now, keys...) }); err != nil {
			return "", Session{}, err
		}
		return "", Session{}, ErrLoginFailed
	}
	tok := ids.Random(32)
	sess := store.OperatorSession{Hash: s.keys.TokenHash(kindSession, tok), Operator: op.Name, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionMaxAge)}
	err = s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if step > 0 {
			if err := tx.UseTOTPStep(ctx, op.Name, step); err != nil {
				return err
			}
		}
		return tx.InsertOperatorSession(ctx, sess)
	})
	if errors.Is(err, store.ErrUsed) {
		// The code was right but already used: a replay.
		return "", Session{}, ErrLoginFailed
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("operator: login: %w", err)
	}
	return tok, Session{Operator: op.Name, Role: op.Role, CSRF: s.CSRF(tok), Expires: sess.ExpiresAt}, nil
}

// CSRF is the form token of the session whose token is tok: derived, not
// stored, and useless without the session cookie it is bound to.
func (s *Service) CSRF(tok string) string { return s.keys.TokenHash(kindCSRF, tok) }

// PreCSRF is the form token of the login and set-up pages, bound to a
// random cookie the browser holds before it has a session.
func (s *Service) PreCSRF(cookie string) string { return s.keys.TokenHash(kindPreCSRF, cookie) }

// Session checks a session token: it must exist and be neither idle for
// SessionIdle nor older than SessionMaxAge. The idle clock moves at most
// once a minute, so reading pages does not write on every request.
func (s *Service) Session(ctx context.Context, tok string) (Session, error) {
	if !plausibleToken(tok) {
		return Session{}, ErrNoSession
	}
	now := s.clock()
	h := s.keys.TokenHash(kindSession, tok)
	st, err := s.db.OperatorSessionByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	if !now.Before(st.ExpiresAt) || !now.Before(st.LastSeenAt.Add(SessionIdle)) {
		return Session{}, ErrNoSession
	}
	op, err := s.db.OperatorByName(ctx, st.Operator)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	if now.Sub(st.LastSeenAt) >= touchEvery {
		if err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error { return tx.TouchOperatorSession(ctx, h, now) }); err != nil {
			return Session{}, err
		}
	}
	return Session{Operator: op.Name, Role: op.Role, CSRF: s.CSRF(tok), Expires: st.ExpiresAt}, nil
}

// Logout ends the session of tok (and sweeps sessions that ended anyway).
func (s *Service) Logout(ctx context.Context, tok string) error {
	now := s.clock()
	return s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		return tx.DeleteOperatorSession(ctx, s.keys.TokenHash(kindSession, tok), now.Add(-SessionIdle), now)
	})
}

// Info is what the console shows of an operator: never a hash or secret.
type Info struct {
	Name    string
	Role    string
	SetupAt time.Time // zero until the set-up link was used
	TOTP    bool      // a second factor is enrolled
}

// List returns every operator by name.
func (s *Service) List(ctx context.Context) ([]Info, error) {
	ops, err := s.db.Operators(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(ops))
	for i, o := range ops {
		out[i] = Info{Name: o.Name, Role: o.Role, SetupAt: o.SetupAt, TOTP: o.TOTPSecret != ""}
	}
	return out, nil
}

// plausibleToken bounds what is hashed and looked up.
func plausibleToken(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
