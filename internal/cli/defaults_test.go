package cli

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/backlog"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/otp"
)

// A flag's default is the owning package's default: a setting left at zero
// in a test or another command behaves as serve does without the flag.
func TestServeFlagDefaultsAreThePackageDefaults(t *testing.T) {
	var c serveConfig
	f := newFlags("serve", func(string) (string, bool) { return "", false }, io.Discard)
	c.register(f)
	for name, want := range map[string]time.Duration{
		"mail-lease":        mail.DefaultLease,
		"mail-retry":        mail.DefaultBackoffBase,
		"code-ttl":          otp.DefaultTTL,
		"save-timeout":      objection.DefaultSaveTimeout,
		"mail-delay-notice": backlog.DefaultThreshold,
	} {
		fl := f.Lookup(name)
		if fl == nil {
			t.Errorf("no flag --%s", name)
			continue
		}
		if got := fl.Value.(flag.Getter).Get().(time.Duration); got != want {
			t.Errorf("--%s defaults to %s, the package to %s", name, got, want)
		}
	}
}
