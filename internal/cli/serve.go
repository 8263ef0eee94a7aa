package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/notrain/notrain/internal/assertion"
	"github.com/notrain/notrain/internal/backlog"
	"github.com/notrain/notrain/internal/consent"
	"github.com/notrain/notrain/internal/console"
	evidencepkg "github.com/notrain/notrain/internal/evidence"
	"github.com/notrain/notrain/internal/locale"
	mailpkg "github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/metrics"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/otp"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/report"
	"github.com/notrain/notrain/internal/review"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/translog"
	"github.com/notrain/notrain/internal/web"
)

type serveConfig struct {
	storeFlags
	addr           string
	baseURL        string
	mail           string
	mailFrom       string
	dkimKeys       list
	dkimSelectors  list
	demo           bool
	init           bool
	ipRateLimit    int
	trustedProxies string
	codeTTL        time.Duration
	logLevel       string
	retryBase      time.Duration
	mailLease      time.Duration
	debugAddr      string
	policy         string
	metricsAddr    string
	connsPerClient int
	saveTimeout    time.Duration
	delayNotice    time.Duration
	itemURLs       string
	adminAddr      string
	adminBaseURL   string
	platformJWKS   string
	platformIssuer string
	platformAud    string
}

func serve(ctx context.Context, args []string, env Env) error {
	var c serveConfig
	f := newFlags("serve", env.LookupEnv, env.Stderr)
	c.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", f.args)}
	}
	log, err := newLogger(env, c.logLevel)
	if err != nil {
		return err
	}
	return c.run(ctx, log, env)
}

// register declares serve's flags. Defaults that a package also applies to
// a zero setting come from that package's Default… constants, so the two
// cannot drift apart.
func (c *serveConfig) register(f *flags) {
	c.storeFlags.register(f)
	f.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&c.baseURL, "base-url", "", "public URL of the portal, for links in mails (default http://ADDR)")
	f.StringVar(&c.mail, "mail", "", `"dev" (mails kept in the database, shown at /dev/mail) or smtp://user:pass@host:port, smtps://… (default dev)`)
	f.StringVar(&c.mailFrom, "mail-from", "", `sender address, e.g. "notrain <privacy@example.com>" (default noreply@ the base URL's host)`)
	f.Var(&c.dkimKeys, "dkim-key", "DKIM-sign every mail with this PEM private key (RSA-2048 to 4096 or Ed25519; make one with: notrain dkim keygen); repeat, each with its --dkim-selector, to sign with two keys")
	f.Var(&c.dkimSelectors, "dkim-selector", "the selector the --dkim-key's public key is published under in DNS (SELECTOR._domainkey.DOMAIN; print the record with: notrain dkim record)")
	f.BoolVar(&c.demo, "demo", false, "add demo accounts to the directory and print them (creates the store if needed)")
	f.BoolVar(&c.init, "init", false, "create the store if it does not exist yet")
	f.IntVar(&c.ipRateLimit, "ip-rate-limit", 30, "code requests per minute per client address; 0 = off")
	f.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	f.DurationVar(&c.codeTTL, "code-ttl", otp.DefaultTTL, "how long a one-time code is valid (at most "+otp.MaxTTL.String()+")")
	f.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&c.retryBase, "mail-retry", mailpkg.DefaultBackoffBase, "first mail retry delay; doubles per attempt up to "+mailpkg.DefaultBackoffMax.String())
	f.StringVar(&c.debugAddr, "debug-addr", "", "serve Go's profiler (/debug/pprof) on this loopback address, e.g. 127.0.0.1:6060")
	f.DurationVar(&c.mailLease, "mail-lease", mailpkg.DefaultLease, "how long a delivery attempt holds a mail before another instance (or this one, restarted) may try it")
	f.StringVar(&c.metricsAddr, "metrics-addr", "127.0.0.1:9464", `serve /metrics (Prometheus) on this address, never on --addr; its counters tell code mails from "no account" notices, so keep it off the public network; "off" = none`)
	f.IntVar(&c.connsPerClient, "conns-per-client", web.DefaultConnsPerClient, "open connections one client address may hold (trusted proxies exempt); 0 = no cap")
	f.DurationVar(&c.saveTimeout, "save-timeout", objection.DefaultSaveTimeout, "a code request the store cannot save within this is answered 503 (not saved, try again) instead of waiting; 0 = wait without bound")
	f.DurationVar(&c.delayNotice, "mail-delay-notice", backlog.DefaultThreshold, `once the oldest waiting code mail is older than this, pages say "many people are objecting right now: your request is saved, the code will come"; 0 = never`)
	f.StringVar(&c.adminAddr, "admin-addr", "", "serve the operator console (/admin, /api/v1/admin) only on this address instead of on --addr, so it need not face the internet")
	f.StringVar(&c.adminBaseURL, "admin-base-url", "", "the console's public URL, for set-up links made in it (default: http://ADMIN-ADDR, else --base-url); needed when --admin-addr listens on 0.0.0.0 or ::")
	f.StringVar(&c.policy, "policy", "", "policy file, the one filter uses (default: the built-in policy); confirmations promise only what it does")
	f.StringVar(&c.platformJWKS, "platform-jwks", "", `the platform's public keys (JWKS) for one-click objections of signed-in people: a file, or an https URL (http only on loopback) refreshed by its Cache-Control max-age, else every 10 minutes; EdDSA (Ed25519) and ES256 (P-256) keys are used (default: no one-click objections)`)
	f.StringVar(&c.platformIssuer, "platform-issuer", "", `the "iss" the platform's assertions carry (required with --platform-jwks)`)
	f.StringVar(&c.platformAud, "platform-audience", "", `the "aud" naming this portal in the platform's assertions (required with --platform-jwks)`)
	f.StringVar(&c.itemURLs, "item-urls", "", `how the platform's item URLs map to item ids, for reports ("content that shows me"): one line per URL form, "PREFIX URL-with-{id}", e.g. "fb https://www.facebook.example/photo/{id}" (default: item ids only)`)
}

func newLogger(env Env, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: %v", level, err)}
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func (c *serveConfig) run(ctx context.Context, log *slog.Logger, env Env) error {
	if !otp.ValidTTL(c.codeTTL) {
		return usageError{fmt.Sprintf("--code-ttl %s: must be between 1m and %s", c.codeTTL, otp.MaxTTL)}
	}
	if c.ipRateLimit < 0 {
		return usageError{"--ip-rate-limit must be 0 (off) or more"}
	}
	if c.saveTimeout < 0 || c.delayNotice < 0 {
		return usageError{"--save-timeout and --mail-delay-notice must be 0 (off) or more"}
	}
	if c.connsPerClient < 0 {
		return usageError{"--conns-per-client must be 0 (no cap) or more"}
	}
	if c.metricsAddr != "off" {
		if _, _, err := net.SplitHostPort(c.metricsAddr); err != nil {
			return usageError{fmt.Sprintf("--metrics-addr %q: %v (use host:port or off)", c.metricsAddr, err)}
		}
	}
	if c.adminAddr != "" {
		if _, _, err := net.SplitHostPort(c.adminAddr); err != nil {
			return usageError{fmt.Sprintf("--admin-addr %q: %v (use host:port)", c.adminAddr, err)}
		}
	}
	if c.adminBaseURL != "" {
		b, err := operator.LinkBase(c.adminBaseURL)
		if err != nil {
			return usageError{fmt.Sprintf("--admin-base-url: %v", err)}
		}
		c.adminBaseURL = b
	}
	trusted, err := parsePrefixes(c.trustedProxies)
	if err != nil {
		return err
	}
	dev := c.mail == "" || c.mail == "dev"
	if dev && !loopback(c.addr) {
		return usageError{fmt.Sprintf("dev mail mode shows every mail, codes included, at /dev/mail: it listens only on loopback, not %s. Configure --mail smtp://… to serve on the network", c.addr)}
	}
	if !store.IsPostgres(c.db) {
		if err := refuseVolatile(c.db); err != nil {
			return err
		}
	}
	if c.baseURL == "" {
		c.baseURL = "http://" + c.addr
	}
	base, err := url.Parse(c.baseURL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return usageError{fmt.Sprintf("--base-url %q is not an http(s) URL", c.baseURL)}
	}
	c.baseURL = strings.TrimSuffix(c.baseURL, "/")
	if c.mailFrom == "" {
		c.mailFrom = "notrain <noreply@" + base.Hostname() + ">"
	}
	from, err := mail.ParseAddress(c.mailFrom)
	if err != nil {
		return usageError{fmt.Sprintf("--mail-from %q: %v", c.mailFrom, err)}
	}
	senderDomain, err := mailpkg.SenderDomain(c.mailFrom)
	if err != nil {
		return usageError{fmt.Sprintf("--mail-from %q: %v", c.mailFrom, err)}
	}
	// The From header and the envelope carry the domain as DNS spells it,
	// as the signature's d= does: DMARC compares them, and a receiver
	// without SMTPUTF8 takes only that form.
	from.Address = from.Address[:strings.LastIndexByte(from.Address, '@')+1] + senderDomain
	c.mailFrom = from.String()
	// The signing key is checked before anything else is opened: a server
	// that would send unsigned or badly signed mail does not start.
	signer, err := c.dkimSigner(senderDomain)
	if err != nil {
		return err
	}

	// Before the store is opened: a policy that does not load leaves nothing behind.
	pol, err := policy.Load(c.policy)
	if err != nil {
		return fmt.Errorf("--policy: %w", err)
	}
	thirdPartyExcluded := pol.ThirdParty == policy.Exclude
	itemURLs, err := report.LoadPatterns(c.itemURLs)
	if err != nil {
		return fmt.Errorf("--item-urls: %w", err)
	}
	log.Info("policy", "source", pol.Source, "sha256", pol.SHA256, "mode", pol.Mode, "third_party", pol.ThirdParty)

	assertions, err := c.assertions(ctx, env, log)
	if err != nil {
		return err
	}

	// Every setting is checked before the store is opened.
	var smtp *mailpkg.SMTP
	if !dev {
		if smtp, err = mailpkg.NewSMTP(c.mail, base.Hostname()); err != nil {
			return usageError{err.Error()}
		}
	}
	// Only an explicit --init (or --demo) makes a new store: a mistyped
	// --db must not start a portal on an empty directory.
	var db *store.DB
	if c.init || c.demo {
		db, err = c.create(ctx)
	} else if db, err = store.Open(ctx, c.db, store.Options{}); errors.Is(err, store.ErrNoStore) {
		return fmt.Errorf("%w (nothing was created): to start with a new store, run serve with --init", err)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := c.keys(ctx, db, log)
	if err != nil {
		return err
	}
	logKey, err := c.loadLogKey(ctx, db, log, base.Host+"/notrain")
	if err != nil {
		return err
	}
	cat, err := locale.Load()
	if err != nil {
		return err
	}
	composer, err := mailpkg.NewComposer(cat, mailpkg.ComposerConfig{ThirdPartyExcluded: thirdPartyExcluded, Receipts: receipt.Maker{Log: db.RecentLog()}})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	reg.MustRegister(outboxCollector(db))
	mon := backlog.New(db, backlog.Config{Threshold: cmp.Or(c.delayNotice, -1), Now: env.Now, Log: log}) // the flag's 0 is never
	reg.MustRegister(mon.Collectors()...)

	disp := &mailpkg.Dispatcher{Outbox: db, Composer: composer, From: c.mailFrom, Now: env.Now, Log: log, Metrics: m, BackoffBase: c.retryBase, Lease: c.mailLease}
	mailDesc := "dev mailbox at " + c.baseURL + "/dev/mail"
	if smtp != nil {
		disp.Sender = smtp
		mailDesc = smtp.String()
	}
	if signer != nil {
		disp.Signer = signer
	}
	svc, err := objection.New(db, keys, cat, m, disp.Wake, objection.Config{
		CodeTTL: c.codeTTL, BaseURL: c.baseURL, MailDomain: senderDomain, Now: env.Now,
		ClientLimit: c.ipRateLimit, SaveTimeout: cmp.Or(c.saveTimeout, -1), // the flag's 0 is no bound
	})
	if err != nil {
		return err
	}
	// Registered before the portal takes a request.
	reports := report.New(svc, db, keys, itemURLs)
	consentMode := pol.Mode == policy.ModeConsent
	if consentMode {
		consent.Register(svc, db, keys)
	}
	// The operator console, over the review queue and the evidence export.
	var reviewQueue review.Queue = report.NewQueue(db, svc, keys, itemURLs, env.Now)
	evidence := evidencepkg.New(db, keys, logKey, env.Now)
	con, err := console.New(console.Config{
		DB: db, Keys: keys, Catalog: cat, Operators: operator.New(db, keys, env.Now),
		Queue: reviewQueue, Evidence: evidence, BaseURL: c.consoleURL(), PublicHTTPS: base.Scheme == "https" || strings.HasPrefix(c.adminBaseURL, "https:"),
		ClientAddr: web.ClientAddrFunc(trusted), Now: env.Now, Log: log, ItemURL: itemURLs.URL,
	})
	if err != nil {
		return err
	}
	if _, err := operator.LinkBase(c.consoleURL()); err != nil {
		log.Warn("the console cannot make set-up links: set --admin-base-url to the address it is reached at", "err", err)
	}
	var adminOnMain http.Handler
	if c.adminAddr == "" {
		adminOnMain = con.Handler()
	}
	srv, err := web.New(svc, db, cat, m, reg, web.Config{
		Dev: dev, TrustedProxies: trusted, ThirdPartyExcluded: thirdPartyExcluded, Now: env.Now, Log: log, Composer: composer,
		Keys:   keys,
		LogKey: logKey, PublicHTTPS: base.Scheme == "https",
		Backlog: mon, Reports: reports,
		Consent:    consentMode,
		Admin:      adminOnMain,
		Assertions: assertions,
	})
	if err != nil {
		return err
	}
	if c.demo {
		if err := seedDemo(ctx, db, keys, env); err != nil {
			return err
		}
	}

	if c.debugAddr != "" {
		if !loopback(c.debugAddr) {
			return usageError{"--debug-addr must be a loopback address: the profiler is not for the network"}
		}
		dl, err := net.Listen("tcp", c.debugAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", c.debugAddr, err)
		}
		dmux := http.NewServeMux()
		dmux.HandleFunc("/debug/pprof/", pprof.Index)
		dmux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		dmux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go (&http.Server{Handler: dmux, ReadHeaderTimeout: 5 * time.Second}).Serve(dl)
		defer dl.Close()
	}
	// The metrics listener comes first: a port already taken there stops
	// start before the portal takes any request.
	metricsURL := ""
	if c.metricsAddr != "off" {
		ml, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			return fmt.Errorf("listen on --metrics-addr %s: %w", c.metricsAddr, err)
		}
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: web.IdleTimeout}
		go ms.Serve(ml)
		defer ms.Close()
		metricsURL = "http://" + ml.Addr().String() + "/metrics"
	}
	adminURL := c.baseURL + "/admin"
	if c.adminAddr != "" {
		al, err := net.Listen("tcp", c.adminAddr)
		if err != nil {
			return fmt.Errorf("listen on --admin-addr %s: %w", c.adminAddr, err)
		}
		as := web.NewHTTPServer(con.Handler(), slog.NewLogLogger(log.Handler(), slog.LevelWarn))
		go as.Serve(al)
		defer as.Close()
		adminURL = "http://" + al.Addr().String() + "/admin"
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	// Cap open connections below the file-descriptor limit: under a surge,
	// further clients wait in the kernel's accept queue instead of taking
	// the descriptors the store and the mail sender need. Within that cap,
	// one client address holds at most --conns-per-client of them.
	ln = netutil.LimitListener(web.LimitPerClient(ln, c.connsPerClient, trusted), maxConnections())
	hs := web.NewHTTPServer(srv.Handler(), slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	c.banner(env, ln.Addr().String(), dev, mailDesc, dkimDesc(signer, c.dkimSelectors, dev), metricsURL, db, pol, logKey)
	fmt.Fprintf(env.Stdout, "  console: %s (add an operator with: notrain operators add NAME --role admin)\n\n", adminURL)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { disp.Run(ctx) })
	wg.Go(func() { mon.Run(ctx) })
	wg.Go(func() { forgetLoop(ctx, db, env.Now, log) })
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		cancel()
		wg.Wait()
		return fmt.Errorf("http: %w", err)
	}
	log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	err = hs.Shutdown(sctx)
	cancel()
	wg.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// assertions loads the platform's keys and makes the verifier of its
// assertions; nil without --platform-jwks. A key file that is missing,
// malformed or without a usable key stops start.
func (c *serveConfig) assertions(ctx context.Context, env Env, log *slog.Logger) (*assertion.Verifier, error) {
	if c.platformJWKS == "" {
		if c.platformIssuer != "" || c.platformAud != "" {
			return nil, usageError{"--platform-issuer and --platform-audience need --platform-jwks"}
		}
		return nil, nil
	}
	if c.platformIssuer == "" || c.platformAud == "" {
		return nil, usageError{"--platform-jwks needs --platform-issuer and --platform-audience: the iss and aud the platform's assertions must carry"}
	}
	keys, err := assertion.LoadKeys(ctx, c.platformJWKS, nil, env.Now, log)
	if err != nil {
		return nil, fmt.Errorf("--platform-jwks: %w", err)
	}
	v, err := assertion.NewVerifier(assertion.Config{Issuer: c.platformIssuer, Audience: c.platformAud, Keys: keys, Now: env.Now})
	if err != nil {
		return nil, fmt.Errorf("--platform-jwks: %w", err)
	}
	log.Info("one-click objections", "jwks", c.platformJWKS, "issuer", c.platformIssuer, "audience", c.platformAud)
	return v, nil
}

func (c *serveConfig) banner(env Env, addr string, dev bool, mailDesc, dkimDesc, metricsURL string, db *store.DB, pol *policy.Policy, logKey *translog.Key) {
	w := env.Stdout
	fmt.Fprintf(w, "notrain %s: objection portal on http://%s/\n", version(), addr)
	where := db.Path()
	if where == "" {
		where = "PostgreSQL"
	}
	fmt.Fprintf(w, "  store:  %s (%s)\n", where, db.Dialect())
	fmt.Fprintf(w, "  mail:   %s\n", mailDesc)
	fmt.Fprintf(w, "  dkim:   %s\n", dkimDesc)
	fmt.Fprintf(w, "  policy: %s (sha256 %s)\n", pol.Source, pol.SHA256)
	fmt.Fprintf(w, "  log:    %s, verifier key %s (checkpoint at /log/checkpoint)\n", logKey.Origin(), logKey.VerifierKey())
	if metricsURL != "" {
		fmt.Fprintf(w, "  metrics: %s\n", metricsURL)
	}
	if dev {
		fmt.Fprintln(w, "")
		fmt.Fprintln(w, "  *** DEVELOPMENT MODE: no mail leaves this machine. Every mail, codes included, ***")
		fmt.Fprintln(w, "  *** is shown at /dev/mail. Use --mail smtp://… for real delivery.              ***")
	}
	if c.demo {
		fmt.Fprintln(w, "")
		fmt.Fprintln(w, "  Demo accounts (object with any of these addresses):")
		for _, d := range demoPeople() {
			fmt.Fprintf(w, "    %-24s %s\n", d.email, d.about)
		}
	}
	fmt.Fprintln(w, "")
}

// consoleURL is where set-up links made in the console point:
// --admin-base-url, else the console's own address when it has one, else
// the portal's base URL. The console refuses to make a link to an
// unspecified host (0.0.0.0, ::) and says to set --admin-base-url.
func (c *serveConfig) consoleURL() string {
	if c.adminBaseURL != "" {
		return c.adminBaseURL
	}
	if c.adminAddr != "" {
		return "http://" + c.adminAddr
	}
	return c.baseURL
}

// loopback reports whether addr only listens on a loopback interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, usageError{fmt.Sprintf("--trusted-proxies: %q is not an address or CIDR", part)}
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--trusted-proxies: %q is not an address or CIDR", part)}
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// refuseVolatile refuses a database on a file system that a reboot empties.
func refuseVolatile(dbPath string) error {
	dir := filepath.Dir(dbPath)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("database directory: %w", err)
	}
	if volatileFS(dir) {
		return fmt.Errorf("%s is on a RAM file system (tmpfs): a restart would lose acknowledged objections; put the database on a disk", dbPath)
	}
	return nil
}

// forgetLoop drops addresses and rate-limit events that are no longer needed.
func forgetLoop(ctx context.Context, db *store.DB, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		n := now()
		err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			return tx.Forget(ctx, n.Add(-24*time.Hour), n.Add(-48*time.Hour))
		})
		if err != nil && ctx.Err() == nil {
			log.Error("forget", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// outboxCollector exposes the outbox's depth, read at scrape time.
func outboxCollector(db *store.DB) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "notrain_outbox_depth", Help: "Mails queued and not yet delivered.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := db.OutboxStats(ctx)
		if err != nil {
			return -1
		}
		return float64(st.Queued)
	})
}
