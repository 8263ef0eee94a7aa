package console

import (
	"testing"
	"time"

	"github.com/notrain/notrain/internal/locale"
)

func TestDuration(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[time.Duration]map[string]string{
		0:                         {"en": "0 ms", "de": "0 ms"},
		7600 * time.Microsecond:   {"en": "8 ms", "de": "8 ms"},
		2500 * time.Millisecond:   {"en": "2,500 ms", "de": "2.500 ms"},
		42400 * time.Millisecond:  {"en": "42 s", "de": "42 s"},
		192600 * time.Millisecond: {"en": "3m13s", "de": "3m13s"},
	} {
		for lang, want := range want {
			if got := duration(cat, lang, d); got != want {
				t.Errorf("%s: duration(%v) = %q, want %q", lang, d, got, want)
			}
		}
	}
}
