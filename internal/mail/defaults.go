package mail

import "time"

// Defaults of the Dispatcher that serve also offers as flags. They are the
// one source of each value: the flags show them, and a Dispatcher left at
// zero takes them.
const (
	// DefaultLease is how long a delivery attempt holds a mail (--mail-lease).
	DefaultLease = 2 * time.Minute
	// DefaultBackoffBase is the first retry delay (--mail-retry).
	DefaultBackoffBase = 30 * time.Second
	// DefaultBackoffMax caps one retry delay; --mail-retry doubles up to it.
	DefaultBackoffMax = time.Hour
)
