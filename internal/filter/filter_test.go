package filter_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/policy"
)

// simpleEngine: accounts a0..a9 on facebook, a3 objected, a4 is a minor.
func simpleEngine(t *testing.T) *eligibility.Engine {
	t.Helper()
	w := &world{}
	for i := range 10 {
		b := "1980-01-01"
		if i == 4 {
			b = "2015-01-01"
		}
		w.accounts = append(w.accounts, eligibility.AccountRow{Product: "facebook", AccountID: fmt.Sprintf("a%d", i), Birthdate: b, EmailHash: fmt.Sprintf("e%d", i)})
	}
	w.objections = []eligibility.Grant{{EmailHash: "e3", Interval: eligibility.Interval{From: asOf.Add(-time.Hour).UnixMicro()}}}
	snap, err := eligibility.Build(w, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	return eligibility.NewEngine(pol, snap, asOf)
}

func post(i int, author string) string {
	return fmt.Sprintf(`{"id":"p%d","product":"facebook","author_id":"%s","kind":"post","visibility":"public","created_at":"2026-01-01T00:00:00Z","text":"%s"}`,
		i, author, strings.Repeat("x", i%300))
}

// makeInput returns the input text and the text the filter must output.
func makeInput(n int) (in, want string) {
	var b, k strings.Builder
	for i := range n {
		line := post(i, fmt.Sprintf("a%d", i%10)) + "\n"
		b.WriteString(line)
		if i%10 != 3 && i%10 != 4 {
			k.WriteString(line)
		}
	}
	return b.String(), k.String()
}

func run(t *testing.T, job filter.Job) (*filter.Result, error) {
	t.Helper()
	if job.Engine == nil {
		job.Engine = simpleEngine(t)
	}
	return filter.Run(context.Background(), job)
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestOrderAndBytesAcrossManyChunks(t *testing.T) {
	dir := t.TempDir()
	in, want := makeInput(40000) // several megabytes: many chunks, many workers
	os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in), 0o644)
	res, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "in.jsonl")}, Output: filepath.Join(dir, "out.jsonl"),
		Lineage: filepath.Join(dir, "lin.jsonl"), Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if string(got) != want {
		t.Fatalf("output differs from the expected %d bytes (got %d)", len(want), len(got))
	}
	if res.Output.SHA256 != sha(got) || res.Output.Bytes != int64(len(got)) || res.Inputs[0].SHA256 != sha([]byte(in)) {
		t.Fatal("manifest hashes do not match the files")
	}
	if res.Counts.Read != 40000 || res.Counts.Eligible != 32000 || res.Counts.Excluded[eligibility.Objection] != 4000 || res.Counts.Excluded[eligibility.Minor] != 4000 {
		t.Fatalf("counts %+v", res.Counts)
	}
	lin, _ := os.ReadFile(filepath.Join(dir, "lin.jsonl"))
	if !strings.Contains(string(lin), `{"product":"facebook","account_id":"a0","items":4000}`) || strings.Contains(string(lin), `"a3"`) || res.Accounts != 8 {
		t.Fatalf("lineage:\n%s", lin)
	}
	if st, _ := os.Stat(filepath.Join(dir, "out.jsonl")); st.Mode().Perm() != 0o644 {
		t.Fatalf("output mode %v", st.Mode().Perm())
	}
}

func TestCompressedFormats(t *testing.T) {
	in, want := makeInput(5000)
	for _, inExt := range []string{".jsonl.gz", ".jsonl.zst", ".jsonl"} {
		for _, outExt := range []string{".jsonl.gz", ".jsonl.zst", ".jsonl"} {
			dir := t.TempDir()
			inPath, outPath := filepath.Join(dir, "in"+inExt), filepath.Join(dir, "out"+outExt)
			raw := compress(t, inExt, []byte(in))
			os.WriteFile(inPath, raw, 0o644)
			res, err := run(t, filter.Job{Inputs: []string{inPath}, Output: outPath})
			if err != nil {
				t.Fatalf("%s → %s: %v", inExt, outExt, err)
			}
			res.Commit()
			got, _ := os.ReadFile(outPath)
			if string(decompress(t, outExt, got)) != want || res.Inputs[0].SHA256 != sha(raw) || res.Output.SHA256 != sha(got) {
				t.Fatalf("%s → %s: output or hashes wrong", inExt, outExt)
			}
		}
	}
}

func compress(t *testing.T, ext string, b []byte) []byte {
	var buf bytes.Buffer
	switch ext {
	case ".jsonl.gz":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case ".jsonl.zst":
		w, _ := zstd.NewWriter(&buf)
		w.Write(b)
		w.Close()
	default:
		return b
	}
	return buf.Bytes()
}

func decompress(t *testing.T, ext string, b []byte) []byte {
	switch ext {
	case ".jsonl.gz":
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		out.ReadFrom(r)
		return out.Bytes()
	case ".jsonl.zst":
		r, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		out.ReadFrom(r)
		return out.Bytes()
	}
	return b
}

func TestLineEndsBlankLinesAndSeveralInputs(t *testing.T) {
	dir := t.TempDir()
	a := post(1, "a1") + "\r\n\n   \n" + post(2, "a3") + "\n" + post(3, "a2") // CRLF, blank lines, no final newline
	b := post(4, "a5") + "\n"
	os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(a), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(b), 0o644)
	res, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}, Output: filepath.Join(dir, "out.jsonl"),
		Rejects: filepath.Join(dir, "rej.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	res.Commit()
	got, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	want := post(1, "a1") + "\r\n" + post(3, "a2") + "\n" + post(4, "a5") + "\n"
	if string(got) != want {
		t.Fatalf("output:\n%q\nwant\n%q", got, want)
	}
	if res.Counts.Read != 4 || res.Counts.Blank != 2 || len(res.Inputs) != 2 {
		t.Fatalf("counts %+v, inputs %d", res.Counts, len(res.Inputs))
	}
}

func TestRejectsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	in := post(1, "a1") + "\nnot json\n" + post(3, "a1") + "\n" + `{"id":"x","product":"facebook","author_id":"a1","created_at":"soon"}` + "\n"
	os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in), 0o644)
	res, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "in.jsonl")}, Output: filepath.Join(dir, "out.jsonl"), Rejects: filepath.Join(dir, "rej.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	res.Commit()
	rej, _ := os.ReadFile(filepath.Join(dir, "rej.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(rej)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"line":2,"reason":"not a JSON object"`) || !strings.Contains(lines[1], `"line":4,"reason":"created_at is not an RFC 3339 time"`) {
		t.Fatalf("rejects:\n%s", rej)
	}
}

func TestVeryLongRecords(t *testing.T) {
	dir := t.TempDir()
	long := post(1, "a1")
	long = long[:len(long)-2] + strings.Repeat("y", 3<<20) + `"}` // longer than a chunk, shorter than the limit
	huge := `{"id":"h","text":"` + strings.Repeat("z", 5<<20) + `"}`
	in := post(0, "a1") + "\n" + long + "\n" + huge + "\n" + post(2, "a2") + "\n"
	os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in), 0o644)
	res, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "in.jsonl")}, Output: filepath.Join(dir, "out.jsonl"),
		Rejects: filepath.Join(dir, "rej.jsonl"), MaxRecord: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	res.Commit()
	got, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if want := post(0, "a1") + "\n" + long + "\n" + post(2, "a2") + "\n"; string(got) != want {
		t.Fatalf("output has %d bytes, want %d", len(got), len(want))
	}
	if res.Counts.Excluded[eligibility.Malformed] != 1 || res.Counts.Read != 4 {
		t.Fatalf("counts %+v", res.Counts)
	}
	rej, _ := os.ReadFile(filepath.Join(dir, "rej.jsonl"))
	if !strings.Contains(string(rej), `"line":3,"reason":"record longer than 4194304 bytes"`) {
		t.Fatalf("rejects: %s", rej)
	}
}

// Fail closed: any read error leaves no output at all.
func TestReadErrorsLeaveNothing(t *testing.T) {
	in, _ := makeInput(20000)
	gz := compress(t, ".jsonl.gz", []byte(in))
	cases := map[string][]byte{
		"truncated gzip": gz[:len(gz)/2],
		"corrupt gzip":   append(append([]byte{}, gz[:100]...), bytes.Repeat([]byte{0xAA}, 2000)...),
		"not gzip":       []byte(in),
	}
	for name, data := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "in.jsonl.gz"), data, 0o644)
		_, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "in.jsonl.gz")}, Output: filepath.Join(dir, "out.jsonl.gz"),
			Lineage: filepath.Join(dir, "lin.jsonl"), Rejects: filepath.Join(dir, "rej.jsonl")})
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s: left %v behind", name, names)
		}
	}
	dir := t.TempDir()
	if _, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "missing.jsonl")}, Output: filepath.Join(dir, "out.jsonl")}); err == nil {
		t.Error("a missing input did not fail")
	}
	if _, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "a.csv")}, Output: filepath.Join(dir, "out.jsonl")}); err == nil {
		t.Error("an unknown format did not fail")
	}
	if _, err := run(t, filter.Job{Inputs: []string{filepath.Join(dir, "a.jsonl")}, Output: filepath.Join(dir, "nodir", "out.jsonl")}); err == nil {
		t.Error("an unwritable output did not fail")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	in, _ := makeInput(100000)
	os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := filter.Run(ctx, filter.Job{Inputs: []string{filepath.Join(dir, "in.jsonl")}, Output: filepath.Join(dir, "out.jsonl"), Engine: simpleEngine(t)})
	if err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left %d files", len(entries))
	}
}

// A chunk is checked for UTF-8 at once; a chunk that fails is checked line
// by line, so exactly the lines that are not UTF-8 are malformed and the
// valid ones around them, in the same chunk, are decided as usual.
func TestInvalidUTF8AmongValidLines(t *testing.T) {
	dir := t.TempDir()
	var in, want strings.Builder
	bad := 0
	for i := range 3000 {
		line := post(i, "a1")
		switch i % 100 {
		case 7:
			line = strings.Replace(line, `"text":"`, "\"text\":\"\xff", 1) // a byte no UTF-8 has
			bad++
		case 8:
			line = strings.Replace(line, `"text":"`, "\"text\":\"\xed\xa0\x80", 1) // a surrogate
			bad++
		case 9:
			line = strings.Replace(line, `"text":"`, `"text":"Grüße 😂 `, 1) // valid, not ASCII
			want.WriteString(line + "\n")
		default:
			want.WriteString(line + "\n")
		}
		in.WriteString(line + "\n")
	}
	path := filepath.Join(dir, "in.jsonl")
	os.WriteFile(path, []byte(in.String()), 0o644)
	res, err := run(t, filter.Job{Inputs: []string{path}, Output: filepath.Join(dir, "out.jsonl"), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	if res.Counts.Excluded[eligibility.Malformed] != int64(bad) || res.Counts.Eligible != 3000-int64(bad) {
		t.Fatalf("counts %+v, want %d malformed", res.Counts, bad)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.jsonl")); string(got) != want.String() {
		t.Fatalf("output differs from the valid lines (%d bytes, want %d)", len(got), want.Len())
	}
}
