// Package systemtest drives the real notrain binary: crashes, mail outages
// and several instances on one database, on SQLite and PostgreSQL.
package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// binary is the notrain command built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "notrain-systemtest")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "notrain")
	build := exec.Command("go", "build", "-o", binary, "github.com/notrain/notrain/cmd/notrain")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "systemtest: building notrain:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// secret is the master key every instance of a test shares.
const secret = "4e6f747261696e2d73797374656d746573742d6d61737465722d6b65792d2121"

// world is one store with accounts, and the SMTP server the instances send to.
type world struct {
	t    *testing.T
	dir  string
	dsn  string
	smtp *smtptest.Server
	n    int // accounts person0..person(n-1)@example.de
}

func newWorld(t *testing.T, dsn string, accounts int) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), dsn: dsn, smtp: smtptest.Start(t), n: accounts}
	var b strings.Builder
	for i := range accounts {
		fmt.Fprintf(&b, `{"product":"facebook","account_id":"u%d","email":"person%d@example.de","birthdate":"1980-01-01","group":"g%d"}`+"\n", i, i, i)
		fmt.Fprintf(&b, `{"product":"instagram","account_id":"ig%d","email":"person%d@example.de","birthdate":"1980-01-01","group":"g%d"}`+"\n", i, i, i)
	}
	path := filepath.Join(w.dir, "accounts.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	w.run("accounts", "import", path)
	return w
}

// run runs a notrain command to completion and returns its stdout.
func (w *world) run(args ...string) string {
	w.t.Helper()
	out, err := w.command(args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		w.t.Fatalf("notrain %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func (w *world) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, append(args, "--db", w.dsn, "--secret", secret, "--log-key", filepath.Join(w.dir, "log.key"))...)
	cmd.Dir = w.dir
	return cmd
}

// instance is a running "notrain serve".
type instance struct {
	cmd     *exec.Cmd
	url     string
	metrics string // the operator's listener (--metrics-addr)
	logs    *bytes.Buffer
	done    chan error
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serve starts an instance and waits until it answers /healthz. A port
// that freePort found free can be taken before the instance binds it (by
// any process's outgoing connection, as tests run side by side): the
// instance then exits at once, and another pair of ports is tried.
func (w *world) serve(extra ...string) *instance {
	w.t.Helper()
	for attempt := 1; ; attempt++ {
		in, busy := w.serveOn(freePort(w.t), freePort(w.t), extra...)
		if !busy {
			return in
		}
		if attempt == 5 {
			w.t.Fatalf("serve found its port taken %d times:\n%s", attempt, in.logs.String())
		}
	}
}

// serveOn is serve on the given addresses; busy reports that one was taken.
func (w *world) serveOn(addr, maddr string, extra ...string) (_ *instance, busy bool) {
	w.t.Helper()
	args := append([]string{"serve", "--addr", addr, "--metrics-addr", maddr, "--mail", w.smtp.URL(), "--mail-from", "notrain <noreply@notrain.test>",
		"--ip-rate-limit", "0", "--mail-retry", "200ms", "--log-level", "warn"}, extra...)
	cmd := w.command(args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	in := &instance{cmd: cmd, url: "http://" + addr, metrics: "http://" + maddr, logs: &logs, done: make(chan error, 1)}
	go func() { in.done <- cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-in.done:
			if strings.Contains(logs.String(), "address already in use") {
				return in, true
			}
			w.t.Fatalf("serve exited at start: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := http.Get(in.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in, false
			}
		}
	}
	w.t.Fatalf("serve did not become healthy:\n%s", logs.String())
	return nil, false
}

// kill stops an instance with SIGKILL: no shutdown, no flushing.
func (in *instance) kill() {
	in.cmd.Process.Kill()
	<-in.done
}

// stop shuts an instance down cleanly.
func (in *instance) stop(t *testing.T) {
	in.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("serve did not stop cleanly: %v\n%s", err, in.logs.String())
		}
	case <-time.After(20 * time.Second):
		in.kill()
		t.Error("serve did not stop within 20 s")
	}
}

var client = &http.Client{Timeout: 10 * time.Second}

func post(url string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out, nil
}

// acked is an objection the service confirmed with 200.
type acked struct {
	addr, requestID, reference string
}

// person plays one objection: request a code, read it from the mail that
// arrives over SMTP, confirm. ok is false when the service failed or went
// away on the way (no acknowledgement was given).
func (w *world) person(ctx context.Context, base, addr string) (acked, bool) {
	since := time.Now()
	status, started, err := post(base+"/api/v1/objections", map[string]any{"email": addr, "lang": "de"})
	if err != nil || status != http.StatusAccepted {
		return acked{}, false
	}
	rid, _ := started["request_id"].(string)
	code := w.codeFor(ctx, addr, since)
	if code == "" {
		return acked{}, false
	}
	status, done, err := post(base+"/api/v1/objections/verify", map[string]any{"request_id": rid, "code": code})
	if err != nil || status != http.StatusOK {
		return acked{}, false
	}
	ref, _ := done["reference"].(string)
	return acked{addr: addr, requestID: rid, reference: ref}, ref != ""
}

// codeFor waits for a code mail to addr that arrived after since.
func (w *world) codeFor(ctx context.Context, addr string, since time.Time) string {
	for {
		msgs := w.smtp.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			if m.At.After(since) && len(m.To) == 1 && strings.EqualFold(m.To[0], addr) && m.Code() != "" && strings.Contains(m.Subject, m.Code()) {
				return m.Code()
			}
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// load runs people against base until ctx ends; each worker uses its own
// addresses in turn, so a code mail is never ambiguous.
func (w *world) load(ctx context.Context, bases []string, workers int, next func(worker int) string) []acked {
	var mu sync.Mutex
	var out []acked
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				addr := next(i)
				if addr == "" {
					return
				}
				fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				a, ok := w.person(fctx, bases[i%len(bases)], addr)
				cancel()
				if ok {
					mu.Lock()
					out = append(out, a)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return out
}

// stores runs fn on SQLite and, when configured, PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, dsn string)) { dbtest.Each(t, fn) }

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
