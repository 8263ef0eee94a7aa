package ids

import (
	"testing"
	"time"
)

func TestReferenceShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		r := Reference("NT")
		if !IsReference("NT", r) {
			t.Fatalf("Reference() = %q does not have the reference shape", r)
		}
		if seen[r] {
			t.Fatalf("duplicate reference %q in 1000 draws", r)
		}
		seen[r] = true
	}
	for _, bad := range []string{"", "NT", "NT-AAAA-AAAA-AAA", "NT-AAAA-AAAA-AAAI", "XX-AAAA-AAAA-AAAA", "NT-AAAAA-AAA-AAAA"} {
		if IsReference("NT", bad) {
			t.Errorf("IsReference(%q) = true", bad)
		}
	}
}

func TestRequestShape(t *testing.T) {
	r := Request()
	if !IsRequest(r) || IsRequest(r[:31]) || IsRequest("ZZ"+r[2:]) {
		t.Fatalf("request id checks wrong for %q", r)
	}
}

func TestOrderedSortsByTime(t *testing.T) {
	a := Ordered()
	time.Sleep(2 * time.Millisecond)
	b := Ordered()
	if !(a < b) || !IsRequest(a) || a[12:] == b[12:] {
		t.Fatalf("Ordered: %s then %s", a, b)
	}
}
