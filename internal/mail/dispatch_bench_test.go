package mail_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/mail/mailload"
	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/fixture"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// benchMails is how many mails one iteration delivers: enough for the
// dispatcher to reach its steady rate (a surge's backlog).
const benchMails = 20000

// BenchmarkDispatch measures the dispatcher alone: a SQLite outbox holding
// mails as the service queues them (template data), rendered, built and
// delivered over loopback SMTP to a real server, outcomes recorded. It
// reports mails per second from the first lease to the last record.
//
//	go test ./internal/mail -run '^$' -bench Dispatch -benchtime 3x -count 1
func BenchmarkDispatch(b *testing.B) {
	b.Run("codes", func(b *testing.B) { benchDispatch(b, benchMails, 0) })
	// Every completed objection mails a code and a confirmation (with its
	// receipt).
	b.Run("codes+confirmations", func(b *testing.B) { benchDispatch(b, benchMails/2, benchMails/2) })
}

func benchDispatch(b *testing.B, codes, confirmations int) {
	f := fixture.New(b, fixture.Options{})
	f.Import(b, fixture.Accounts)
	conf := confirmationData(b, f)
	srv := smtptest.StartWith(b, smtptest.Options{Discard: true})
	sender, err := mail.NewSMTP(srv.URL(), "notrain.test")
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	var total, cpu time.Duration
	delivered := 0
	for range b.N {
		b.StopTimer()
		if err := mailload.Queue(ctx, f.DB, mailload.Load{Codes: codes, Confirmations: confirmations, Confirmation: conf}, time.Now()); err != nil {
			b.Fatal(err)
		}
		want := srv.Received() + codes + confirmations
		d := &mail.Dispatcher{Outbox: f.DB, Composer: f.Composer, Sender: sender, From: "notrain <noreply@notrain.test>",
			Log: fixture.Quiet(), Metrics: f.Metrics}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		go func() { d.Run(runCtx); close(done) }()
		d.Wake()
		waitDelivered(b, f.DB, srv, want)
		total += time.Since(start)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		cancel()
		<-done
		delivered += codes + confirmations
	}
	b.ReportMetric(float64(delivered)/total.Seconds(), "mails/s")
	// The CPU time of the whole process (dispatcher, store, SMTP server) per
	// mail: steadier than the rate when other work shares the cores.
	b.ReportMetric(float64(cpu.Microseconds())/float64(delivered), "cpu-µs/mail")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitDelivered waits until want mails have arrived and none is queued.
func waitDelivered(b *testing.B, db *store.DB, srv *smtptest.Server, want int) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if srv.Received() >= want {
			st, err := db.OutboxStats(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.Queued == 0 {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("%d of %d mails arrived", srv.Received(), want)
}

// confirmationData is the template data of a real confirmation: an
// objection verified through the service, whose ledger entry the receipt
// proves.
func confirmationData(b *testing.B, f *fixture.Fixture) string {
	st, err := object(f, "anna@example.de")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Svc.Verify(ctx, objection.FlowObjection, st.RequestID, f.CodeFor(b, st.RequestID)); err != nil {
		b.Fatal(err)
	}
	m, err := f.DB.LatestMailFor(ctx, st.RequestID)
	if err != nil || m.Kind != mail.KindObjectionConfirmed {
		b.Fatalf("latest mail %+v, %v", m, err)
	}
	return m.Data
}
