package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// addresses hands each worker its own addresses in turn, each used at most
// three times: the per-address limit allows five code mails an hour, and an
// attempt cut short by a crash counts too.
type addresses struct {
	mu      sync.Mutex
	perWork int
	used    map[int]int
	workers int
	total   int
}

func newAddresses(total, workers int) *addresses {
	return &addresses{perWork: total / workers, used: map[int]int{}, workers: workers, total: total}
}

func (a *addresses) next(worker int) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.used[worker]
	a.used[worker]++
	slot := n % a.perWork
	if n/a.perWork >= 3 {
		return "" // spent
	}
	return fmt.Sprintf("person%d@example.de", worker*a.perWork+slot)
}

func cycles(t *testing.T) int {
	if v := os.Getenv("NOTRAIN_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("NOTRAIN_CRASH_CYCLES=%q", v)
		}
		return n
	}
	return 20
}

// Kill -9 the service at random moments under load, restart it, repeat.
// Afterwards every objection that got a 200 is in the store, the ledger
// verifies, and every confirmation mail was delivered (or is queued).
func TestCrashNeverLosesAnAcknowledgedObjection(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		n := cycles(t)
		const workers = 6
		// Enough addresses for the load of every cycle (a few hundred
		// objections a cycle at most).
		w := newWorld(t, dsn, 300+n*150)
		addrs := newAddresses(w.n, workers)
		var all []acked
		loaded := 0
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		for c := range n {
			in := w.serve("--mail-lease", "2s")
			ctx, cancel := context.WithCancel(context.Background())
			results := make(chan []acked)
			go func() { results <- w.load(ctx, []string{in.url}, workers, addrs.next) }()
			time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
			in.kill()
			cancel()
			got := <-results
			if len(got) > 0 {
				loaded++
			}
			all = append(all, got...)
			if c%10 == 9 {
				t.Logf("%d cycles, %d acknowledged objections so far", c+1, len(all))
			}
		}
		// A crash test is only as good as the load at the moment of the kill.
		if loaded < n*3/4 {
			t.Fatalf("objections were acknowledged in only %d of %d cycles: the load did not get through", loaded, n)
		}
		// One clean run to deliver what the crashes left queued.
		in := w.serve("--mail-lease", "2s")
		w.drain(t, in, 60*time.Second)
		in.stop(t)

		raw := dbtest.Raw(t, dsn)
		for _, a := range all {
			var count int
			if err := raw.QueryRow("SELECT COUNT(*) FROM objections WHERE id = $1 AND request_id = $2", a.reference, a.requestID).Scan(&count); err != nil || count != 1 {
				t.Fatalf("acknowledged objection %s (%s) is not in the store: %d, %v", a.reference, a.addr, count, err)
			}
			var status string
			if err := raw.QueryRow("SELECT status FROM outbox WHERE request_id = $1 AND kind = 'objection_confirmed'", a.requestID).Scan(&status); err != nil {
				t.Fatalf("no confirmation mail for %s in the outbox: %v", a.reference, err)
			}
			if status != "sent" && status != "queued" {
				t.Fatalf("confirmation for %s is %s", a.reference, status)
			}
		}
		received := map[string]bool{}
		for _, m := range w.smtp.Messages() {
			received[m.Subject] = true
		}
		undelivered := 0
		for _, a := range all {
			found := false
			for subj := range received {
				if strings.Contains(subj, a.reference) {
					found = true
					break
				}
			}
			if !found {
				undelivered++
			}
		}
		if undelivered > 0 {
			t.Fatalf("%d of %d confirmations never arrived", undelivered, len(all))
		}
		if out := w.run("ledger", "verify", "--no-update"); !strings.Contains(out, "ledger intact") {
			t.Fatalf("ledger verify: %s", out)
		}
		t.Logf("%d kill -9 cycles (%d with acknowledgements): %d acknowledged objections, all stored and confirmed; ledger intact", n, loaded, len(all))
	})
}

// drain waits until the instance's outbox is empty.
func (w *world) drain(t *testing.T, in *instance, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(in.url + "/healthz")
		if err == nil {
			var h struct {
				Queued int `json:"outbox_queued"`
			}
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Queued == 0 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the outbox did not drain within %s:\n%s", within, in.logs.String())
}
