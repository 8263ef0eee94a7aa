package email

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		canonical string
		mailbox   string // "" = canonical
		err       error
	}{
		{in: "anna@example.de", canonical: "anna@example.de"},
		{in: "  Anna.Schmidt@Example.DE ", canonical: "anna.schmidt@example.de"},
		{in: "jörg@müller.de", canonical: "jörg@xn--mller-kva.de"},
		{in: "Jörg@Müller.de", canonical: "jörg@xn--mller-kva.de"},
		// NFD input (o + combining diaeresis) matches the NFC spelling.
		{in: "jo\u0308rg@mu\u0308ller.de", canonical: "jörg@xn--mller-kva.de"},
		{in: "user+tag@sub.example.com", canonical: "user+tag@sub.example.com", mailbox: "user@sub.example.com"},
		{in: "User+Tag+more@example.com", canonical: "user+tag+more@example.com", mailbox: "user@example.com"},
		{in: "+tag@example.com", canonical: "+tag@example.com"},
		{in: "a@xn--mller-kva.de", canonical: "a@xn--mller-kva.de"},
		{in: "straße@example.de", canonical: "straße@example.de"},
		// Local parts that anything but NFC and ASCII lower-casing would
		// change: another system may match them to someone else's address.
		{in: "anna.\u0130g@example.de", err: ErrNotCanonical}, // İ, lower-cased to i
		{in: "JÖRG@MÜLLER.DE", err: ErrNotCanonical},
		{in: "anna.\u212Ag@example.de", canonical: "anna.kg@example.de"}, // Kelvin sign: NFC makes it K
		{in: "anna.\u0131g@example.de", err: ErrNotCanonical},            // dotless ı, upper-cased to I
		{in: "anna.\u017Fg@example.de", err: ErrNotCanonical},            // long ſ, upper-cased to S
		{in: "\uFF41nna@example.de", err: ErrNotCanonical},               // fullwidth ａ, NFKC a
		{in: "\uFB01sh@example.de", err: ErrNotCanonical},                // ligature ﬁ, NFKC fi
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
		if tt.mailbox == "" {
			tt.mailbox = tt.canonical
		}
		if got.Canonical != tt.canonical || got.Mailbox != tt.mailbox {
			t.Errorf("Parse(%q) = %+v, want canonical %q mailbox %q", tt.in, got, tt.canonical, tt.mailbox)
		}
	}
}

// Spelling variants of one address must all match the same canonical form.
func TestCanonicalVariantsAgree(t *testing.T) {
	variants := []string{"Jörg@Müller.de", "jörg@MÜLLER.DE", "jo\u0308rg@mu\u0308ller.de", "JöRG@xn--mller-kva.de", " jörg@müller.de"}
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
	for _, s := range []string{"anna.\u0130g@example.de", "\u212A@x.de", "a+b@x.de", "\uFB01@x.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		for _, v := range []string{a.Canonical, a.Mailbox} {
			if !utf8.ValidString(v) || len(v) > 254 || strings.ContainsAny(v, "\r\n\x00 <>\",;") {
				t.Fatalf("Parse(%q) produced unsafe address %q", s, v)
			}
		}
		// Canonicalisation is idempotent: the canonical form parses to itself.
		again, err := Parse(a.Canonical)
		if err != nil || again.Canonical != a.Canonical || again.Mailbox != a.Mailbox {
			t.Fatalf("canonical %q of %q does not re-parse to itself: %+v, %v", a.Canonical, s, again, err)
		}
		// Only NFC and ASCII lower-casing lead from the input to the
		// canonical form: no other mapping a mail system might apply (full
		// Unicode case mapping, compatibility normalisation) changes it.
		local := a.Canonical[:strings.LastIndexByte(a.Canonical, '@')]
		for _, v := range []string{strings.ToLower(local), strings.ToLower(strings.ToUpper(local)), norm.NFKC.String(local)} {
			if v != local {
				t.Fatalf("Parse(%q) accepted local part %q, which another mapping turns into %q", s, local, v)
			}
		}
		in := norm.NFC.String(strings.TrimSpace(s))
		if got := asciiLower(in[:strings.LastIndexByte(in, '@')]); got != local {
			t.Fatalf("Parse(%q): local part %q is not the input's NFC, ASCII lower-cased: %q", s, local, got)
		}
	})
}

// A platform's directory (and an imported letter) may hold an address in
// capitals; it is nobody's attempt to reach someone else's code, so it is
// lower-cased fully and then must be canonical. The person matches it by
// typing the lower-case spelling, which the portal accepts.
func TestParseRecorded(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{in: "JÖRG@MÜLLER.DE", want: "jörg@xn--mller-kva.de"},
		{in: "Anna@Example.DE", want: "anna@example.de"},
		{in: "anna.\u0130g@example.de", err: ErrNotCanonical}, // İ would become anna.ig, someone else's
		{in: "anna.\u017Fg@example.de", err: ErrNotCanonical}, // ſ is lower case, but folds to s elsewhere
		{in: "not an address", err: ErrInvalid},
	} {
		a, err := ParseRecorded(tc.in)
		if !errors.Is(err, tc.err) || a.Canonical != tc.want {
			t.Errorf("ParseRecorded(%q) = %q, %v; want %q, %v", tc.in, a.Canonical, err, tc.want, tc.err)
		}
		if err != nil {
			continue
		}
		typed, err := Parse(tc.want)
		if err != nil || typed.Canonical != a.Canonical {
			t.Errorf("the person's lower-case spelling %q parses to %q, %v: cannot match the record", tc.want, typed.Canonical, err)
		}
	}
}
