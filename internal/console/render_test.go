package console

import (
	"testing"
	"time"

	"github.com/notrain/notrain/internal/dashboard"
	"github.com/notrain/notrain/internal/locale"
	"github.com/notrain/notrain/internal/store"
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

// A chart's days are labelled as the language writes a day and month
// (dates formatted for the language), not month-day in every language.
func TestChartDaysInTheLanguage(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	rep := dashboard.Report{Series: []dashboard.Series{{Name: store.SeriesObjections, Days: []time.Time{day}, Counts: []int{1234}}}}
	for lang, want := range map[string]string{"en": "11-23", "de": "23.11.", "fr": "23/11", "hu": "11. 23."} {
		if !cat.Has(lang) {
			continue
		}
		b := charts(cat, lang, rep)[0].Bars[0]
		if b.Label != want {
			t.Errorf("%s: day label %q, want %q", lang, b.Label, want)
		}
	}
}
