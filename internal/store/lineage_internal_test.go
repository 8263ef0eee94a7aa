package store

import (
	"fmt"
	"slices"
	"testing"
)

// Entries survive the round trip through a blob, and a damaged blob is an
// error, never a crash or a silently shorter list.
func FuzzLineageEntries(f *testing.F) {
	var b []byte
	for _, a := range []AccountItems{{"facebook", "u1", 3}, {"instagram", "ä", 1 << 40}, {"", "", 0}} {
		b = appendLineageEntry(b, a)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []AccountItems
		var failed bool
		for a, err := range lineageEntries(data) {
			if err != nil {
				failed = true
				break
			}
			got = append(got, a)
		}
		if failed {
			return
		}
		var again []byte
		for _, a := range got {
			again = appendLineageEntry(again, a)
		}
		// Varints have more than one encoding; what decodes must decode the same again.
		var back []AccountItems
		for a, err := range lineageEntries(again) {
			if err != nil {
				t.Fatalf("re-encoded entries do not decode: %v", err)
			}
			back = append(back, a)
		}
		if !slices.Equal(got, back) {
			t.Fatalf("round trip: %v != %v", got, back)
		}
	})
}

func TestLineageBuckets(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1, 1}, {4096, 1}, {4097, 2}, {654452, 160}} {
		if got := lineageBuckets(c.n); got != int64(c.want) {
			t.Errorf("lineageBuckets(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// Keys spread evenly: no bucket of a large snapshot holds more than
	// twice its share.
	const n = 100000
	buckets := lineageBuckets(n)
	per := make([]int, buckets)
	for i := range n {
		per[lineageHash("facebook", fmt.Sprintf("u%d", i))%buckets]++
	}
	if m := slices.Max(per); m > 2*n/int(buckets) {
		t.Errorf("the fullest of %d buckets holds %d of %d keys", buckets, m, n)
	}
}
