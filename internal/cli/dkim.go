package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/notrain/notrain/internal/dkim"
)

// loadDKIMKeys pairs each --dkim-key with its --dkim-selector, in order,
// and loads the keys.
func loadDKIMKeys(files, selectors []string) ([]dkim.Key, error) {
	if len(files) != len(selectors) {
		return nil, usageError{fmt.Sprintf("--dkim-key and --dkim-selector go together: give a --dkim-selector for each --dkim-key (got %d --dkim-key, %d --dkim-selector)", len(files), len(selectors))}
	}
	keys := make([]dkim.Key, 0, len(files))
	for i, file := range files {
		// NOTRAIN_DKIM_KEY_FILE holds the value of --dkim-key, a file
		// name; a key put there would land here, and in the error below.
		if strings.Contains(file, "-----BEGIN") {
			return nil, usageError{"--dkim-key takes the name of the key file, not the key (NOTRAIN_DKIM_KEY_FILE would name a file holding that name: set NOTRAIN_DKIM_KEY=FILE)"}
		}
		if err := dkim.CheckSelector(selectors[i]); err != nil {
			return nil, usageError{fmt.Sprintf("--dkim-selector: %v", err)}
		}
		k, err := dkim.LoadKey(file)
		if err != nil {
			return nil, fmt.Errorf("--dkim-key: %w", err)
		}
		keys = append(keys, dkim.Key{Selector: selectors[i], Signer: k})
	}
	return keys, nil
}

// dkimSigner is the signer of serve's --dkim-key flags for the sender's
// domain, or nil when none is given.
func (c *serveConfig) dkimSigner(domain string) (*dkim.Signer, error) {
	keys, err := loadDKIMKeys(c.dkimKeys, c.dkimSelectors)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	s, err := dkim.NewSigner(domain, keys...)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--dkim-key with --mail-from %q: %v", c.mailFrom, err)}
	}
	return s, nil
}

// dkimDesc is the banner's line on signing.
func dkimDesc(s *dkim.Signer, selectors []string, dev bool) string {
	if s == nil {
		if dev {
			return "off"
		}
		return "off: mail leaves unsigned, and many receivers file it as spam (set --dkim-key and --dkim-selector)"
	}
	desc := "signing as d=" + s.Domain() + ", s=" + strings.Join(selectors, ", s=")
	if dev {
		desc += " (applies to mail sent over SMTP; the dev mailbox sends none)"
	}
	return desc
}

// dkimRecord prints the DNS TXT record that publishes a key's public half.
func dkimRecord(_ context.Context, args []string, env Env) error {
	f := newFlags("dkim record", env.LookupEnv, env.Stderr)
	var files, selectors list
	var domain string
	f.Var(&files, "dkim-key", "the PEM private key file serve signs with")
	f.Var(&selectors, "dkim-selector", "its selector")
	f.StringVar(&domain, "domain", "", "the domain of serve's --mail-from address")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{fmt.Sprintf("dkim record takes no arguments, got %q", f.args)}
	}
	if domain == "" || len(files) == 0 {
		return usageError{"dkim record needs --dkim-key FILE --dkim-selector S --domain D"}
	}
	keys, err := loadDKIMKeys(files, selectors)
	if err != nil {
		return err
	}
	for _, k := range keys {
		rec, err := dkim.Record(k.Selector, domain, k.Signer.Public())
		if err != nil {
			return usageError{err.Error()}
		}
		fmt.Fprintln(env.Stdout, rec)
	}
	return nil
}

// dkimKeygen makes a new key file.
func dkimKeygen(_ context.Context, args []string, env Env) error {
	f := newFlags("dkim keygen", env.LookupEnv, env.Stderr)
	var out, typ string
	f.StringVar(&out, "out", "", "the key file to create (never overwritten)")
	f.StringVar(&typ, "type", dkim.TypeRSA, "rsa (2048 bits, verified by every receiver) or ed25519 (not yet verified everywhere: sign with an RSA key too)")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{fmt.Sprintf("dkim keygen takes no arguments, got %q", f.args)}
	}
	if out == "" {
		return usageError{"dkim keygen needs --out FILE"}
	}
	if typ != dkim.TypeRSA && typ != dkim.TypeEd25519 {
		return usageError{fmt.Sprintf("--type %q: use rsa or ed25519", typ)}
	}
	if _, err := dkim.GenerateKey(out, typ); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s (%s, readable by its owner only)\n", out, typ)
	fmt.Fprintf(env.Stdout, "publish it in DNS: notrain dkim record --dkim-key %s --dkim-selector SELECTOR --domain DOMAIN\n", out)
	return nil
}
