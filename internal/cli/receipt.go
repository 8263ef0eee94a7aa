package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/tlogclient"
	"github.com/notrain/notrain/internal/translog"
)

func receiptVerify(ctx context.Context, args []string, env Env) error {
	var key, logURL string
	f := newFlags("receipt verify", env.LookupEnv, env.Stderr)
	f.StringVar(&key, "key", "", "the log's verifier key, or a file holding it")
	f.StringVar(&logURL, "log", "", "the portal's URL: also prove the log only grew since the receipt (fetches its key if --key is not given)")
	if err := f.parse(args); err != nil {
		return err
	}
	const use = "usage: notrain receipt verify FILE [--key KEY | --log URL]"
	if len(f.args) != 1 || key == "" && logURL == "" {
		return usageError{use}
	}
	b, err := os.ReadFile(f.args[0])
	if err != nil {
		return err
	}
	if len(b) > receipt.MaxSize {
		return fmt.Errorf("receipt: larger than %d bytes", receipt.MaxSize)
	}
	var v note.Verifier
	if key != "" {
		if v, err = translog.ReadVerifierKey(key); err != nil {
			return usageError{fmt.Sprintf("--key: %v", err)}
		}
	}
	var client *tlogclient.Client
	var fetched string
	if logURL != "" {
		client = tlogclient.NewClient(strings.TrimSuffix(logURL, "/")+"/log", nil)
		if v == nil {
			if v, fetched, err = client.VerifierKey(ctx); err != nil {
				return err
			}
		}
	}
	got, err := receipt.Verify(b, v)
	if err != nil {
		return err
	}
	var cur translog.Checkpoint
	if client != nil {
		if cur, err = receipt.CheckGrowth(ctx, got, client, v); err != nil {
			return err
		}
	}
	e := got.Entry
	fmt.Fprintf(env.Stdout, "receipt verified: entry %d of the log %s\n", e.Seq, got.Checkpoint.Origin)
	fmt.Fprintf(env.Stdout, "  kind:       %s\n", e.Kind)
	if ref := receipt.Reference(e); ref != "" {
		fmt.Fprintf(env.Stdout, "  reference:  %s\n", ref)
	}
	fmt.Fprintf(env.Stdout, "  recorded:   %s\n", time.UnixMicro(e.At).UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(env.Stdout, "  entry:      %s\n", e.Body)
	fmt.Fprintf(env.Stdout, "  checkpoint: %d entries, root %s, signed by %s\n", got.Checkpoint.Size, got.Checkpoint.RootText(), v.Name())
	if client != nil {
		fmt.Fprintf(env.Stdout, "  the log at %s now has %d entries and only grew since (consistency proof from its tiles)\n", logURL, cur.Size)
	}
	if fetched != "" {
		fmt.Fprintf(env.Stdout, "  key %s was fetched from the operator (%s/log/key): compare it with one published elsewhere\n", fetched, strings.TrimSuffix(logURL, "/"))
	}
	return nil
}
