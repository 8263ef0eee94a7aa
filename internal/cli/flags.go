package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// flags is a flag set whose flags can also come from NOTRAIN_* environment
// variables. Precedence: command line, then NAME, then NAME_FILE (the file's
// contents, for secrets mounted as files).
type flags struct {
	*flag.FlagSet
	lookupEnv func(string) (string, bool)
	args      []string        // positional arguments, in order
	given     map[string]bool // flags set on the command line or by the environment
}

func newFlags(name string, env func(string) (string, bool), out io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return &flags{FlagSet: fs, lookupEnv: env}
}

// envName is the environment variable for a flag: --ip-rate-limit → NOTRAIN_IP_RATE_LIMIT.
func envName(flagName string) string {
	return "NOTRAIN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads flags and positional arguments in any order, then fills flags
// not given on the command line from the environment.
func (f *flags) parse(args []string) error {
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			return err
		}
		if f.NArg() == 0 {
			break
		}
		f.args = append(f.args, f.Arg(0))
		args = f.Args()[1:]
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	f.given = set
	var errs []error
	f.VisitAll(func(fl *flag.Flag) {
		if set[fl.Name] {
			return
		}
		name := envName(fl.Name)
		v, ok := f.lookupEnv(name)
		if path, okFile := f.lookupEnv(name + "_FILE"); okFile {
			if ok {
				errs = append(errs, fmt.Errorf("both %s and %s_FILE are set: use one", name, name))
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
				return
			}
			v, ok = strings.TrimRight(string(b), "\r\n"), true
		}
		if !ok {
			return
		}
		if err := fl.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
		}
		set[fl.Name] = true
	})
	return errors.Join(errs...)
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }
