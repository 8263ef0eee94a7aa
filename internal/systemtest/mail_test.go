package systemtest

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// metric reads one counter from /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var sum float64
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// The mail server goes away under load and comes back: every queued mail is
// delivered afterwards, none more than twice; mails the server refuses for
// good (550) are marked abandoned and counted.
func TestMailOutage(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, 80)
		refused := func(rcpt string) bool { return strings.HasPrefix(rcpt, "person7") } // person7, person70..79
		in := w.serve("--mail-retry", "100ms")
		defer in.stop(t)
		addr := w.smtp.Addr
		first := w.smtp
		first.Close()
		for i := range 80 {
			if status, _, err := post(in.url+"/api/v1/objections", map[string]any{"email": fmt.Sprintf("person%d@example.de", i)}); err != nil || status != http.StatusAccepted {
				t.Fatalf("request %d during the outage: %d %v", i, status, err)
			}
		}
		time.Sleep(1500 * time.Millisecond)
		if metric(t, in.metrics, "notrain_mail_delivery_failures_total") == 0 {
			t.Fatal("no failed delivery was counted while the server was down")
		}
		back, err := smtptest.Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer back.Close()
		back.RefuseRecipients(refused)
		w.drain(t, in, 60*time.Second)

		raw := dbtest.Raw(t, dsn)
		rows, err := raw.Query("SELECT rcpt, status, message_id FROM outbox WHERE kind <> 'suppressed'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]int{}
		for _, m := range append(first.Messages(), back.Messages()...) {
			seen[m.Header.Get("Message-Id")]++
		}
		sent, abandoned := 0, 0
		for rows.Next() {
			var rcpt, status, id string
			rows.Scan(&rcpt, &status, &id)
			switch {
			case refused(rcpt):
				if status != "abandoned" {
					t.Errorf("mail to refused %s is %s", rcpt, status)
				}
				abandoned++
			case status != "sent":
				t.Errorf("mail to %s is %s after the outage", rcpt, status)
			case seen["<"+id+">"] == 0:
				t.Errorf("mail to %s marked sent but never arrived", rcpt)
			case seen["<"+id+">"] > 2:
				t.Errorf("mail to %s arrived %d times", rcpt, seen["<"+id+">"])
			default:
				sent++
			}
		}
		if sent != 69 || abandoned != 11 {
			t.Fatalf("%d sent, %d abandoned; want 69 and 11", sent, abandoned)
		}
		if got := metric(t, in.metrics, "notrain_mail_abandoned_total"); got != 11 {
			t.Fatalf("notrain_mail_abandoned_total = %v, want 11", got)
		}
	})
}

// Two instances on one PostgreSQL database under concurrent load keep one
// valid chain, send every mail once, and share the per-client limit.
func TestTwoInstancesOneChain(t *testing.T) {
	dsn := dbtest.Postgres(t)
	w := newWorld(t, dsn, 600)
	a, b := w.serve(), w.serve()
	addrs := newAddresses(w.n, 10)
	ctx, cancel := contextWithTimeout(6 * time.Second)
	acks := w.load(ctx, []string{a.url, b.url}, 10, addrs.next)
	cancel()
	w.drain(t, a, 30*time.Second)
	w.drain(t, b, 30*time.Second)
	if len(acks) < 20 {
		t.Fatalf("only %d objections in 6 s", len(acks))
	}
	raw := dbtest.Raw(t, dsn)
	var objections, seqs, maxSeq int
	raw.QueryRow("SELECT COUNT(*) FROM objections").Scan(&objections)
	raw.QueryRow("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM ledger").Scan(&seqs, &maxSeq)
	if objections != len(acks) || seqs != maxSeq {
		t.Fatalf("%d objections for %d acknowledgements; %d entries up to seq %d", objections, len(acks), seqs, maxSeq)
	}
	if out := w.run("ledger", "verify", "--no-update"); !strings.Contains(out, "ledger intact") {
		t.Fatalf("ledger verify: %s", out)
	}
	ids := map[string]int{}
	for _, m := range w.smtp.Messages() {
		ids[m.Header.Get("Message-Id")]++
	}
	var sent int
	raw.QueryRow("SELECT COUNT(*) FROM outbox WHERE status = 'sent' AND kind <> 'suppressed'").Scan(&sent)
	for id, n := range ids {
		if n > 1 {
			t.Fatalf("mail %s sent %d times by two instances", id, n)
		}
	}
	if len(ids) != sent {
		t.Fatalf("%d distinct mails arrived, %d marked sent", len(ids), sent)
	}
	a.stop(t)
	b.stop(t)

	// The per-client limit is counted in the store: six requests from one
	// client spread over two instances with a limit of five.
	a, b = w.serve("--ip-rate-limit", "5"), w.serve("--ip-rate-limit", "5")
	defer a.stop(t)
	defer b.stop(t)
	var last int
	for i := range 6 {
		last, _, _ = post([]string{a.url, b.url}[i%2]+"/api/v1/objections", map[string]any{"email": fmt.Sprintf("limit%d@example.de", i)})
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("sixth request over two instances: %d, want 429", last)
	}
	t.Logf("two instances: %d objections, %d ledger entries, %d mails each sent once", objections, seqs, sent)
}
