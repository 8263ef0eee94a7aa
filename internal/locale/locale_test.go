package locale

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"text/template"
	tparse "text/template/parse"
	"time"
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
	for _, l := range c.Languages() {
		if !slices.Contains(euLanguages, l) {
			t.Errorf("catalog %s is not one of the EU's official languages %v", l, euLanguages)
		}
		if l != Default && c.T(l, "object_title") == c.T(Default, "object_title") {
			t.Errorf("%s and %s titles are the same: is %s.json a copy?", l, Default, l)
		}
		if l != Default && c.T(l, "lang_name") == c.T(Default, "lang_name") {
			t.Errorf("%s calls itself %q, as %s does", l, c.T(l, "lang_name"), Default)
		}
	}
}

// euLanguages are the 24 official languages of the EU.
var euLanguages = []string{"bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"}

// catalogs returns a file system with a minimal valid catalog for each of
// langs, plus extra keys set in every one of them.
func catalogs(langs []string, extra map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, l := range langs {
		m := map[string]string{"lang_name": "name " + l, ReviewKey: ReviewMachine, LayoutKey: "02.01.2006 15:04"}
		if l == Default {
			m[ReviewKey], m[LayoutKey] = ReviewSource, "2006-01-02 15:04"
		}
		for k, v := range extra {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		fsys["catalog/"+l+".json"] = &fstest.MapFile{Data: b}
	}
	return fsys
}

// catalog is one catalog's JSON with the two keys Load requires.
func catalog(lang, body string) *fstest.MapFile {
	review, layout := ReviewMachine, "02.01.2006 15:04"
	if lang == Default {
		review, layout = ReviewSource, "2006-01-02 15:04"
	}
	return &fstest.MapFile{Data: []byte(`{"catalog_review":"` + review + `","datetime_layout":"` + layout + `",` + body[1:])}
}

func TestLoadRejectsMismatchedCatalogs(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"key given twice": {
			"catalog/en.json": catalog("en", `{"a":"A","b":"B","a":"C"}`),
			"catalog/de.json": catalog("de", `{"a":"A","b":"B"}`),
		},
		"missing key": {
			"catalog/en.json": catalog("en", `{"a":"A","b":"B"}`),
			"catalog/de.json": catalog("de", `{"a":"A"}`),
		},
		"extra key": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/de.json": catalog("de", `{"a":"A","b":"B"}`),
		},
		"placeholder dropped": {
			"catalog/en.json": catalog("en", `{"a":"at {time}"}`),
			"catalog/de.json": catalog("de", `{"a":"um"}`),
		},
		"placeholder renamed": {
			"catalog/en.json": catalog("en", `{"a":"at {time}"}`),
			"catalog/el.json": catalog("el", `{"a":"στις {ώρα}"}`),
		},
		"empty message": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/de.json": catalog("de", `{"a":" "}`),
		},
		"no default": {
			"catalog/de.json": catalog("de", `{"a":"A"}`),
		},
		"no review status": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/mt.json": {Data: []byte(`{"a":"Ċ","datetime_layout":"02/01/2006 15:04"}`)},
		},
		"unknown review status": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/bg.json": {Data: []byte(`{"a":"Б","catalog_review":"reviewed","datetime_layout":"02.01.2006 15:04"}`)},
		},
		"a translation claims to be the source": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/pl.json": {Data: []byte(`{"a":"Ż","catalog_review":"source","datetime_layout":"02.01.2006 15:04"}`)},
		},
		"the source claims to be a translation": {
			"catalog/en.json": {Data: []byte(`{"a":"A","catalog_review":"reviewed by a native speaker","datetime_layout":"2006-01-02 15:04"}`)},
		},
		"no layout": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/el.json": {Data: []byte(`{"a":"Ω","catalog_review":"machine translation, needs review"}`)},
		},
		"layout with a month name": {
			"catalog/en.json": catalog("en", `{"a":"A"}`),
			"catalog/el.json": {Data: []byte(`{"a":"Ω","catalog_review":"machine translation, needs review","datetime_layout":"2 Jan 2006 15:04"}`)},
		},
	}
	for name, fsys := range cases {
		if _, err := LoadFS(fsys); err == nil {
			t.Errorf("%s: load succeeded", name)
		}
	}
	// The same catalogs with nothing wrong load, so each case above fails
	// for its own reason.
	if _, err := LoadFS(fstest.MapFS{
		"catalog/en.json": catalog("en", `{"a":"at {time}"}`),
		"catalog/el.json": catalog("el", `{"a":"στις {time}"}`),
		"catalog/bg.json": {Data: []byte(`{"a":"в {time}","catalog_review":"reviewed by a native speaker","datetime_layout":"02.01.2006 г., 15:04"}`)},
	}); err != nil {
		t.Fatalf("valid catalogs: %v", err)
	}
}

func TestLayouts(t *testing.T) {
	for _, layout := range []string{
		"2006-01-02 15:04", "02.01.2006, 15:04", "02.01.2006 г., 15:04", "2.1.2006 15:04", "2006. 01. 02. 15:04",
		"02/01/2006 15:04", "_2.1.2006 15:04:05", "1/2/2006 15:04", "2006-01-02 klo 15:04",
		"02.01.2006 15.04", "2.1.2006 15.04", "2. 1. 2006 15:04", "02-01-2006, 15:04",
	} {
		if err := checkLayout(layout); err != nil {
			t.Errorf("%q: %v", layout, err)
		}
	}
	for _, layout := range []string{
		"", "2006-01-02", "15:04", "02.01.06 15:04", "2 Jan 2006 15:04", "2 January 2006 15:04", "Mon 02.01.2006 15:04",
		"02.01.2006 03:04 PM", "02.01.2006 3:04 pm", "02.01.2006 15:04 MST", "02.01.2006 15:04 -0700", "2006-01-02T15:04Z07:00",
		"02.01.2006 15:04:05.000", "002 2006 15:04", "02.02.2006 15:04", "01.01.2006 15:04", "02.01.2006 15,04", "02.01.2006 15h04", "02.01.2006 15", "02.01.2006 04:15",
	} {
		if err := checkLayout(layout); err == nil {
			t.Errorf("%q accepted", layout)
		}
	}
}

func TestDateLayout(t *testing.T) {
	for layout, want := range map[string]string{
		"2006-01-02 15:04":     "2006-01-02",
		"02.01.2006, 15:04":    "02.01.2006",
		"02.01.2006 г., 15:04": "02.01.2006 г.",
		"2006. 01. 02. 15:04":  "2006. 01. 02.",
		"2.1.2006 klo 15:04":   "2.1.2006",
		"02/01/2006 à 15:04":   "02/01/2006",
		"15:04, 02.01.2006":    "02.01.2006",
		"15:04:05 02/01/2006":  "02/01/2006",
		"02.01.2006 15:04:05":  "02.01.2006",
	} {
		if got := dateLayout(layout); got != want {
			t.Errorf("dateLayout(%q) = %q, want %q", layout, got, want)
		}
	}
}

func TestDateTimeAndNumbers(t *testing.T) {
	c, err := LoadFS(catalogs([]string{"en", "de", "pl", "fr", "sv", "el", "mt", "bg"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 7, 9, 5, 0, 0, time.FixedZone("CET", 3600))
	if got := c.DateTime("en", at); got != "2026-03-07 08:05" {
		t.Errorf("en date-time = %q", got)
	}
	if got := c.DateTime("pl", at); got != "07.03.2026 08:05" {
		t.Errorf("pl date-time = %q", got)
	}
	if got := c.Date("pl", at); got != "07.03.2026" {
		t.Errorf("pl date = %q", got)
	}
	if got := c.DateTime("xx", at); got != "2026-03-07 08:05" {
		t.Errorf("unknown language's date-time = %q", got)
	}
	const nbsp = "\u00a0"
	for lang, want := range map[string]string{
		"en": "12,345", "mt": "12,345", "de": "12.345", "el": "12.345",
		"pl": "12" + nbsp + "345", "fr": "12" + nbsp + "345", "sv": "12" + nbsp + "345", "bg": "12" + nbsp + "345",
	} {
		if got := c.Number(lang, 12345); got != want {
			t.Errorf("%s: Number(12345) = %q, want %q", lang, got, want)
		}
	}
	if got := c.Number("de", int64(1234567)); got != "1.234.567" {
		t.Errorf("de: Number(int64) = %q", got)
	}
	if got := c.Number("en", 7); got != "7" {
		t.Errorf("en: Number(7) = %q", got)
	}
	if got, want := c.Percent("de", 0.125), "12,5"+nbsp+"%"; got != want {
		t.Errorf("de: Percent = %q, want %q", got, want)
	}
	if got := c.Percent("en", 0.125); got != "12.5%" {
		t.Errorf("en: Percent = %q", got)
	}
	if got := c.Percent("en", 0); got != "0.0%" {
		t.Errorf("en: Percent(0) = %q", got)
	}
}

func TestEmbeddedLayoutsAndReviews(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 7, 9, 5, 0, 0, time.UTC)
	if got := c.DateTime("en", at); got != "2026-03-07 09:05" {
		t.Errorf("en keeps the layout 2006-01-02 15:04; got %q", got)
	}
	if got := c.DateTime("de", at); got != "07.03.2026, 09:05" {
		t.Errorf("de date-time = %q", got)
	}
	if c.Review("en") != ReviewSource {
		t.Errorf("en review = %q", c.Review("en"))
	}
	for _, l := range c.Languages() {
		if l != Default && c.Review(l) == ReviewSource {
			t.Errorf("%s claims to be the source", l)
		}
	}
}

func TestMatch(t *testing.T) {
	all, err := LoadFS(catalogs(euLanguages, nil))
	if err != nil {
		t.Fatal(err)
	}
	deEn, err := LoadFS(catalogs([]string{"de", "en"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("pl-PL,", 1000) + "pl"
	for _, tc := range []struct{ header, all, deEn string }{
		// What browsers send.
		{"pl-PL,pl;q=0.9,en-US;q=0.8", "pl", "en"},
		{"el-GR", "el", "en"},
		{"el-GR,el;q=0.9,en;q=0.8", "el", "en"},
		{"mt", "mt", "en"},
		{"mt-MT,mt;q=0.9,en-GB;q=0.8,en;q=0.7", "mt", "en"},
		{"bg-BG,bg;q=0.9", "bg", "en"},
		{"de-AT,de;q=0.9", "de", "de"},
		{"de-DE,de;q=0.9,en;q=0.8", "de", "de"},
		{"de-CH", "de", "de"},
		{"fr-BE,fr;q=0.9,nl;q=0.8", "fr", "en"},
		{"nl-BE", "nl", "en"},
		{"pt-BR,pt;q=0.9", "pt", "en"},
		{"ga-IE,ga;q=0.9,en-IE;q=0.8", "ga", "en"},
		{"en-GB,en;q=0.9", "en", "en"},
		{"fr-FR,de;q=0.5", "fr", "de"},
		// A range that is not a language is passed over, not the header.
		{"xx, fr;q=0.5", "fr", "en"},
		{"xx, fr;q=0.5, de;q=0.4", "fr", "de"},
		{"zz-ZZ-invalid-!!, sv;q=0.3", "sv", "en"},
		// Quality values decide, not the order.
		{"en;q=0.1, ga;q=0.9", "ga", "en"},
		{"de;q=0.2, pl;q=0.8, en;q=0.5", "pl", "en"},
		{"de;q=0.5, en;q=0.5", "de", "de"},
		{"pl;q=0, de", "de", "de"},
		{"pl;q=1.5, de;q=0.1", "de", "de"},
		{"pl;q=abc, de;q=0.1", "de", "de"},
		{"pl;q=NaN, el;q=0.1", "el", "en"},
		{"PL-pl;Q=0.9", "pl", "en"},
		{" pl ; q = 0.9 ", "pl", "en"},
		// A language of the header's own before a related one.
		{"nb", "da", "en"},
		{"nb, en;q=0.9", "en", "en"},
		{"nb, de;q=0.1", "de", "de"},
		{"mk-MK", "bg", "en"},
		{"eu, es;q=0.5, en;q=0.3", "es", "en"},
		{"gsw", "de", "de"},
		{"mo", "ro", "en"},
		// No language named: the default.
		{"*", "en", "en"},
		{"*;q=0.9, ja", "en", "en"},
		{"ja-JP,zh;q=0.8", "en", "en"},
		{"", "en", "en"},
		{",,,;;;===", "en", "en"},
		{"garbage;;q=x", "en", "en"},
		{"\x00\xff\xfe", "en", "en"},
		{"Ελληνικά, Български", "en", "en"},
		{huge, "en", "en"},
	} {
		if got := all.Match(tc.header); got != tc.all {
			t.Errorf("24 languages: Match(%.60q) = %s, want %s", tc.header, got, tc.all)
		}
		if got := deEn.Match(tc.header); got != tc.deEn {
			t.Errorf("de and en: Match(%.60q) = %s, want %s", tc.header, got, tc.deEn)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"pl-PL,pl;q=0.9,en-US;q=0.8", "el-GR", "mt", "xx, fr;q=0.5", "en;q=0.1, ga;q=0.9", "*", "", ";q=", "a-b-c-d-e-f-g-h-i;q=0.000001"} {
		f.Add(s)
	}
	c, err := LoadFS(catalogs(euLanguages, nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := c.Match(header)
		if !c.Has(got) {
			t.Fatalf("Match(%q) = %q, not an available language", header, got)
		}
		if len(header) > maxAcceptLanguage && got != Default {
			t.Fatalf("Match of a %d-byte header = %q, want the default", len(header), got)
		}
	})
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
		"catalog/en.json": catalog("en", `{"a":"A","b":"B"}`),
		"catalog/de.json": catalog("de", `{"a":"A","b":"B"}`),
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

// The README's table of languages has a row for each of the 24 languages,
// and for every catalog present its own name and its review status.
func TestREADMEReviewTable(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Languages\n")
	if !ok {
		t.Fatal("README has no section Languages")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string][]string{}
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 || !strings.HasPrefix(cells[1], "`") {
			continue
		}
		code := strings.Trim(cells[1], "`")
		if _, dup := rows[code]; dup {
			t.Errorf("README: two rows for %s", code)
		}
		rows[code] = cells
	}
	for _, l := range euLanguages {
		row, ok := rows[l]
		if !ok {
			t.Errorf("README: no row for %s", l)
			continue
		}
		if !c.Has(l) {
			continue // the catalog is not here yet; its row is checked once it is
		}
		if row[0] != c.T(l, "lang_name") || row[4] != c.Review(l) {
			t.Errorf("README row %q; the catalog says %q, %q", strings.Join(row, " | "), c.T(l, "lang_name"), c.Review(l))
		}
	}
	if len(rows) != len(euLanguages) {
		t.Errorf("README: %d rows, want %d", len(rows), len(euLanguages))
	}
}

// officialGDPR is how each language's own text of the regulation, and its
// supervisory authorities, name the GDPR: what every message naming it must
// say (any one of the forms; case is not compared). A native speaker who
// signs a catalog off may add a form here.
var officialGDPR = map[string][]string{
	"bg": {"ОРЗД"}, "cs": {"GDPR", "nařízení o ochraně osobních údajů"}, "da": {"databeskyttelsesforordning", "GDPR"},
	"de": {"DSGVO", "Datenschutz-Grundverordnung"}, "el": {"ΓΚΠΔ"}, "en": {"GDPR"}, "es": {"RGPD"},
	"et": {"IKÜM", "isikuandmete kaitse üldmäärus"}, "fi": {"tietosuoja-asetu"}, "fr": {"RGPD"}, "ga": {"RGCS"},
	"hr": {"Opće uredbe o zaštiti podataka", "Opća uredba o zaštiti podataka", "OUZP"}, "hu": {"GDPR", "általános adatvédelmi rendelet"},
	"it": {"RGPD", "GDPR"}, "lt": {"BDAR"}, "lv": {"VDAR"}, "mt": {"GDPR"}, "nl": {"AVG"}, "pl": {"RODO"}, "pt": {"RGPD"},
	"ro": {"RGPD"}, "sk": {"GDPR", "nariadeni"}, "sl": {"Splošn", "GDPR"}, "sv": {"dataskyddsförordning"},
}

// Every message that cites the GDPR in the source cites it in each
// catalog by that language's official name, and keeps the article's
// number: the legal wording is what a person relies on.
func TestLegalWordingInEveryLanguage(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var cited []string
	for k, v := range c.msgs[Default] {
		if strings.Contains(v, "GDPR") {
			cited = append(cited, k)
		}
	}
	if len(cited) == 0 {
		t.Fatal("no message cites the GDPR")
	}
	for _, l := range c.Languages() {
		terms, ok := officialGDPR[l]
		if !ok {
			t.Errorf("%s: no official name of the GDPR known", l)
			continue
		}
		for _, k := range cited {
			msg := strings.ToLower(c.T(l, k))
			if !slices.ContainsFunc(terms, func(term string) bool { return strings.Contains(msg, strings.ToLower(term)) }) {
				t.Errorf("%s %s does not name the GDPR as %v: %q", l, k, terms, c.T(l, k))
			}
			if strings.Contains(c.T(Default, k), "Art. 21") && !strings.Contains(msg, "21") {
				t.Errorf("%s %s drops the article: %q", l, k, c.T(l, k))
			}
		}
	}
}

// regulationTitle is the regulation's title in languages whose own
// abbreviation is the English one: the Art. 21 wording a person relies on
// names the regulation by its official title there, not only as "GDPR".
var regulationTitle = map[string]string{
	"hu": "általános adatvédelmi rendelet",
	"mt": "Regolament Ġenerali dwar il-Protezzjoni tad-Data",
}

func TestArticle21WordingNamesTheRegulationByItsTitle(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k, v := range c.msgs[Default] {
		if !strings.Contains(v, "Art. 21") {
			continue
		}
		n++
		for l, title := range regulationTitle {
			if c.Has(l) && !strings.Contains(c.T(l, k), title) {
				t.Errorf("%s %s does not name the regulation as %q: %q", l, k, title, c.T(l, k))
			}
		}
	}
	if n == 0 {
		t.Fatal("no message cites Art. 21")
	}
}

func TestDayMonthLayout(t *testing.T) {
	for date, want := range map[string]string{
		"2006-01-02":    "01-02",
		"02.01.2006":    "02.01.",
		"02.01.2006 г.": "02.01.",
		"2006. 01. 02.": "01. 02.",
		"02. 01. 2006.": "02. 01.",
		"2. 1. 2006":    "2. 1.",
		"02/01/2006":    "02/01",
		"2/1/2006":      "2/1",
		"02-01-2006":    "02-01",
	} {
		if got := dayMonthLayout(date); got != want {
			t.Errorf("dayMonthLayout(%q) = %q, want %q", date, got, want)
		}
	}
}

// Every catalog's day-and-month label shows the day and the month, in its
// own order, and not the year.
func TestDayMonthInEveryLanguage(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 11, 23, 19, 48, 0, 0, time.UTC)
	for _, l := range c.Languages() {
		got := c.DayMonth(l, at)
		if !strings.Contains(got, "23") || !strings.Contains(got, "11") || strings.Contains(got, "2027") || strings.Contains(got, "19") {
			t.Errorf("%s: day and month of %s = %q", l, at.Format(time.DateOnly), got)
		}
		if d := c.Date(l, at); strings.Index(d, "23") < strings.Index(d, "11") != (strings.Index(got, "23") < strings.Index(got, "11")) {
			t.Errorf("%s: %q orders day and month unlike the date %q", l, got, d)
		}
	}
	if got := c.DayMonth("de", at); got != "23.11." {
		t.Errorf("de: %q", got)
	}
}
