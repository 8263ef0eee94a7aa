package locale

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"text/template"
	tparse "text/template/parse"
)

func TestEmbeddedCatalogsAgree(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// The 24 official languages of the EU, and nothing else.
	if got, want := strings.Join(c.Languages(), ","), "bg,cs,da,de,el,en,es,et,fi,fr,ga,hr,hu,it,lt,lv,mt,nl,pl,pt,ro,sk,sl,sv"; got != want {
		t.Fatalf("languages = %s, want %s", got, want)
	}
	if c.T("de", "object_title") == c.T("en", "object_title") {
		t.Fatal("German and English titles are the same: is de.json a copy?")
	}
}

func TestLoadRejectsMismatchedCatalogs(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"key given twice": {
			"catalog/en.json": {Data: []byte(`{"a":"A","b":"B","a":"C"}`)},
			"catalog/de.json": {Data: []byte(`{"a":"A","b":"B"}`)},
		},
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
		if _, err := LoadFS(fsys); err == nil {
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
		"ja-JP,ja;q=0.9":          "en",
		"ja-JP,de;q=0.5":          "de",
		"fr-FR,fr;q=0.9":          "fr",
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

func TestCheckNamesTheMissingKeyAndLanguages(t *testing.T) {
	c, err := LoadFS(fstest.MapFS{
		"catalog/en.json": {Data: []byte(`{"a":"A","b":"B"}`)},
		"catalog/de.json": {Data: []byte(`{"a":"A","b":"B"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check("a", "b", "a"); err != nil {
		t.Fatalf("known keys: %v", err)
	}
	err = c.Check("a", "gone", "b")
	if err == nil || !strings.Contains(err.Error(), `"gone"`) || !strings.Contains(err.Error(), "de, en") || strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("Check = %v", err)
	}
}

func TestTemplateKeys(t *testing.T) {
	parse := func(src string) *template.Template {
		t.Helper()
		tt, err := template.New("page").Funcs(template.FuncMap{"t": func(string, ...any) string { return "" }}).Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	trees := func(tt *template.Template) []*tparse.Tree {
		var out []*tparse.Tree
		for _, x := range tt.Templates() {
			out = append(out, x.Tree)
		}
		return out
	}
	tt := parse(`{{define "x"}}{{t "in_define"}}{{end}}{{t "plain"}}{{if .A}}{{t "in_if" "n" 1}}{{else}}{{t "in_else"}}{{end}}` +
		`{{range .L}}{{t "in_range"}}{{else}}{{t "in_range_else"}}{{end}}{{with .W}}{{printf "%s" (t "in_parens")}}{{end}}{{template "x" (t "as_arg")}}`)
	keys, err := TemplateKeys("t", trees(tt)...)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{"as_arg", "in_define", "in_else", "in_if", "in_parens", "in_range", "in_range_else", "plain"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for _, src := range []string{`{{t .Key}}`, `{{"k" | t}}`, `{{t}}`, `{{if .A}}{{t (printf "k%d" 1)}}{{end}}`} {
		if keys, err := TemplateKeys("t", trees(parse(src))...); err == nil || !strings.Contains(err.Error(), "constant") {
			t.Errorf("%s: keys %v, err %v", src, keys, err)
		}
	}
}
