package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Operator is a member of the privacy team as stored: the password only as
// its argon2id hash.
type Operator struct {
	Name         string
	Role         string
	PasswordHash string // PHC string; "" until set up
	TOTPSecret   string // base32; "" = no second factor
	TOTPLastStep int64
	CreatedAt    time.Time
	CreatedBy    string
	SetupAt      time.Time
	DisabledAt   time.Time // zero unless disabled: no login, no session
}

// ErrExists is returned when a row with the same key is already there.
var ErrExists = errors.New("store: already exists")

// ErrUsed is returned when a one-time token was used or has expired.
var ErrUsed = errors.New("store: used or expired")

const operatorColumns = "name, role, password_hash, totp_secret, totp_last_step, created_at, created_by, setup_at, disabled_at"

func scanOperator(r row) (Operator, error) {
	var o Operator
	var created, setup, disabled int64
	if err := r.Scan(&o.Name, &o.Role, &o.PasswordHash, &o.TOTPSecret, &o.TOTPLastStep, &created, &o.CreatedBy, &setup, &disabled); err != nil {
		return o, err
	}
	o.CreatedAt, o.SetupAt, o.DisabledAt = fromMicros(created), fromMicros(setup), fromMicros(disabled)
	return o, nil
}

// InsertOperator adds an operator; ErrExists when the name is taken.
func (tx *Tx) InsertOperator(ctx context.Context, o Operator) error {
	tx.lockKey("operator", o.Name)
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM operators WHERE name = $1", o.Name).Scan(&n); err != nil {
		return fmt.Errorf("store: operator: %w", err)
	}
	if n > 0 {
		return ErrExists
	}
	return tx.write(ctx, "insert operator", `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.Name, o.Role, o.PasswordHash, o.TOTPSecret, o.TOTPLastStep, micros(o.CreatedAt), o.CreatedBy, micros(o.SetupAt), micros(o.DisabledAt))
}

// Operator reads an operator in the transaction, or ErrNotFound.
func (tx *Tx) Operator(ctx context.Context, name string) (Operator, error) {
	o, err := scanOperator(tx.queryRow(ctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1", name))
	if isNoRows(err) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("store: operator: %w", err)
	}
	return o, nil
}

// OperatorByName reads an operator, or ErrNotFound.
func (db *DB) OperatorByName(ctx context.Context, name string) (Operator, error) {
	o, err := scanOperator(db.r.QueryRowContext(ctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1", name))
	if isNoRows(err) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("store: operator: %w", err)
	}
	return o, nil
}

// Operators lists every operator by name.
func (db *DB) Operators(ctx context.Context) ([]Operator, error) {
	rs, err := db.r.QueryContext(ctx, "SELECT "+operatorColumns+" FROM operators ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: operators: %w", err)
	}
	defer rs.Close()
	var out []Operator
	for rs.Next() {
		o, err := scanOperator(rs)
		if err != nil {
			return nil, fmt.Errorf("store: operators: %w", err)
		}
		out = append(out, o)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: operators: %w", err)
	}
	return out, nil
}

// SetOperatorCredentials stores a password hash and second factor after
// set-up; totpStep is the time step of the code that proved the enrolment,
// which then cannot log in.
func (tx *Tx) SetOperatorCredentials(ctx context.Context, name, passwordHash, totpSecret string, totpStep int64, at time.Time) error {
	return tx.writeChecked(ctx, "set operator credentials", exactlyOne, `UPDATE operators SET password_hash = $1, totp_secret = $2, totp_last_step = $3, setup_at = $4 WHERE name = $5`,
		passwordHash, totpSecret, totpStep, micros(at), name)
}

// UseTOTPStep records that the code of time step was accepted; ErrUsed when
// that step (or a later one) was already used, so one code logs in once.
func (tx *Tx) UseTOTPStep(ctx context.Context, name string, step int64) error {
	return tx.writeChecked(ctx, "use totp step", func(n int64) error {
		if n != 1 {
			return ErrUsed
		}
		return nil
	}, `UPDATE operators SET totp_last_step = $1 WHERE name = $2 AND totp_last_step < $1`, step, name)
}

func exactlyOne(n int64) error {
	if n != 1 {
		return ErrNotFound
	}
	return nil
}

// InsertSetupToken stores the hash of a one-time set-up link's token.
func (tx *Tx) InsertSetupToken(ctx context.Context, hash, operator string, at, expires time.Time) error {
	return tx.write(ctx, "insert setup token", `INSERT INTO operator_setup_tokens (hash, operator, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hash, operator, micros(at), micros(expires))
}

// SetupTokenOperator names the operator an unused, unexpired set-up token
// is for, or ErrNotFound.
func (db *DB) SetupTokenOperator(ctx context.Context, hash string, now time.Time) (string, error) {
	var name string
	err := db.r.QueryRowContext(ctx, `SELECT operator FROM operator_setup_tokens WHERE hash = $1 AND used_at = 0 AND expires_at > $2`, hash, micros(now)).Scan(&name)
	if isNoRows(err) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: setup token: %w", err)
	}
	return name, nil
}

// UseSetupToken consumes a set-up token atomically and names its operator;
// ErrUsed when it was used, has expired or does not exist.
func (tx *Tx) UseSetupToken(ctx context.Context, hash string, now time.Time) (string, error) {
	tx.lockKey("setup token", hash)
	var name string
	err := tx.queryRow(ctx, `SELECT operator FROM operator_setup_tokens WHERE hash = $1 AND used_at = 0 AND expires_at > $2`, hash, micros(now)).Scan(&name)
	if isNoRows(err) {
		return "", ErrUsed
	}
	if err != nil {
		return "", fmt.Errorf("store: setup token: %w", err)
	}
	err = tx.writeChecked(ctx, "use setup token", func(n int64) error {
		if n != 1 {
			return ErrUsed
		}
		return nil
	}, `UPDATE operator_setup_tokens SET used_at = $1 WHERE hash = $2 AND used_at = 0`, micros(now), hash)
	return name, err
}

// OperatorSession is a console session as stored: the keyed hash of its
// token, never the token.
type OperatorSession struct {
	Hash       string
	Operator   string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// InsertOperatorSession stores a session.
func (tx *Tx) InsertOperatorSession(ctx context.Context, s OperatorSession) error {
	return tx.write(ctx, "insert operator session", `INSERT INTO operator_sessions (hash, operator, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.Hash, s.Operator, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt))
}

// OperatorSessionByHash reads a session, or ErrNotFound.
func (db *DB) OperatorSessionByHash(ctx context.Context, hash string) (OperatorSession, error) {
	s := OperatorSession{Hash: hash}
	var created, seen, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT operator, created_at, last_seen_at, expires_at FROM operator_sessions WHERE hash = $1`, hash).
		Scan(&s.Operator, &created, &seen, &expires)
	if isNoRows(err) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("store: operator session: %w", err)
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, nil
}

// TouchOperatorSession moves a session's idle clock.
func (tx *Tx) TouchOperatorSession(ctx context.Context, hash string, at time.Time) error {
	return tx.write(ctx, "touch operator session", `UPDATE operator_sessions SET last_seen_at = $1 WHERE hash = $2`, micros(at), hash)
}

// DeleteOperatorSession ends a session; sessions that ended before cutoff
// (idle or absolute) go with it.
func (tx *Tx) DeleteOperatorSession(ctx context.Context, hash string, idleCutoff, now time.Time) error {
	if err := tx.write(ctx, "delete operator session", `DELETE FROM operator_sessions WHERE hash = $1 OR expires_at < $2 OR last_seen_at < $3`,
		hash, micros(now), micros(idleCutoff)); err != nil {
		return err
	}
	return nil
}

// DeleteOperatorSessions ends every session of an operator (a new password).
func (tx *Tx) DeleteOperatorSessions(ctx context.Context, operator string) error {
	return tx.write(ctx, "delete operator sessions", `DELETE FROM operator_sessions WHERE operator = $1`, operator)
}

// SetOperatorPassword stores a password hash after set-up and keeps the
// second factor the operator has (a reset that did not drop it).
func (tx *Tx) SetOperatorPassword(ctx context.Context, name, passwordHash string, at time.Time) error {
	return tx.writeChecked(ctx, "set operator password", exactlyOne, `UPDATE operators SET password_hash = $1, setup_at = $2 WHERE name = $3`,
		passwordHash, micros(at), name)
}

// ResetOperator clears an operator's password (and second factor when
// dropTOTP) and enables it again; ErrNotFound for an unknown name.
func (tx *Tx) ResetOperator(ctx context.Context, name string, dropTOTP bool) error {
	tx.lockKey("operator", name)
	q := `UPDATE operators SET password_hash = '', disabled_at = 0 WHERE name = $1`
	if dropTOTP {
		q = `UPDATE operators SET password_hash = '', disabled_at = 0, totp_secret = '', totp_last_step = 0 WHERE name = $1`
	}
	return tx.writeChecked(ctx, "reset operator", exactlyOne, q, name)
}

// DisableOperator marks an operator disabled; ErrNotFound for an unknown
// name. Its unused set-up links stop working too.
func (tx *Tx) DisableOperator(ctx context.Context, name string, at time.Time) error {
	tx.lockKey("operator", name)
	if err := tx.writeChecked(ctx, "disable operator", exactlyOne, `UPDATE operators SET disabled_at = $1 WHERE name = $2`, micros(at), name); err != nil {
		return err
	}
	return tx.VoidSetupTokens(ctx, name, at)
}

// VoidSetupTokens makes an operator's unused set-up links unusable.
func (tx *Tx) VoidSetupTokens(ctx context.Context, name string, at time.Time) error {
	return tx.write(ctx, "void setup tokens", `UPDATE operator_setup_tokens SET used_at = $1 WHERE operator = $2 AND used_at = 0`, micros(at), name)
}

// ReserveLogin counts, under a lock on each key, the failures since a time
// and, when every key has fewer than max, records one failure per key for
// this attempt before any password is checked: parallel attempts cannot all
// pass the count. It reports whether the attempt may go on; a successful
// login takes its rows back with ReleaseLogin.
func (tx *Tx) ReserveLogin(ctx context.Context, attempt string, at, since time.Time, max int, keys ...string) (bool, error) {
	for _, k := range keys {
		tx.lockKey("login", k)
	}
	for _, k := range keys {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM operator_login_failures WHERE key = $1 AND at >= $2`, k, micros(since)).Scan(&n); err != nil {
			return false, fmt.Errorf("store: login failures: %w", err)
		}
		if n >= max {
			return false, nil
		}
	}
	for _, k := range keys {
		if err := tx.write(ctx, "login attempt", `INSERT INTO operator_login_failures (key, at, attempt) VALUES ($1, $2, $3)`, k, micros(at), attempt); err != nil {
			return false, err
		}
	}
	// Failures older than a day lock nobody out any more.
	return true, tx.write(ctx, "forget login failures", `DELETE FROM operator_login_failures WHERE at < $1`, micros(at.Add(-24*time.Hour)))
}

// ReleaseLogin removes the rows an attempt reserved (it succeeded).
func (tx *Tx) ReleaseLogin(ctx context.Context, attempt string) error {
	return tx.write(ctx, "release login attempt", `DELETE FROM operator_login_failures WHERE attempt = $1`, attempt)
}

// LoginFailure records a failed login under each key.
func (tx *Tx) LoginFailure(ctx context.Context, at time.Time, keys ...string) error {
	for _, k := range keys {
		if err := tx.write(ctx, "login failure", `INSERT INTO operator_login_failures (key, at) VALUES ($1, $2)`, k, micros(at)); err != nil {
			return err
		}
	}
	// Failures older than a day lock nobody out any more.
	return tx.write(ctx, "forget login failures", `DELETE FROM operator_login_failures WHERE at < $1`, micros(at.Add(-24*time.Hour)))
}

// LoginFailures counts the failures under key since a time.
func (db *DB) LoginFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error) {
	var n int
	var oldest int64
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MIN(at), 0) FROM operator_login_failures WHERE key = $1 AND at >= $2`, key, micros(since)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: login failures: %w", err)
	}
	return n, fromMicros(oldest), nil
}
