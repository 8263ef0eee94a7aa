package console

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                         "0 ms",
		7600 * time.Microsecond:   "8 ms",
		2500 * time.Millisecond:   "2500 ms",
		42400 * time.Millisecond:  "42 s",
		192600 * time.Millisecond: "3m13s",
	} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}
