package record

import (
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/eligibility"
)

var typical = []byte(`{"id":"fb:48213377","product":"facebook","author_id":"u729104","kind":"post","visibility":"public","created_at":"2025-04-02T10:17:33Z","text":"` +
	strings.Repeat("Heute war ein schöner Tag am See, wir haben gegrillt. ", 4) + `","mentions":["u7716"],"tags":[],"lang":"de","likes":42}`)

func BenchmarkParseTypical(b *testing.B) {
	var p Parser
	var it eligibility.Item
	b.SetBytes(int64(len(typical)))
	b.ReportAllocs()
	for b.Loop() {
		if p.Parse(typical, &it) != "" {
			b.Fatal("malformed")
		}
	}
}
