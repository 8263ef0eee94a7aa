package store

import (
	"slices"
	"testing"
)

// Entries survive the round trip through a blob, and a damaged blob is an
// error or decodes to entries that encode back the same, never a crash (a
// blob cut at an entry's end: TestTruncatedBlobIsRefused).
func FuzzLineageEntries(f *testing.F) {
	var b, prev []byte
	for _, a := range []AccountItems{{"facebook", "u1", 3}, {"facebook", "u12", 0}, {"instagram", "ä", 1 << 40}} {
		key := lineageKey(nil, a.Product, a.AccountID)
		b = appendLineageEntry(b, prev, key, a.Items)
		prev = key
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
		var again, prev []byte
		for _, a := range got {
			key := lineageKey(nil, a.Product, a.AccountID)
			again = appendLineageEntry(again, prev, key, a.Items)
			prev = key
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

// The key orders accounts as (product, account id) does.
func TestLineageKeyOrder(t *testing.T) {
	keys := []AccountItems{{"facebook", "u1", 0}, {"facebook", "u1a", 0}, {"facebook", "u2", 0}, {"facebookx", "a", 0}, {"instagram", "", 0}}
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		if string(lineageKey(nil, a.Product, a.AccountID)) >= string(lineageKey(nil, b.Product, b.AccountID)) || compareAccountItems(a, b) >= 0 {
			t.Errorf("%v does not sort before %v", a, b)
		}
	}
}

// A blob cut at an entry's end decodes as a shorter list; the count stored
// beside it tells.
func TestTruncatedBlobIsRefused(t *testing.T) {
	var b, prev []byte
	var cut int
	for i, a := range []AccountItems{{"facebook", "u1", 3}, {"facebook", "u2", 1}, {"facebook", "u3", 2}} {
		key := lineageKey(nil, a.Product, a.AccountID)
		b = appendLineageEntry(b, prev, key, a.Items)
		prev = key
		if i == 1 {
			cut = len(b)
		}
	}
	if err := decodeBlob(b, 3, func(AccountItems) {}); err != nil {
		t.Fatalf("the whole blob: %v", err)
	}
	if err := decodeBlob(b[:cut], 3, func(AccountItems) {}); err == nil {
		t.Fatal("a blob of 3 entries cut after the 2nd was read without error")
	}
}
