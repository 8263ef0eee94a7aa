// Command dispatch measures notrain's mail dispatcher on its own: it
// creates a SQLite store in a temporary directory, queues code mails as the
// objection service does (template data), starts a loopback SMTP server
// (the project's test server, counting what arrives), runs the dispatcher
// until every mail is delivered and recorded, and prints mails per second.
//
//	go run ./bench/dispatch -n 50000 [-json FILE]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/mail/mailload"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/smtptest"
)

// result is what -json writes.
type result struct {
	Mails       int     `json:"mails"`
	Seconds     float64 `json:"seconds"`
	MailsPerSec float64 `json:"mails_per_s"`
	// CPUPerMail is the process's CPU time (dispatcher, store and SMTP
	// server together) per mail, in µs: steadier than the rate on a
	// machine shared with other work.
	CPUPerMail float64 `json:"cpu_us_per_mail"`
	Sessions   int     `json:"smtp_sessions"`
	Pipelined  bool    `json:"pipelined"`
}

func main() {
	n := flag.Int("n", 50000, "code mails to queue and deliver")
	out := flag.String("json", "", "also write the result as JSON to this file")
	noPipelining := flag.Bool("no-pipelining", false, "the SMTP server does not offer PIPELINING")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := run(ctx, *n, !*noPipelining)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(1)
	}
	fmt.Printf("dispatch: %d mails in %.2f s: %.0f mails/s, %.0f µs CPU per mail, over %d SMTP sessions (pipelining %v)\n",
		res.Mails, res.Seconds, res.MailsPerSec, res.CPUPerMail, res.Sessions, res.Pipelined)
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "dispatch:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, n int, pipelining bool) (result, error) {
	dir, err := os.MkdirTemp("", "notrain-dispatch-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Create(ctx, filepath.Join(dir, "notrain.db"), store.Options{})
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	cat, err := locale.Load()
	if err != nil {
		return result{}, err
	}
	composer, err := mail.NewComposer(cat, mail.ComposerConfig{ThirdPartyExcluded: true, Receipts: receipt.Maker{Log: db}})
	if err != nil {
		return result{}, err
	}
	if err := mailload.Queue(ctx, db, mailload.Load{Codes: n}, time.Now()); err != nil {
		return result{}, err
	}
	srv, err := smtptest.ListenWith("127.0.0.1:0", smtptest.Options{Discard: true, NoPipelining: !pipelining})
	if err != nil {
		return result{}, err
	}
	defer srv.Close()
	sender, err := mail.NewSMTP("smtp://"+srv.Addr, "notrain.test")
	if err != nil {
		return result{}, err
	}
	defer sender.Close()
	// The dispatcher as notrain serve configures it.
	d := &mail.Dispatcher{Outbox: db, Composer: composer, Sender: sender, From: "notrain <noreply@notrain.test>",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	start, cpu0 := time.Now(), cpuTime()
	go func() { d.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	for {
		if srv.Received() >= n {
			st, err := db.OutboxStats(ctx)
			if err != nil {
				return result{}, err
			}
			if st.Queued == 0 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return result{}, errors.Join(fmt.Errorf("%d of %d mails delivered", srv.Received(), n), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	took, cpu := time.Since(start), cpuTime()-cpu0
	st, err := db.OutboxStats(ctx)
	if err != nil {
		return result{}, err
	}
	if st.Sent != n || srv.Received() != n {
		return result{}, fmt.Errorf("%d mails recorded sent and %d received, want %d each", st.Sent, srv.Received(), n)
	}
	return result{Mails: n, Seconds: took.Seconds(), MailsPerSec: float64(n) / took.Seconds(),
		CPUPerMail: float64(cpu.Microseconds()) / float64(n), Sessions: srv.Sessions(), Pipelined: srv.Pipelined() > 0}, nil
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
