package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notrain/notrain/internal/manifest"
	"github.com/notrain/notrain/internal/tlogclient"
	"github.com/notrain/notrain/internal/translog"
)

func manifestVerify(ctx context.Context, args []string, env Env) error {
	var s storeFlags
	var key, data, sig, logURL string
	f := newFlags("manifest verify", env.LookupEnv, env.Stderr)
	s.register(f)
	f.StringVar(&key, "key", "", "the log's verifier key, or a file holding it (default: the key the store records)")
	f.StringVar(&data, "data", "", "directory holding the snapshot's inputs and outputs: check every file's size and SHA-256")
	f.StringVar(&sig, "sig", "", "the signature file (default MANIFEST.sig)")
	f.StringVar(&logURL, "log", "", "the portal's URL: check the manifest's checkpoint against its published log instead of a store")
	if err := f.parse(args); err != nil {
		return err
	}
	const use = "usage: notrain manifest verify MANIFEST [--db … | --log URL] [--key KEY] [--data DIR]"
	if len(f.args) != 1 {
		return usageError{use}
	}
	if logURL != "" && f.given["db"] {
		return usageError{"give --db or --log, not both"}
	}
	o := manifest.Options{Manifest: f.args[0], Sig: sig, Data: data}
	var err error
	if key != "" {
		if o.Verifier, err = translog.ReadVerifierKey(key); err != nil {
			return usageError{fmt.Sprintf("--key: %v", err)}
		}
	}
	var fetched string
	if logURL != "" {
		client := tlogclient.NewClient(strings.TrimSuffix(logURL, "/")+"/log", nil)
		if o.Verifier == nil {
			if o.Verifier, fetched, err = client.VerifierKey(ctx); err != nil {
				return err
			}
		}
		o.Log = manifest.FromClient(client)
	} else {
		db, err := s.open(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if o.Verifier == nil {
			var source string
			if o.Verifier, source, err = s.verifier(ctx, db, ""); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "key: %s\n", source)
		}
		o.Log = manifest.FromStore(db)
	}
	r, err := manifest.Verify(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "manifest of snapshot %s: signed by %s\n", r.SnapshotID, o.Verifier.Name())
	fmt.Fprintf(env.Stdout, "  built at checkpoint %d (%s), in the log: consistent with its checkpoint of %d\n",
		r.Checkpoint.Size, r.Checkpoint.RootText(), r.Current.Size)
	if data != "" {
		fmt.Fprintf(env.Stdout, "  %d files match their sizes and SHA-256\n", r.Files)
	}
	if fetched != "" {
		fmt.Fprintf(env.Stdout, "  key %s was fetched from the operator (%s/log/key): compare it with one published elsewhere\n", fetched, strings.TrimSuffix(logURL, "/"))
	}
	return nil
}
