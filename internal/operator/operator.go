// Package operator is the privacy team's side of notrain: operators with a
// role, their passwords (argon2id) and optional TOTP second factor, the
// one-time link that sets an operator up, console sessions with their CSRF
// tokens, and the login rate limit. It knows nothing of HTTP.
package operator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
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
	ErrUnknown     = errors.New("operator: no operator with this name")
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

// NormalName is the form a name is stored and looked up in: names are
// case-insensitive, so "Rita" and "rita" are one operator.
func NormalName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Service manages operators and their sessions.
type Service struct {
	db   *store.DB
	keys *secret.Keys
	now  func() time.Time
	// hashSlots bounds the argon2id hashes running at once: each takes
	// argonMemory, so a burst of logins must not allocate without bound.
	hashSlots chan struct{}
}

// New makes a Service; now is the clock (time.Now when nil).
func New(db *store.DB, keys *secret.Keys, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keys: keys, now: now, hashSlots: make(chan struct{}, runtime.NumCPU())}
}

// tryHashSlot takes a hash slot if one is free; release gives it back.
func (s *Service) tryHashSlot() (release func(), ok bool) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, true
	default:
		return nil, false
	}
}

// hashSlot waits for a hash slot (set-up needs a valid link, so it waits
// rather than being refused).
func (s *Service) hashSlot(ctx context.Context) (func(), error) {
	select {
	case s.hashSlots <- struct{}{}:
		return func() { <-s.hashSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	name = NormalName(name)
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
		if err := s.namePseudonyms(ctx, tx, now, name, by); err != nil {
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

// ResetDone is the ledger body of operator.reset.
type ResetDone struct {
	Operator    string `json:"operator"`
	DroppedTOTP bool   `json:"dropped_totp"`
	By          string `json:"by"` // pseudonyms of the operator and of who reset it ("cli" or an admin)
}

// Disabled is the ledger body of operator.disabled.
type Disabled struct {
	Operator string `json:"operator"`
	By       string `json:"by"`
}

// Reset recovers an operator's access: every session ends, the password is
// cleared (the old one no longer logs in), the second factor goes too when
// dropTOTP, a disabled operator is enabled again, earlier set-up links stop
// working, and the token of a new one-time set-up link is returned.
func (s *Service) Reset(ctx context.Context, name string, dropTOTP bool, by string) (string, error) {
	name = NormalName(name)
	if !ValidName(name) {
		return "", ErrUnknown
	}
	now := s.clock()
	tok := ids.Random(32)
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.ResetOperator(ctx, name, dropTOTP); err != nil {
			return err
		}
		if err := tx.VoidSetupTokens(ctx, name, now); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, name); err != nil {
			return err
		}
		if err := tx.InsertSetupToken(ctx, s.keys.TokenHash(kindSetup, tok), name, now, now.Add(SetupTTL)); err != nil {
			return err
		}
		body := ResetDone{Operator: s.keys.OperatorPseudonym(name), DroppedTOTP: dropTOTP, By: s.keys.OperatorPseudonym(by)}
		if err := s.namePseudonyms(ctx, tx, now, name, by); err != nil {
			return err
		}
		_, err := tx.Append(ctx, now, ledger.KindOperatorReset, body)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnknown
	}
	if err != nil {
		return "", fmt.Errorf("operator: reset: %w", err)
	}
	return tok, nil
}

// Disable ends an operator's sessions and refuses its logins from now on
// (with the answer a wrong password gets); Reset enables it again.
func (s *Service) Disable(ctx context.Context, name, by string) error {
	name = NormalName(name)
	if !ValidName(name) {
		return ErrUnknown
	}
	now := s.clock()
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.DisableOperator(ctx, name, now); err != nil {
			return err
		}
		if err := tx.DeleteOperatorSessions(ctx, name); err != nil {
			return err
		}
		body := Disabled{Operator: s.keys.OperatorPseudonym(name), By: s.keys.OperatorPseudonym(by)}
		if err := s.namePseudonyms(ctx, tx, now, name, by); err != nil {
			return err
		}
		_, err := tx.Append(ctx, now, ledger.KindOperatorDisabled, body)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return ErrUnknown
	}
	if err != nil {
		return fmt.Errorf("operator: disable: %w", err)
	}
	return nil
}

// ErrLinkHost refuses a link base whose host only means "every interface"
// to a listener: a link to it leads nowhere.
var ErrLinkHost = errors.New("operator: a link cannot point at an unspecified host (0.0.0.0 or ::), which only tells a listener to use every interface; give the console's real address (serve --admin-base-url, operators --base-url)")

// LinkBase checks the base URL links are made from: http or https, with a
// host that a browser can reach (not 0.0.0.0 or ::). It returns it without
// a trailing slash.
func LinkBase(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("operator: %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "" || host == "0" || ip != nil && ip.IsUnspecified() {
		return "", ErrLinkHost
	}
	return strings.TrimSuffix(raw, "/"), nil
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
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	hash, err := HashPassword(in.Password)
	release()
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
		if secretKey == "" {
			// No new second factor: one a reset kept stays.
			err = tx.SetOperatorPassword(ctx, name, hash, now)
		} else {
			err = tx.SetOperatorCredentials(ctx, name, hash, secretKey, step, now)
		}
		if err != nil {
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
// the name exists, is disabled or not, and takes one argon2id hash either
// way; after LoginMaxFailed failures within LoginWindow for the name or for
// the client address, ErrLocked for the rest of the window. The attempt is
// counted as a failure before the password is checked, in the same write
// that counts, so parallel attempts cannot pass the count together; a
// success takes it back. When every hash slot is busy the answer is
// ErrLocked too, without hashing.
func (s *Service) Login(ctx context.Context, name, password, code, client string) (string, Session, error) {
	now := s.clock()
	name = NormalName(name)
	keys := []string{s.keys.TokenHash(kindLoginName, name), s.keys.TokenHash(kindLoginAddr, client)}
	release, free := s.tryHashSlot()
	if !free {
		return "", Session{}, ErrLocked
	}
	defer release()
	attempt := ids.Random(16)
	var allowed bool
	err := s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		allowed, err = tx.ReserveLogin(ctx, attempt, now, now.Add(-LoginWindow), LoginMaxFailed, keys...)
		return err
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("operator: login: %w", err)
	}
	if !allowed {
		return "", Session{}, ErrLocked
	}
	op, err := s.db.OperatorByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", Session{}, err
	}
	usable := err == nil && op.PasswordHash != "" && op.DisabledAt.IsZero()
	hash := op.PasswordHash
	if !usable || !ValidName(name) || len(password) > MaxPassword {
		hash = dummyHash()
	}
	ok, herr := CheckPassword(hash, password)
	ok = ok && herr == nil && usable
	step := int64(0)
	if ok && op.TOTPSecret != "" {
		step, ok = totpStep(op.TOTPSecret, code, now)
	}
	if !ok {
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
		if err := tx.ReleaseLogin(ctx, attempt); err != nil {
			return err
		}
		return tx.InsertOperatorSession(ctx, sess)
	})
	if errors.Is(err, store.ErrUsed) {
		// The code was right but already used: a replay, and a failure.
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
	if !op.DisabledAt.IsZero() {
		return Session{}, ErrNoSession
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
	// Disabled: no login until a reset.
	Disabled bool
}

// List returns every operator by name.
func (s *Service) List(ctx context.Context) ([]Info, error) {
	ops, err := s.db.Operators(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(ops))
	for i, o := range ops {
		out[i] = Info{Name: o.Name, Role: o.Role, SetupAt: o.SetupAt, TOTP: o.TOTPSecret != "", Disabled: !o.DisabledAt.IsZero()}
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

// namePseudonyms records, with the entry that uses them, which operator
// each pseudonym stands for: the public ledger names operators only by
// keyed pseudonym, the evidence export resolves them.
func (s *Service) namePseudonyms(ctx context.Context, tx *store.Tx, at time.Time, names ...string) error {
	for _, n := range names {
		if err := tx.NameOperator(ctx, s.keys.OperatorPseudonym(n), n, at); err != nil {
			return err
		}
	}
	return nil
}
