package record

import (
	"bufio"
	"os"
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

// BenchmarkParseBenchData parses the first 200,000 records of the
// benchmark's data set (bash bench/filter.sh makes it), malformed ones
// included; UTF-8 is left to the caller, as the filter checks whole chunks.
func BenchmarkParseBenchData(b *testing.B) {
	f, err := os.Open("../../bench/data/content.jsonl")
	if err != nil {
		b.Skip("no bench/data/content.jsonl: run bash bench/filter.sh first")
	}
	defer f.Close()
	var lines [][]byte
	var size int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for len(lines) < 200000 && sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
		size += int64(len(sc.Bytes()) + 1)
	}
	p := Parser{KnownUTF8: true}
	var it eligibility.Item
	b.SetBytes(size)
	for b.Loop() {
		for _, l := range lines {
			p.Parse(l, &it)
		}
	}
}
