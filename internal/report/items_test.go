package report_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/report"
)

func patterns(t testing.TB) *report.Patterns {
	t.Helper()
	p, err := report.ParsePatterns(strings.NewReader(testPatterns))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPatternsMapBothWays(t *testing.T) {
	p := patterns(t)
	for _, tc := range []struct{ url, id string }{
		{"https://www.facebook.example/photo/1001", "fb:1001"},
		{"http://WWW.Facebook.Example/photo/1001", "fb:1001"},
		{"https://www.facebook.example/photo/1001/", "fb:1001"},
		{"https://www.facebook.example/photo/1001?ref=share#top", "fb:1001"},
		{"https://www.facebook.example/posts/77", "fb:77"},
		{"https://www.instagram.example/p/Cx9_a/", "ig:Cx9_a"},
		{"https://www.instagram.example/p/Cx9_a", "ig:Cx9_a"},
		{"https://www.facebook.example/photo/", ""},
		{"https://www.facebook.example/photo/1/2", ""},
		{"https://www.facebook.example/photos/1", ""},
		{"https://evil.example/www.facebook.example/photo/1", ""},
		{"https://user@www.facebook.example/photo/1", ""},
		{"ftp://www.facebook.example/photo/1", ""},
		{"https://www.facebook.example/photo/%2e%2e", ""},
		{"https://www.facebook.example/photo/..", ""},
		{"https://www.facebook.example/photo/.", ""},
	} {
		id, ok := p.ID(tc.url)
		if id != tc.id || ok != (tc.id != "") {
			t.Errorf("ID(%q) = %q, %v; want %q", tc.url, id, ok, tc.id)
		}
	}
	if got := p.URL("fb:1001"); got != "https://www.facebook.example/photo/1001" {
		t.Errorf("URL(fb:1001) = %q (the first line of a prefix)", got)
	}
	if got := p.URL("ig:Cx9_a"); got != "https://www.instagram.example/p/Cx9_a/" {
		t.Errorf("URL(ig:Cx9_a) = %q", got)
	}
	for _, id := range []string{"tt:1", "fb", "fb:a/b", "c1"} {
		if got := p.URL(id); got != "" {
			t.Errorf("URL(%q) = %q, want none", id, got)
		}
	}
}

func TestParsePatternsRefusesBadLines(t *testing.T) {
	for _, bad := range []string{
		"fb",
		"fb https://x.example/photo/",
		"fb https://x.example/{id}/{id}",
		"fb ftp://x.example/{id}",
		"fb https://{id}.example/photo",
		"f.b https://x.example/{id}",
		"fb https://x.example/{id} extra",
		"fb https://x.example/{id}#frag",
	} {
		if _, err := report.ParsePatterns(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		} else if !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error does not name the line: %v", bad, err)
		}
	}
	p, err := report.ParsePatterns(strings.NewReader("\n# only comments\n   \n"))
	if err != nil || p.Len() != 0 {
		t.Fatalf("empty file: %v %d", err, p.Len())
	}
	q, err := report.ParsePatterns(strings.NewReader("tt https://t.example/watch?v={id}"))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := q.ID("https://t.example/watch?v=abc"); !ok || id != "tt:abc" {
		t.Fatalf("query id: %q %v", id, ok)
	}
}

// FuzzParseItems: whatever a person types, the parser answers without
// panicking, and what it accepts are valid, distinct ids, at most
// MaxItems, each URL-mapped id mapping back to itself.
func FuzzParseItems(f *testing.F) {
	for _, s := range []string{
		"fb:1001\nhttps://www.facebook.example/photo/1002\n",
		"https://www.instagram.example/p/x/\nfb:1001\nfb:1001",
		"www.facebook.example/posts/9",
		" \n\t\n",
		"https://www.facebook.example/photo/1?x=%00",
		"fb:\u00e9\u0301",
		"a b",
	} {
		f.Add(s)
	}
	p := patterns(f)
	f.Fuzz(func(t *testing.T, s string) {
		items, err := p.ParseItems(strings.Split(s, "\n"))
		if err != nil {
			if items != nil {
				t.Fatalf("refused with items %v", items)
			}
			return
		}
		if len(items) == 0 || len(items) > report.MaxItems {
			t.Fatalf("%d items accepted", len(items))
		}
		seen := map[string]bool{}
		for _, id := range items {
			if seen[id] {
				t.Fatalf("duplicate %q", id)
			}
			seen[id] = true
			if id == "" || len(id) > report.MaxItemID || !utf8.ValidString(id) || strings.IndexFunc(id, func(r rune) bool {
				return unicode.IsSpace(r) || unicode.IsControl(r)
			}) >= 0 {
				t.Fatalf("invalid id %q accepted", id)
			}
			if u := p.URL(id); u != "" {
				if back, ok := p.ID(u); !ok || back != id {
					t.Fatalf("%q → %q → %q", id, u, back)
				}
			}
		}
	})
}

// FuzzParsePatterns: any patterns file is parsed or refused without
// panicking, and every accepted line maps its own URLs back to their ids.
func FuzzParsePatterns(f *testing.F) {
	f.Add(testPatterns)
	f.Add("tt https://t.example/watch?v={id}&x=1\n")
	f.Add("fb https://x.example/{id}\r\nfb https://x.example/a/{id}.html")
	f.Fuzz(func(t *testing.T, file string) {
		p, err := report.ParsePatterns(strings.NewReader(file))
		if err != nil {
			return
		}
		for _, line := range strings.Split(file, "\n") {
			fields := strings.Fields(line)
			if len(fields) != 2 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			id := fields[0] + ":a1"
			u := p.URL(id)
			if u == "" {
				t.Fatalf("accepted line %q gives no URL for %q", line, id)
			}
			// The URL is an item's (the first line that fits it decides
			// which, when lines overlap).
			if back, ok := p.ID(u); !ok {
				t.Fatalf("%q → %q → no id", id, u)
			} else if p.URL(back) == "" {
				t.Fatalf("%q → %q → %q, which has no URL", id, u, back)
			}
		}
	})
}

// An id a reviewer would read as another (invisible format characters), a
// protocol-relative URL, and an id that is only a prefix are refused.
func TestItemsThatMatchNoRecordAreRefused(t *testing.T) {
	pats, err := report.ParsePatterns(strings.NewReader("fb https://www.facebook.example/photo/{id}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"fb:1001\u200b", "fb:\u202e1001", "\ufefffb:1001", "fb:10\u00ad01", "//www.facebook.example/photo/1001", "fb:", ":1001"} {
		if got, err := pats.ParseItems([]string{in}); err == nil {
			t.Errorf("ParseItems(%q) = %q, want a refusal", in, got)
		}
	}
	for _, in := range []string{"fb:1001", "ig:ab_c-1.2~", "fb:Ω1001", "1001"} {
		if _, err := pats.ParseItems([]string{in}); err != nil {
			t.Errorf("ParseItems(%q): %v", in, err)
		}
	}
}
