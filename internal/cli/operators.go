package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/notrain/notrain/internal/operator"
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
	if !operator.ValidName(f.args[0]) {
		return usageError{operator.ErrBadName.Error()}
	}
	if u, err := url.Parse(baseURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return usageError{fmt.Sprintf("--base-url %q is not an http(s) URL", baseURL)}
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
	if _, err := s.existingLogKey(ctx, db); err != nil {
		return err
	}
	tok, err := operator.New(db, keys, env.Now).Add(ctx, f.args[0], role, "cli")
	if errors.Is(err, operator.ErrExists) {
		return fmt.Errorf("%w (nothing was changed)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "operator %s (%s) added; the link below is valid for %s and works once\n", f.args[0], role, operator.SetupTTL)
	fmt.Fprintln(env.Stdout, operator.SetupLink(baseURL, tok))
	return nil
}
