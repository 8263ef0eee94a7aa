package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/translog"
)

// defaultOrigin is the log's origin when neither --log-origin nor a
// --base-url says otherwise.
const defaultOrigin = "localhost/notrain"

// logKeyPath is the log signing key's file: --log-key, else next to the
// master key file (<db>.key → <db>.log.key).
func (s *storeFlags) logKeyPath() (string, error) {
	if s.logKey != "" {
		return s.logKey, nil
	}
	if s.keyFile != "" {
		return strings.TrimSuffix(s.keyFile, ".key") + ".log.key", nil
	}
	if store.IsPostgres(s.db) {
		return "", usageError{"with a PostgreSQL store, give the log signing key's file with --log-key (or NOTRAIN_LOG_KEY_FILE naming it; every instance needs the same log key)"}
	}
	return s.db + ".log.key", nil
}

// loadLogKey loads the log signing key, generating it (0600, named
// origin) when the file does not exist yet, and makes the store sign its
// checkpoints with it. The store refuses a key other than the one its log
// is signed with. An existing key keeps its origin; an explicit
// --log-origin that differs is an error, since the origin is the log's
// identity that receipts name.
func (s *storeFlags) loadLogKey(ctx context.Context, db *store.DB, log *slog.Logger, origin string) (*translog.Key, error) {
	path, err := s.logKeyPath()
	if err != nil {
		return nil, err
	}
	if s.logOrigin != "" {
		if err := translog.ValidOrigin(s.logOrigin); err != nil {
			return nil, usageError{fmt.Sprintf("--log-origin: %v", err)}
		}
		origin = s.logOrigin
	}
	k, created, err := translog.LoadKey(path, origin, true)
	if err != nil {
		return nil, err
	}
	if s.logOrigin != "" && k.Origin() != s.logOrigin {
		return nil, usageError{fmt.Sprintf("--log-origin %q: the log key %s is for the log %q; an origin is fixed when the key is made", s.logOrigin, filepath.Clean(path), k.Origin())}
	}
	if err := useLogKey(ctx, db, k, path); err != nil {
		if created {
			os.Remove(path)
		}
		return nil, err
	}
	if log != nil {
		if created {
			log.Warn("generated a new log signing key; back it up with the database: receipts and manifests verify only with it", "file", filepath.Clean(path), "origin", k.Origin(), "verifier", k.VerifierKey())
		} else if k.Origin() != origin && origin != defaultOrigin {
			log.Info("the log keeps the origin its key was made with", "origin", k.Origin())
		}
	}
	return k, nil
}

// existingLogKey loads the log key without making one (for commands that
// only add to a log that serve or an import started) and makes the store
// sign with it.
func (s *storeFlags) existingLogKey(ctx context.Context, db *store.DB) (*translog.Key, error) {
	path, err := s.logKeyPath()
	if err != nil {
		return nil, err
	}
	k, _, err := translog.LoadKey(path, "", false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the log signing key %s does not exist: it is made by 'notrain serve' or an import; give it with --log-key", filepath.Clean(path))
	}
	if err != nil {
		return nil, err
	}
	if err := useLogKey(ctx, db, k, path); err != nil {
		return nil, err
	}
	return k, nil
}

// useLogKey makes the store sign with k, read from path.
func useLogKey(ctx context.Context, db *store.DB, k *translog.Key, path string) error {
	err := db.SetLogKey(ctx, k)
	if errors.Is(err, store.ErrLogKey) {
		return fmt.Errorf("%w (key from %s): give the log key the store was signed with; nothing was changed", err, filepath.Clean(path))
	}
	return err
}

// verifier picks the key a verification trusts and says where it came
// from: --key when given; else the log key file (the operator's own copy),
// which must be the key the store records; only without either, the key
// the store records — which whoever can write the database could replace,
// so the output says so.
func (s *storeFlags) verifier(ctx context.Context, db *store.DB, keyArg string) (note.Verifier, string, error) {
	if keyArg != "" {
		v, err := translog.ReadVerifierKey(keyArg)
		if err != nil {
			return nil, "", usageError{fmt.Sprintf("--key: %v", err)}
		}
		return v, "--key", nil
	}
	recorded, err := db.LogVerifier(ctx)
	if err != nil {
		return nil, "", err
	}
	if path, err := s.logKeyPath(); err == nil {
		if k, _, err := translog.LoadKey(path, "", false); err == nil {
			if recorded != "" && recorded != k.VerifierKey() {
				return nil, "", fmt.Errorf("%w: the store records %s, the key file %s is %s", store.ErrLogKey, recorded, filepath.Clean(path), k.VerifierKey())
			}
			return k.Verifier(), "the log key file " + filepath.Clean(path), nil
		}
	}
	if recorded == "" {
		return nil, "", errors.New("no log key has signed this store's log yet, and none is given: give --key")
	}
	v, err := translog.NewVerifier(recorded)
	if err != nil {
		return nil, "", fmt.Errorf("the store's verifier key: %w", err)
	}
	return v, "the key the store records (give --key to check against a key you trust)", nil
}
