package locale

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedCatalogsAgree(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Languages(), ","); got != "de,en" {
		t.Fatalf("languages = %s, want de,en", got)
	}
	if c.T("de", "object_title") == c.T("en", "object_title") {
		t.Fatal("German and English titles are the same: is de.json a copy?")
	}
}

func TestLoadRejectsMismatchedCatalogs(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"missing key": {
			"catalog/en.json": {Data: []byte(`{"a":"A","b":"B"}`)},
			"catalog/de.json": {Data: []byte(`{"a":"A"}`)},
		},
		"extra key": {
			"catalog/en.json": {Data: []byte(`{"a":"A"}`)},
			"catalog/de.json": {Data: []byte(`{"a":"A","b":"B"}`)},
		},
		"placeholder dropped": {
			"catalog/en.json": {Data: []byte(`{"a":"at {time}"}`)},
			"catalog/de.json": {Data: []byte(`{"a":"um"}`)},
		},
		"empty message": {
			"catalog/en.json": {Data: []byte(`{"a":"A"}`)},
			"catalog/de.json": {Data: []byte(`{"a":" "}`)},
		},
		"no default": {
			"catalog/de.json": {Data: []byte(`{"a":"A"}`)},
		},
	}
	for name, fsys := range cases {
		if _, err := load(fsys); err == nil {
			t.Errorf("%s: load succeeded", name)
		}
	}
}

func TestMatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for header, want := range map[string]string{
		"de-DE,de;q=0.9,en;q=0.8": "de",
		"de-AT":                   "de",
		"en-GB,en;q=0.9":          "en",
		"fr-FR,fr;q=0.9":          "en",
		"fr-FR,de;q=0.5":          "de",
		"":                        "en",
		"garbage;;q=x":            "en",
	} {
		if got := c.Match(header); got != want {
			t.Errorf("Match(%q) = %s, want %s", header, got, want)
		}
	}
}

func TestT(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.T("de", "withdraw_ended_many", "n", 3); got != "3 Widersprüche wurden beendet." {
		t.Fatalf("T = %q", got)
	}
	if got := c.T("xx", "withdraw_ended_many", "n", 3); got != "3 objections have ended." {
		t.Fatalf("T with unknown language = %q", got)
	}
}
