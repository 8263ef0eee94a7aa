package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/tokens"
)

// operatorsAdd creates an operator and prints the one-time set-up link; the
// operator chooses a password (and, optionally, a second factor) there.
func operatorsAdd(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var role, baseURL string
	f := newFlags("operators add", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&role, "role", "", "reviewer (works the review queue) or admin (also exports evidence and adds operators)")
	f.StringVar(&baseURL, "base-url", "http://127.0.0.1:8080", "the console's public URL, for the link")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 || role == "" {
		return usageError{"usage: notrain operators add NAME --role reviewer|admin [--base-url URL] [--db …]"}
	}
	if _, err := operator.ParseRole(role); err != nil {
		return usageError{err.Error()}
	}
	name := operator.NormalName(f.args[0])
	if !operator.ValidName(name) {
		return usageError{operator.ErrBadName.Error()}
	}
	base, err := linkBase(baseURL)
	if err != nil {
		return err
	}
	var tok string
	err = withOperators(ctx, s, env, func(ops *operator.Service) error {
		tok, err = ops.Add(ctx, name, role, "cli")
		return err
	})
	if errors.Is(err, operator.ErrExists) {
		return fmt.Errorf("%w (nothing was changed)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "operator %s (%s) added; the link below is valid for %s and works once\n", name, role, operator.SetupTTL)
	fmt.Fprintln(env.Stdout, operator.SetupLink(base, tok))
	return nil
}

// operatorsReset recovers an operator's access: its sessions end, its
// password no longer works, and a new one-time set-up link is printed. The
// second factor stays unless --drop-totp (a lost phone).
func operatorsReset(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var baseURL string
	var dropTOTP bool
	f := newFlags("operators reset", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&baseURL, "base-url", "http://127.0.0.1:8080", "the console's public URL, for the link")
	f.BoolVar(&dropTOTP, "drop-totp", false, "also remove the second factor (the operator enrols a new one, or none, at the link)")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usageError{"usage: notrain operators reset NAME [--drop-totp] [--base-url URL] [--db …]"}
	}
	base, err := linkBase(baseURL)
	if err != nil {
		return err
	}
	name := operator.NormalName(f.args[0])
	var tok string
	err = withOperators(ctx, s, env, func(ops *operator.Service) error {
		tok, err = ops.Reset(ctx, name, dropTOTP, "cli")
		return err
	})
	if errors.Is(err, operator.ErrUnknown) {
		return fmt.Errorf("%w: %q (nothing was changed)", err, name)
	}
	if err != nil {
		return err
	}
	kept := "kept"
	if dropTOTP {
		kept = "removed"
	}
	fmt.Fprintf(env.Stderr, "operator %s reset: sessions ended, password cleared, second factor %s; the link below is valid for %s and works once\n", name, kept, operator.SetupTTL)
	fmt.Fprintln(env.Stdout, operator.SetupLink(base, tok))
	return nil
}

// operatorsDisable ends an operator's sessions and refuses its logins until
// a reset.
func operatorsDisable(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	f := newFlags("operators disable", env.LookupEnv, env.Stderr)
	s.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usageError{"usage: notrain operators disable NAME [--db …]"}
	}
	name := operator.NormalName(f.args[0])
	err := withOperators(ctx, s, env, func(ops *operator.Service) error { return ops.Disable(ctx, name, "cli") })
	if errors.Is(err, operator.ErrUnknown) {
		return fmt.Errorf("%w: %q (nothing was changed)", err, name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "operator %s disabled: sessions ended, logins refused until \"notrain operators reset %s\"\n", name, name)
	return nil
}

// tokensRevoke revokes machine tokens by name or prefix and names them.
func tokensRevoke(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	f := newFlags("tokens revoke", env.LookupEnv, env.Stderr)
	s.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 || f.args[0] == "" {
		return usageError{"usage: notrain tokens revoke NAME|PREFIX [--db …]"}
	}
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := s.keys(ctx, db, nil)
	if err != nil {
		return err
	}
	revoked, err := tokens.Revoke(ctx, db, keys, f.args[0], env.Now())
	if err != nil {
		return fmt.Errorf("%w (nothing was changed)", err)
	}
	for _, p := range revoked {
		fmt.Fprintf(env.Stdout, "revoked %s\n", p)
	}
	return nil
}

// linkBase checks a --base-url for links; a bad one is a usage error.
func linkBase(raw string) (string, error) {
	base, err := operator.LinkBase(raw)
	if err != nil {
		return "", usageError{fmt.Sprintf("--base-url: %v", err)}
	}
	return base, nil
}

// withOperators opens the store (it must exist and have its log key, as
// the ledger is written) and runs fn with the operator service.
func withOperators(ctx context.Context, s storeFlags, env Env, fn func(*operator.Service) error) error {
	db, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := s.keys(ctx, db, nil)
	if err != nil {
		return err
	}
	if _, err := s.existingLogKey(ctx, db); err != nil {
		return err
	}
	return fn(operator.New(db, keys, env.Now))
}
