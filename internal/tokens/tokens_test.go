package tokens

import (
	"slices"
	"testing"
)

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"models", "Models", "reviews", "", "models "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if (err == nil) != slices.Contains(Scopes(), Scope(s)) || err == nil && string(sc) != s {
			t.Fatalf("%q: %q %v", s, sc, err)
		}
	})
}
