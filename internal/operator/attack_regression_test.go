package operator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/notrain/notrain/internal/operator"
	"github.com/notrain/notrain/internal/testutil/dbtest"
)

// TestAttackLoginRateLimitHoldsUnderConcurrency: the limit is "five
// failures within the window, then locked". Login reads the failure count,
// hashes (tens of milliseconds), and only then records the failure, so a
// burst of parallel guesses all pass the check: one client guessed 30 to 56
// passwords against one name in one burst on a running server. At most
// LoginMaxFailed guesses may be checked per window, however they arrive.
func TestAttackLoginRateLimitHoldsUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		s, f := newService(t, dsn)
		setUp(t, s, f, "rita", operator.RoleReviewer, false)
		const burst = 16
		var checked, locked atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, err := s.Login(context.Background(), "rita", fmt.Sprintf("wrong guess %02d!!", i), "", "203.0.113.9")
				switch {
				case errors.Is(err, operator.ErrLoginFailed):
					checked.Add(1)
				case errors.Is(err, operator.ErrLocked):
					locked.Add(1)
				default:
					t.Errorf("guess %d: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := checked.Load(); n > operator.LoginMaxFailed {
			t.Fatalf("%d of %d parallel guesses were checked (locked: %d); the limit is %d per window",
				n, burst, locked.Load(), operator.LoginMaxFailed)
		}
	})
}
