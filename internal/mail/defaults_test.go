package mail

import "testing"

// A Dispatcher left at zero takes the exported defaults serve's flags show.
func TestDispatcherZeroValueTakesTheExportedDefaults(t *testing.T) {
	var d Dispatcher
	d.defaults()
	if d.Lease != DefaultLease || d.BackoffBase != DefaultBackoffBase || d.BackoffMax != DefaultBackoffMax {
		t.Fatalf("lease %s, backoff %s up to %s; want %s, %s up to %s",
			d.Lease, d.BackoffBase, d.BackoffMax, DefaultLease, DefaultBackoffBase, DefaultBackoffMax)
	}
}
