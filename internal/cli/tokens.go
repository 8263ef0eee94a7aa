package cli

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/tokens"
)

// tokensCreate makes a machine token and prints it alone on standard
// output, so a script can capture it; the store keeps only its hash.
func tokensCreate(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var scope, name string
	f := newFlags("tokens create", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&scope, "scope", "", "what the token may do: models or reviews")
	f.StringVar(&name, "name", "", "a note saying who holds the token")
	if err := f.parse(args); err != nil {
		return err
	}
	if scope == "" || len(f.args) > 0 {
		return usageError{"usage: notrain tokens create --scope models|reviews [--name N] [--db …]"}
	}
	sc, err := tokens.ParseScope(scope)
	if err != nil {
		return usageError{err.Error()}
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
	tok, err := tokens.Create(ctx, db, keys, sc, name, env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "token %s… (scope %s) created; revoke it with: notrain tokens revoke %s\n", tokens.ShownPrefix(tok), sc, tokens.ShownPrefix(tok))
	fmt.Fprintln(env.Stdout, tok)
	return nil
}
