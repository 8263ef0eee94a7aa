package policy

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsDesignRules(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != ModeObjection || !p.AllowsVisibility("public") || p.AllowsVisibility("friends") ||
		p.AllowsKind("message") || !p.AllowsKind("ai_chat") || p.MinimumAge != 18 || p.ThirdParty != Exclude ||
		p.UnknownAuthor != Exclude || p.UnknownBirthdate != Exclude {
		t.Fatalf("default policy = %+v", p)
	}
	for _, c := range []struct {
		product, kind string
		want          bool
	}{
		{"facebook", "post", true}, {"whatsapp", "ai_chat", true}, {"whatsapp", "post", false},
		{"messenger", "photo", false}, {"messenger", "ai_chat", true}, {"myspace", "post", false},
	} {
		if got := p.AllowsProduct(c.product, c.kind); got != c.want {
			t.Errorf("AllowsProduct(%s, %s) = %v", c.product, c.kind, got)
		}
	}
	if len(p.SHA256) != 64 || p.Source != "built-in default" {
		t.Fatalf("hash %q source %q", p.SHA256, p.Source)
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	p, err := Parse([]byte("visibilities: [public, friends]\nthird_party: keep\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !p.AllowsVisibility("friends") || p.ThirdParty != Keep || p.MinimumAge != 18 || p.Mode != ModeObjection {
		t.Fatalf("policy = %+v", p)
	}
	empty, err := Parse(nil, "empty.yaml")
	if err != nil || empty.Mode != ModeObjection {
		t.Fatalf("empty file: %+v, %v", empty, err)
	}
}

func TestSignalsDefaultOnAndTurnOffOneByOne(t *testing.T) {
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if d.Signals != (Signals{AIPref: true, TDMRep: true, C2PA: true}) {
		t.Fatalf("default signals = %+v, want all honoured", d.Signals)
	}
	p, err := Parse([]byte("signals: {c2pa: false}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Signals != (Signals{AIPref: true, TDMRep: true}) {
		t.Fatalf("signals = %+v, want only c2pa off", p.Signals)
	}
	p, err = Parse([]byte("signals: {aipref: false, tdmrep: false, c2pa: false}\n"), "t.yaml")
	if err != nil || p.Signals != (Signals{}) {
		t.Fatalf("signals = %+v, %v; want none honoured", p.Signals, err)
	}
}

func TestInvalidPoliciesAreRefused(t *testing.T) {
	for name, y := range map[string]string{
		"unknown key":        "visibilites: [public]",
		"bad mode":           "mode: maybe",
		"message kind":       "kinds: [post, message]",
		"unknown kind":       "kinds: [post, tweet]",
		"unknown product":    "products: [myspace]",
		"unknown visibility": "visibilities: [everyone]",
		"minor age":          "minimum_age: 16",
		"third party":        "third_party: sometimes",
		"version":            "version: 2",
		"duplicate item":     "exclude_items: [a, a]",
		"bad rule name":      "rules: [{name: Bad-Name, expr: 'true'}]",
		"duplicate rule":     "rules: [{name: a, expr: 'true'}, {name: a, expr: 'false'}]",
		"not yaml":           "rules: [",
		"product kinds":      "product_kinds: {whatsapp: [tweet]}",
		"unknown signal":     "signals: {robots: false}",
		"signal not boolean": "signals: {aipref: sometimes}",
		"signals not a map":  "signals: [aipref]",
	} {
		if _, err := Parse([]byte(y), name); err == nil {
			t.Errorf("%s: accepted %q", name, y)
		}
	}
}

func TestRulesAreTypeCheckedAtLoad(t *testing.T) {
	_, err := Parse([]byte("rules:\n  - {name: short, expr: 'size(text) < '}\n"), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), `rule "short"`) || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("syntax error not reported with rule and position: %v", err)
	}
	_, err = Parse([]byte("rules:\n  - {name: typo, expr: 'size(txt) < 3'}\n"), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "undeclared reference") {
		t.Fatalf("unknown variable not caught: %v", err)
	}
	_, err = Parse([]byte("rules:\n  - {name: notbool, expr: 'size(text)'}\n"), "t.yaml")
	if err == nil || !strings.Contains(err.Error(), "must give bool") {
		t.Fatalf("non-bool rule not caught: %v", err)
	}
}

func TestRuleMatching(t *testing.T) {
	p, err := Parse([]byte(`rules:
  - {name: short, expr: 'size(text) < 3'}
  - {name: before_2020, expr: 'created_at < timestamp("2020-01-01T00:00:00Z")'}
  - {name: lang_fr, expr: 'record.lang == "fr"'}
  - {name: many_tags, expr: 'size(tags) > 2'}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := func() *Vars {
		return &Vars{Text: "hello", CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			Record: func() (map[string]any, error) { return map[string]any{"lang": "de"}, nil }}
	}
	cases := []struct {
		mod  func(*Vars)
		want string
		err  bool
	}{
		{func(v *Vars) {}, "", false},
		{func(v *Vars) { v.Text = "hi" }, "short", false},
		{func(v *Vars) { v.CreatedAt = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC) }, "before_2020", false},
		{func(v *Vars) { v.Record = func() (map[string]any, error) { return map[string]any{"lang": "fr"}, nil } }, "lang_fr", false},
		{func(v *Vars) { v.Tags = []string{"a", "b", "c"} }, "many_tags", false},
		// A field the record lacks: the rule errors, the item stays out.
		{func(v *Vars) { v.Record = func() (map[string]any, error) { return map[string]any{}, nil } }, "lang_fr", true},
	}
	for i, c := range cases {
		v := base()
		c.mod(v)
		name, matched, errored := p.Compiled.Match(v)
		if name != c.want || matched != (c.want != "") || errored != c.err {
			t.Errorf("case %d: Match = %q, %v, %v; want %q, err %v", i, name, matched, errored, c.want, c.err)
		}
	}
}
