package models

import (
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseTrainedAt(f *testing.F) {
	for _, s := range []string{"", "2026-05-01T00:00:00Z", "2026-05-01T00:00:00.5+02:00", "yesterday", "2026-13-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseTrainedAt(s)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code != CodeTrainedAtInvalid {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if (s == "") != at.IsZero() || at.Location() != time.UTC {
			t.Fatalf("%q: %v", s, at)
		}
	})
}

func FuzzCheck(f *testing.F) {
	f.Add("lm-1", "snap_a", "snap_b")
	f.Add("", "snap_a", "")
	f.Add("x\x00", "a", "a")
	f.Fuzz(func(t *testing.T, name, a, b string) {
		snaps, err := check(Input{Name: name, Snapshots: []string{a, b}})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatal(err)
			}
			return
		}
		if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxName || len(snaps) == 0 || len(snaps) > 2 {
			t.Fatalf("accepted %q %v", name, snaps)
		}
		for i := 1; i < len(snaps); i++ {
			if snaps[i-1] >= snaps[i] {
				t.Fatalf("not sorted and distinct: %v", snaps)
			}
		}
	})
}
