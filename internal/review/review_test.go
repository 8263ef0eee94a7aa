package review

import (
	"testing"
	"time"
)

// A month's period ends on the same date of the next month or, when that
// month has no such date, on its last day (Regulation 1182/71, Art. 3(2)(c)),
// never spilling into the month after.
func TestDueOneCalendarMonthLater(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2026-01-15T10:00:00Z", "2026-02-15T10:00:00Z"},
		{"2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z"},
		{"2028-01-31T10:00:00Z", "2028-02-29T10:00:00Z"},
		{"2026-03-31T23:59:59Z", "2026-04-30T23:59:59Z"},
		{"2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"},
		{"2026-02-28T08:00:00Z", "2026-03-28T08:00:00Z"},
		{"2026-05-01T12:00:00+02:00", "2026-06-01T10:00:00Z"},
	} {
		in, _ := time.Parse(time.RFC3339, c.in)
		if got := Due(in).Format(time.RFC3339); got != c.want {
			t.Errorf("Due(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
