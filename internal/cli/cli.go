// Package cli implements the notrain command line. main only calls Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/snapshot"
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
  notrain serve              [--addr 127.0.0.1:8080] [--db notrain.db] [--mail dev|smtp://…] [--init|--demo] [--ip-rate-limit N]
                             [--mail-from ADDRESS] [--dkim-key FILE --dkim-selector S]…
  notrain accounts import    FILE.jsonl [--db …]
  notrain objections import  FILE.jsonl [--db …]
  notrain filter             --in FILE… --out FILE --manifest FILE [--policy FILE] [--as-of RFC3339]
                             [--db …|--snapshot FILE] [--rejects FILE] [--lineage FILE]
                             [--allow-empty-directory] [--reproduce MANIFEST]
                             [--lineage-url URL] [--lineage-file FILE]   (OpenLineage events)
  notrain policy check       [FILE]
  notrain snapshot export    --out FILE [--db …]
  notrain snapshot register  --manifest FILE [--data DIR] [--db …]
  notrain ledger verify      [--db …] [--checkpoint FILE] [--since CHECKPOINT_FILE] [--key KEY]
  notrain manifest verify    MANIFEST [--db … | --log URL] [--key KEY] [--data DIR]
  notrain models register    --name NAME --snapshot ID… [--trained-at RFC3339] [--db …]
  notrain tokens create      --scope models|reviews [--name N] [--db …]
  notrain tokens revoke      NAME|PREFIX [--db …]
  notrain operators add      NAME --role reviewer|admin [--base-url URL] [--db …]
  notrain operators reset    NAME [--drop-totp] [--base-url URL] [--db …]
  notrain operators disable  NAME [--db …]
  notrain receipt verify     FILE [--key KEY | --log URL]
  notrain dkim keygen        --out FILE [--type rsa|ed25519]
  notrain dkim record        --dkim-key FILE --dkim-selector S --domain D
  notrain evidence           REFERENCE [--operator NAME] [--db …] [--out FILE]
  notrain version

Only serve --init (or --demo) and the imports create a store; every other
command refuses a --db that is not one.
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
	// exitLineage: the command did its work, but an OpenLineage event of
	// it was not delivered (notrain filter's COMPLETE).
	exitLineage = 3
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
	case cmd == "manifest verify":
		err = manifestVerify(ctx, args[2:], env)
	case cmd == "receipt verify":
		err = receiptVerify(ctx, args[2:], env)
	case cmd == "dkim keygen":
		err = dkimKeygen(ctx, args[2:], env)
	case cmd == "dkim record":
		err = dkimRecord(ctx, args[2:], env)
	case args[0] == "evidence":
		err = evidenceExport(ctx, args[1:], env)
	case cmd == "objections import":
		err = objectionsImport(ctx, args[2:], env)
	case args[0] == "filter":
		err = filterCmd(ctx, args[1:], env)
	case cmd == "models register":
		err = modelsRegister(ctx, args[2:], env)
	case cmd == "operators add":
		err = operatorsAdd(ctx, args[2:], env)
	case cmd == "operators reset":
		err = operatorsReset(ctx, args[2:], env)
	case cmd == "operators disable":
		err = operatorsDisable(ctx, args[2:], env)
	case cmd == "tokens create":
		err = tokensCreate(ctx, args[2:], env)
	case cmd == "tokens revoke":
		err = tokensRevoke(ctx, args[2:], env)
	case cmd == "policy check":
		err = policyCheck(ctx, args[2:], env)
	case cmd == "snapshot export":
		err = snapshotExport(ctx, args[2:], env)
	case cmd == "snapshot register":
		err = snapshotRegister(ctx, args[2:], env)
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
	case errors.As(err, new(lineageError)):
		fmt.Fprintf(env.Stderr, "notrain: %v\n", err)
		return exitLineage
	case errors.As(err, new(usageError)), errors.As(err, new(snapshot.UsageError)):
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
	db        string
	secret    string
	keyFile   string
	logKey    string
	logOrigin string
}

func (s *storeFlags) register(f *flags) {
	f.StringVar(&s.db, "db", "notrain.db", "SQLite file, or postgres://… URL")
	f.StringVar(&s.secret, "secret", "", "hex master key (default: read or create the key file)")
	f.StringVar(&s.keyFile, "key-file", "", "master key file (default: next to the SQLite file, <db>.key)")
	f.StringVar(&s.logKey, "log-key", "", "log signing key file, made on first use (default: next to the master key, <db>.log.key)")
	f.StringVar(&s.logOrigin, "log-origin", "", "the log's origin (its name in checkpoints) when its key is made (default: the --base-url's host + /notrain)")
}

// open opens an existing store; it never creates one.
func (s *storeFlags) open(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(ctx, s.db, store.Options{})
	if errors.Is(err, store.ErrNoStore) {
		return nil, fmt.Errorf("%w (nothing was created: a store is made by 'notrain serve --init' or by importing accounts or objections)", err)
	}
	return db, err
}

// create opens the store, creating it when it does not exist yet.
func (s *storeFlags) create(ctx context.Context) (*store.DB, error) {
	return store.Create(ctx, s.db, store.Options{})
}

// keyPath is the key file in use ("" when the key is given by --secret).
func (s *storeFlags) keyPath() (string, error) {
	if s.keyFile != "" || s.secret != "" {
		return s.keyFile, nil
	}
	if store.IsPostgres(s.db) {
		return "", usageError{"with a PostgreSQL store, give --secret (or NOTRAIN_SECRET_FILE) or --key-file: every instance needs the same key"}
	}
	return s.db + ".key", nil
}

// keys loads the master key and checks it against the store's check value.
// A key file is generated only for a store that holds nothing yet: for a
// store with data a new key would match none of its e-mail hashes, so a
// missing key file is an error, as is a key that is not the store's.
func (s *storeFlags) keys(ctx context.Context, db *store.DB, log *slog.Logger) (*secret.Keys, error) {
	path, err := s.keyPath()
	if err != nil {
		return nil, err
	}
	st, err := db.KeyState(ctx)
	if err != nil {
		return nil, err
	}
	fresh := st.Check == "" && !st.HasData
	master, created, err := secret.Load(s.secret, path, fresh)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("master key file %s does not exist, but the store already holds data made with a key: give that key with --key-file or --secret (a new key would match none of its e-mail hashes)", filepath.Clean(path))
	}
	if err != nil {
		return nil, err
	}
	keys, err := secret.New(master)
	if err != nil {
		return nil, err
	}
	if err := db.CheckKey(ctx, keys.Check()); err != nil {
		if created {
			os.Remove(path)
		}
		if errors.Is(err, store.ErrKeyMismatch) {
			return nil, fmt.Errorf("%w (key from %s): give the key the store was created with; nothing was changed", err, keySource(s.secret, path))
		}
		return nil, err
	}
	if created && log != nil {
		log.Warn("generated a new master key; back it up with the database: without it, stored e-mail hashes cannot be matched", "file", filepath.Clean(path))
	}
	return keys, nil
}

func keySource(hexKey, path string) string {
	if hexKey != "" {
		return "--secret"
	}
	return filepath.Clean(path)
}

func version() string { return "0.1.0-dev" }
