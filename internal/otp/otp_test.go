package otp

import (
	"testing"
	"time"
)

func TestGenerateShapeAndSpread(t *testing.T) {
	seen := map[string]bool{}
	first := map[byte]int{}
	for range 2000 {
		c, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := Normalize(c); !ok || n != c {
			t.Fatalf("Generate() = %q, not a 6-digit code", c)
		}
		seen[c] = true
		first[c[0]]++
	}
	// 2000 draws from 10^6: a handful of collisions at most.
	if len(seen) < 1990 {
		t.Fatalf("only %d distinct codes in 2000 draws", len(seen))
	}
	// Leading zeros must occur: a generator that skips them has 10% fewer codes.
	if first['0'] == 0 {
		t.Fatal("no code started with 0 in 2000 draws")
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"123-456", "123456", true},
		{"012345", "012345", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12a456", "", false},
		{"１２３４５６", "", false}, // full-width digits are not accepted silently
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidTTL(t *testing.T) {
	for d, want := range map[time.Duration]bool{
		DefaultTTL: true, MaxTTL: true, MaxTTL + time.Second: false, 0: false, 30 * time.Second: false,
	} {
		if ValidTTL(d) != want {
			t.Errorf("ValidTTL(%v) = %v, want %v", d, !want, want)
		}
	}
}
