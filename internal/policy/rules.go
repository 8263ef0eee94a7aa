package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// Rules are a policy's extra rules, compiled and type-checked.
type Rules struct {
	names []string
	progs []cel.Program
}

// Variables a rule can use. Declared once, explicitly, so rules type-check.
func ruleEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("record", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("id", cel.StringType),
		cel.Variable("product", cel.StringType),
		cel.Variable("author_id", cel.StringType),
		cel.Variable("kind", cel.StringType),
		cel.Variable("visibility", cel.StringType),
		cel.Variable("text", cel.StringType),
		cel.Variable("created_at", cel.TimestampType),
		cel.Variable("as_of", cel.TimestampType),
		cel.Variable("mentions", cel.ListType(cel.StringType)),
		cel.Variable("tags", cel.ListType(cel.StringType)),
	)
}

// RuleVariables documents what rules can read.
const RuleVariables = "record (map of every field), id, product, author_id, kind, visibility, text, created_at, as_of (timestamps), mentions, tags (lists of strings)"

// Compile builds one environment and compiles every rule, requiring a bool.
// An error names the rule and the position in its expression.
func Compile(rules []Rule) (*Rules, error) {
	r := &Rules{}
	if len(rules) == 0 {
		return r, nil
	}
	env, err := ruleEnv()
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var errs []error
	for _, rule := range rules {
		ast, iss := env.Compile(rule.Expr)
		if iss.Err() != nil {
			errs = append(errs, fmt.Errorf("rule %q: %s", rule.Name, strings.TrimSpace(iss.Err().Error())))
			continue
		}
		if ast.OutputType() != cel.BoolType {
			errs = append(errs, fmt.Errorf("rule %q: the expression gives %s, it must give bool (true excludes the item)", rule.Name, ast.OutputType()))
			continue
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %q: %w", rule.Name, err))
			continue
		}
		r.names = append(r.names, rule.Name)
		r.progs = append(r.progs, prg)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Len is the number of rules.
func (r *Rules) Len() int { return len(r.progs) }

// Vars is what one evaluation sees. Record decodes the whole record and is
// called only when a rule evaluation reads it, so rules that use only the
// named fields never pay for decoding.
type Vars struct {
	ID, Product, AuthorID, Kind, Visibility, Text string
	CreatedAt, AsOf                               time.Time
	Mentions, Tags                                []string
	Record                                        func() (map[string]any, error)
}

type activation struct {
	v      *Vars
	record map[string]any
	err    error
	loaded bool
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "id":
		return a.v.ID, true
	case "product":
		return a.v.Product, true
	case "author_id":
		return a.v.AuthorID, true
	case "kind":
		return a.v.Kind, true
	case "visibility":
		return a.v.Visibility, true
	case "text":
		return a.v.Text, true
	case "created_at":
		return a.v.CreatedAt, true
	case "as_of":
		return a.v.AsOf, true
	case "mentions":
		return nonNil(a.v.Mentions), true
	case "tags":
		return nonNil(a.v.Tags), true
	case "record":
		if !a.loaded {
			a.loaded = true
			if a.v.Record != nil {
				a.record, a.err = a.v.Record()
			}
			if a.record == nil {
				a.record = map[string]any{}
			}
		}
		return a.record, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Match returns the name of the first rule that matches. A rule that fails
// to evaluate on a record (say, it reads a field the record lacks) counts as
// a match, and errored reports it: when in doubt, the item stays out.
func (r *Rules) Match(v *Vars) (name string, matched, errored bool) {
	act := &activation{v: v}
	for i, prg := range r.progs {
		out, _, err := prg.Eval(act)
		if err != nil || act.err != nil {
			return r.names[i], true, true
		}
		if out == types.True {
			return r.names[i], true, false
		}
	}
	return "", false, false
}
