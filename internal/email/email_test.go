package email

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		canonical string
		delivery  string
		err       error
	}{
		{in: "anna@example.de", canonical: "anna@example.de", delivery: "anna@example.de"},
		{in: "  Anna.Schmidt@Example.DE ", canonical: "anna.schmidt@example.de", delivery: "Anna.Schmidt@example.de"},
		{in: "jörg@müller.de", canonical: "jörg@xn--mller-kva.de", delivery: "jörg@xn--mller-kva.de"},
		// NFD input (o + combining diaeresis) matches the NFC spelling.
		{in: "jo\u0308rg@mu\u0308ller.de", canonical: "jörg@xn--mller-kva.de", delivery: "jörg@xn--mller-kva.de"},
		{in: "JÖRG@MÜLLER.DE", canonical: "jörg@xn--mller-kva.de", delivery: "JÖRG@xn--mller-kva.de"},
		{in: "user+tag@sub.example.com", canonical: "user+tag@sub.example.com", delivery: "user+tag@sub.example.com"},
		{in: "a@xn--mller-kva.de", canonical: "a@xn--mller-kva.de", delivery: "a@xn--mller-kva.de"},
		{in: "", err: ErrEmpty},
		{in: "   ", err: ErrEmpty},
		{in: "anna", err: ErrInvalid},
		{in: "anna@", err: ErrInvalid},
		{in: "@example.de", err: ErrInvalid},
		{in: "anna@localhost", err: ErrInvalid},
		{in: "anna@127.0.0.1", err: ErrInvalid},
		{in: "anna@exa mple.de", err: ErrInvalid},
		{in: "an na@example.de", err: ErrInvalid},
		{in: ".anna@example.de", err: ErrInvalid},
		{in: "an..na@example.de", err: ErrInvalid},
		{in: "anna.@example.de", err: ErrInvalid},
		{in: "\"anna\"@example.de", err: ErrInvalid},
		{in: "Anna <anna@example.de>", err: ErrInvalid},
		{in: "anna@example.de\r\nBcc: x@evil.test", err: ErrInvalid},
		{in: "anna@example.de\nBcc:x@evil.test", err: ErrInvalid},
		{in: "anna@-example.de", err: ErrInvalid},
		{in: "anna@example..de", err: ErrInvalid},
		{in: "anna@example.de.", err: ErrInvalid},
		{in: "anna\x00@example.de", err: ErrInvalid},
		{in: "anna@exam_ple.de", err: ErrInvalid},
		{in: strings.Repeat("a", 65) + "@example.de", err: ErrInvalid},
		{in: "a@" + strings.Repeat("b", 250) + ".de", err: ErrTooLong},
		{in: "a@" + strings.Repeat("b", 64) + ".de", err: ErrInvalid},
		{in: "\xff@example.de", err: ErrInvalid},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Canonical != tt.canonical || got.Delivery != tt.delivery {
			t.Errorf("Parse(%q) = %+v, want canonical %q delivery %q", tt.in, got, tt.canonical, tt.delivery)
		}
	}
}

// Spelling variants of one address must all match the same canonical form.
func TestCanonicalVariantsAgree(t *testing.T) {
	variants := []string{"Jörg@Müller.de", "jörg@MÜLLER.DE", "jo\u0308rg@mu\u0308ller.de", "JÖRG@xn--mller-kva.de", " jörg@müller.de"}
	want, err := Canonical(variants[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants[1:] {
		got, err := Canonical(v)
		if err != nil || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"anna@example.de", "jörg@müller.de", "a@b", "x@xn--mller-kva.de", "\"q\"@x.de", "a\r\n@x.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		for _, v := range []string{a.Canonical, a.Delivery} {
			if !utf8.ValidString(v) || len(v) > 254 || strings.ContainsAny(v, "\r\n\x00 <>\",;") {
				t.Fatalf("Parse(%q) produced unsafe address %q", s, v)
			}
		}
		// Canonicalisation is idempotent: the canonical form parses to itself.
		again, err := Parse(a.Canonical)
		if err != nil || again.Canonical != a.Canonical {
			t.Fatalf("canonical %q of %q does not re-parse to itself: %q, %v", a.Canonical, s, again.Canonical, err)
		}
	})
}
