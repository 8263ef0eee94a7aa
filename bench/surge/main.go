// Command surge plays people objecting at a fixed arrival rate against a
// running notrain: each person requests a code, receives it over SMTP (this
// program is the mail server notrain delivers to), and confirms it. It
// reports completed objections per second, latency percentiles per step,
// errors and mail delivery delay, and with -db checks that every
// acknowledged objection is in the store.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/notrain/notrain/client"
)

func main() {
	var (
		target   = flag.String("target", "http://127.0.0.1:8080", "notrain base URL; several, comma-separated, for instances on one store (each person asks one and confirms at the next)")
		smtpAddr = flag.String("smtp", "127.0.0.1:2525", "address to receive notrain's mail on")
		rate     = flag.Float64("rate", 1000, "arrivals per second")
		duration = flag.Duration("duration", 60*time.Second, "how long people keep arriving")
		pattern  = flag.String("emails", "person%d@example.de", "address pattern (one address per person)")
		first    = flag.Int("first", 0, "first address number")
		count    = flag.Int("count", 1_000_000, "addresses available")
		db       = flag.String("db", "", "store to check acknowledged objections against (SQLite file or postgres:// URL)")
		out      = flag.String("json", "", "also write the results as JSON here")
		wait     = flag.Duration("wait", 60*time.Second, "how long to wait for the target to become healthy")
		cpuprof  = flag.String("cpuprofile", "", "write the generator's own CPU profile here")
	)
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "surge:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
	}
	err := run(*target, *smtpAddr, *rate, *duration, *pattern, *first, *count, *db, *out, *wait)
	pprof.StopCPUProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "surge:", err)
		os.Exit(1)
	}
}

// mailbox hands each code mail to the person waiting for it.
type mailbox struct {
	mu      sync.Mutex
	waiting map[string]chan string // address → code
	codes   atomic.Int64
	other   atomic.Int64 // confirmations and the like
}

// The code leads the subject, which is Q-encoded: "=?utf-8?q?123456_ist_…".
var subjectCode = regexp.MustCompile(`(?m)^Subject: [^\r\n]*?[^0-9](\d{6})[^0-9]`)

func (m *mailbox) deliver(rcpt string, raw []byte) {
	// Only the header: the body (HTML, a receipt) is most of the mail.
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head = raw[:i+2]
	}
	c := subjectCode.FindSubmatch(head)
	if c == nil {
		m.other.Add(1)
		return
	}
	m.codes.Add(1)
	m.mu.Lock()
	ch := m.waiting[strings.ToLower(rcpt)]
	m.mu.Unlock()
	if ch != nil {
		select {
		case ch <- string(c[1]):
		default:
		}
	}
}

func (m *mailbox) expect(addr string) chan string {
	ch := make(chan string, 1)
	m.mu.Lock()
	m.waiting[strings.ToLower(addr)] = ch
	m.mu.Unlock()
	return ch
}

func (m *mailbox) forget(addr string) {
	m.mu.Lock()
	delete(m.waiting, strings.ToLower(addr))
	m.mu.Unlock()
}

type backend struct{ m *mailbox }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{m: b.m}, nil }

type session struct {
	m  *mailbox
	to []string
}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, to := range s.to {
		s.m.deliver(to, raw)
	}
	return nil
}
func (s *session) Reset()        { s.to = nil }
func (s *session) Logout() error { return nil }

// result is one person's journey.
type result struct {
	start, mail, verify, total time.Duration
	reference                  string
	err                        string
}

func run(target, smtpAddr string, rate float64, duration time.Duration, pattern string, first, count int, db, out string, wait time.Duration) error {
	targets := strings.Split(target, ",")
	mb := &mailbox{waiting: map[string]chan string{}}
	srv := smtp.NewServer(backend{mb})
	srv.Addr, srv.Domain, srv.AllowInsecureAuth = smtpAddr, "localhost", true
	srv.MaxRecipients, srv.ReadTimeout, srv.WriteTimeout = 10, time.Minute, time.Minute
	go srv.ListenAndServe()
	// Stop listening but leave open sessions alone: notrain keeps its SMTP
	// sessions open, and go-smtp's Close clears a session that may be in the
	// middle of a command (a nil dereference in its handler). The process
	// exits right after run returns.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
	}()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}}
	clients := make([]*client.Client, len(targets))
	for i, t := range targets {
		clients[i] = client.NewClient(t, hc)
		if err := waitHealthy(clients[i], wait); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	n := int(rate * duration.Seconds())
	if n > count {
		return fmt.Errorf("%d arrivals need %d addresses, -count is %d", n, n, count)
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range n {
		at := began.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		time.Sleep(time.Until(at))
		ask, confirm := clients[i%len(clients)], clients[(i+1)%len(clients)]
		wg.Go(func() { results[i] = person(ask, confirm, mb, fmt.Sprintf(pattern, first+i)) })
	}
	arrived := time.Since(began)
	wg.Wait()
	elapsed := time.Since(began)
	rep := report(results, rate, duration, arrived, elapsed, mb)
	if db != "" {
		missing, err := checkStore(db, results)
		if err != nil {
			return err
		}
		rep["lost_acknowledgements"] = missing
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	fmt.Println(string(b))
	if out != "" {
		if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if m, ok := rep["lost_acknowledgements"].(int); ok && m > 0 {
		return fmt.Errorf("%d acknowledged objections are not in the store", m)
	}
	return nil
}

func waitHealthy(c *client.Client, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var err error
	for time.Now().Before(deadline) {
		if _, err = c.Health(context.Background()); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not healthy within %s: %w", wait, err)
}

// person asks for a code at one instance and confirms it at another (the
// same, with one instance): the code request must be visible to all.
func person(ask, confirm *client.Client, mb *mailbox, addr string) (r result) {
	ctx := context.Background()
	t0 := time.Now()
	codes := mb.expect(addr)
	defer mb.forget(addr)
	st, err := ask.StartObjection(ctx, client.ObjectionRequest{Email: addr, Lang: "de"})
	r.start = time.Since(t0)
	if err != nil {
		r.err = "start " + errString(err)
		return r
	}
	t1 := time.Now()
	var code string
	select {
	case code = <-codes:
	case <-time.After(60 * time.Second):
		r.err = "no code mail within 60 s"
		return r
	}
	r.mail = time.Since(t1)
	t2 := time.Now()
	obj, err := confirm.VerifyObjection(ctx, st.RequestID, code)
	r.verify = time.Since(t2)
	r.total = time.Since(t0)
	if err != nil {
		r.err = "verify " + errString(err)
		return r
	}
	r.reference = obj.Reference
	return r
}

// errString is how the report counts an error: status and code of a
// refusal, else what went wrong.
func errString(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%d %s", e.Status, e.Code)
	}
	return "0 " + err.Error()
}

func percentiles(ds []time.Duration) map[string]float64 {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	ms := func(q float64) float64 {
		i := min(int(q*float64(len(ds))), len(ds)-1)
		return float64(ds[i].Microseconds()) / 1000
	}
	return map[string]float64{"p50_ms": ms(0.50), "p99_ms": ms(0.99), "p999_ms": ms(0.999), "max_ms": ms(1)}
}

func report(rs []result, rate float64, duration, arrived, elapsed time.Duration, mb *mailbox) map[string]any {
	var start, mail, verify, total []time.Duration
	errs := map[string]int{}
	done := 0
	for _, r := range rs {
		if r.start > 0 {
			start = append(start, r.start)
		}
		if r.err != "" {
			errs[r.err]++
			continue
		}
		done++
		mail, verify, total = append(mail, r.mail), append(verify, r.verify), append(total, r.total)
	}
	return map[string]any{
		"offered_per_s":            rate,
		"arrivals":                 len(rs),
		"arrival_seconds":          arrived.Seconds(),
		"completed":                done,
		"completed_per_s":          float64(done) / elapsed.Seconds(),
		"elapsed_seconds":          elapsed.Seconds(),
		"errors":                   errs,
		"request_code_latency":     percentiles(start),
		"mail_delivery_delay":      percentiles(mail),
		"verify_latency":           percentiles(verify),
		"complete_objection_total": percentiles(total),
		"code_mails_received":      mb.codes.Load(),
		"other_mails_received":     mb.other.Load(),
	}
}

// checkStore looks up every acknowledged reference in the store.
func checkStore(dsn string, rs []result) (int, error) {
	driver, source := "sqlite", "file:"+dsn+"?mode=ro&_pragma=busy_timeout(10000)"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver, source = "pgx", dsn
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx := context.Background()
	missing := 0
	for _, r := range rs {
		if r.reference == "" {
			continue
		}
		var n int
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM objections WHERE id = $1", r.reference).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) || err == nil && n != 1 {
			missing++
			continue
		}
		if err != nil {
			return 0, err
		}
	}
	return missing, nil
}
