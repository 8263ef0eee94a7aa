package filter

import (
	"fmt"
	"time"
)

// startProgress prints a progress line every half second when job.Progress
// is set (the caller passes stderr only when it is a terminal).
func startProgress(job Job, p *progressCounter) (stop func()) {
	if job.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprint(job.Progress, "\r\033[K")
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				read, total, recs := p.read.Load(), p.total.Load(), p.records.Load()
				line := fmt.Sprintf("\r\033[K%s / %s read, %s records/s", size(read), size(total), count(float64(recs)/el))
				if read > 0 && total > read {
					eta := time.Duration(el * float64(total-read) / float64(read) * float64(time.Second))
					line += fmt.Sprintf(", about %s left", eta.Round(time.Second))
				}
				fmt.Fprint(job.Progress, line)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d kB", n>>10)
}

func count(x float64) string {
	if x >= 1e6 {
		return fmt.Sprintf("%.2f M", x/1e6)
	}
	return fmt.Sprintf("%.0f", x)
}
