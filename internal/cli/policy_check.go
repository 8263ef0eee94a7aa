package cli

import (
	"context"
	"fmt"

	"github.com/notrain/notrain/internal/policy"
)

// policyCheck prints the effective policy and its hash, or why it is invalid.
func policyCheck(_ context.Context, args []string, env Env) error {
	f := newFlags("policy check", env.LookupEnv, env.Stderr)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 1 {
		return usageError{"usage: notrain policy check [FILE]"}
	}
	path := ""
	if len(f.args) == 1 {
		path = f.args[0]
	}
	p, err := policy.Load(path)
	if err != nil {
		return err
	}
	eff, err := p.Effective()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "# policy: %s\n# sha256: %s\n# rules can read: %s\n%s", p.Source, p.SHA256, policy.RuleVariables, eff)
	return nil
}
