// Package cli implements the notrain command line. main only calls Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
)

// Env is what a command gets from its surroundings.
type Env struct {
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	LookupEnv func(string) (string, bool)
	Now       func() time.Time
}

const usage = `notrain: objections to AI training, honoured and proven.

Usage:
  notrain serve              [--addr 127.0.0.1:8080] [--db notrain.db] [--mail dev|smtp://…] [--demo] [--ip-rate-limit N]
  notrain accounts import    FILE.jsonl [--db …]
  notrain objections import  FILE.jsonl [--db …]
  notrain filter             --in FILE… --out FILE --manifest FILE [--policy FILE] [--as-of RFC3339]
                             [--db …|--snapshot FILE] [--rejects FILE] [--lineage FILE]
  notrain policy check       [FILE]
  notrain snapshot export    --out FILE [--db …]
  notrain ledger verify      [--db …] [--checkpoint FILE]
  notrain version

Every flag can also be set as an environment variable: --ip-rate-limit as
NOTRAIN_IP_RATE_LIMIT; secrets (--secret, --mail) also as NOTRAIN_SECRET_FILE
or NOTRAIN_MAIL_FILE naming a file that holds the value.
Run "notrain COMMAND -h" for a command's flags.
`

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// Run runs one command and returns its exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return exitUsage
	}
	var err error
	switch cmd := strings.Join(args[:min(2, len(args))], " "); {
	case args[0] == "serve":
		err = serve(ctx, args[1:], env)
	case cmd == "accounts import":
		err = accountsImport(ctx, args[2:], env)
	case cmd == "ledger verify":
		err = ledgerVerify(ctx, args[2:], env)
	case cmd == "objections import":
		err = objectionsImport(ctx, args[2:], env)
	case args[0] == "filter":
		err = filterCmd(ctx, args[1:], env)
	case cmd == "policy check":
		err = policyCheck(ctx, args[2:], env)
	case cmd == "snapshot export":
		err = snapshotExport(ctx, args[2:], env)
	case args[0] == "version":
		fmt.Fprintln(env.Stdout, "notrain", version())
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(env.Stdout, usage)
	default:
		fmt.Fprintf(env.Stderr, "notrain: unknown command %q\n\n%s", strings.Join(args, " "), usage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(env.Stderr, "notrain: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(env.Stderr, "notrain: %v\n", err)
		return exitFail
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// storeFlags are the flags every command that opens the store shares.
type storeFlags struct {
	db      string
	secret  string
	keyFile string
}

func (s *storeFlags) register(f *flags) {
	f.StringVar(&s.db, "db", "notrain.db", "SQLite file, or postgres://… URL")
	f.StringVar(&s.secret, "secret", "", "hex master key (default: read or create the key file)")
	f.StringVar(&s.keyFile, "key-file", "", "master key file (default: next to the SQLite file, <db>.key)")
}

func (s *storeFlags) open(ctx context.Context) (*store.DB, error) {
	return store.Open(ctx, s.db, store.Options{})
}

// keys loads the master key; created reports a newly generated key file.
func (s *storeFlags) keys(log *slog.Logger) (*secret.Keys, error) {
	path := s.keyFile
	if path == "" && s.secret == "" {
		if strings.Contains(s.db, "://") {
			return nil, usageError{"with a PostgreSQL store, give --secret (or NOTRAIN_SECRET_FILE) or --key-file: every instance needs the same key"}
		}
		path = s.db + ".key"
	}
	master, created, err := secret.Load(s.secret, path)
	if err != nil {
		return nil, err
	}
	if created && log != nil {
		log.Warn("generated a new master key; back it up with the database: without it, stored e-mail hashes cannot be matched", "file", filepath.Clean(path))
	}
	return secret.New(master)
}

func version() string { return "0.1.0-dev" }
