package filter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/record"
)

// pqSource is an account directory with objections, held in memory.
type pqSource struct {
	accounts   []eligibility.AccountRow
	objections []eligibility.Grant
}

func (s *pqSource) Head() ledger.Head { return ledger.Head{Seq: 1, Hash: ledger.Genesis} }

func (s *pqSource) Accounts(fn func(eligibility.AccountRow) error) error {
	sorted := slices.Clone(s.accounts)
	slices.SortFunc(sorted, func(a, b eligibility.AccountRow) int {
		if c := strings.Compare(a.Product, b.Product); c != 0 {
			return c
		}
		return strings.Compare(a.AccountID, b.AccountID)
	})
	for _, a := range sorted {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (s *pqSource) Objections(fn func(eligibility.Grant) error) error {
	for _, g := range s.objections {
		if err := fn(g); err != nil {
			return err
		}
	}
	return nil
}

func (s *pqSource) Consents(func(eligibility.Grant) error) error { return nil }
func (s *pqSource) ItemExclusions(func(string) error) error      { return nil }

const pqAsOf = "2026-06-01T00:00:00Z"

func pqMustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pqEngine: ben and anna are adults, obj objected, teen is a minor, leap
// turns 18 on 1 March 2026.
func pqEngine(t testing.TB, pol string) *eligibility.Engine {
	t.Helper()
	src := &pqSource{
		accounts: []eligibility.AccountRow{
			{Product: "facebook", AccountID: "ben", EmailHash: "h-ben", Birthdate: "1985-11-30"},
			{Product: "facebook", AccountID: "anna", EmailHash: "h-anna", Birthdate: "1990-05-01"},
			{Product: "facebook", AccountID: "obj", EmailHash: "h-obj", Birthdate: "1980-01-01"},
			{Product: "facebook", AccountID: "teen", Birthdate: "2010-03-04"},
			{Product: "facebook", AccountID: "leap", Birthdate: "2008-02-29"},
		},
		objections: []eligibility.Grant{
			{EmailHash: "h-obj", Interval: eligibility.Interval{From: pqMustTime(t, "2026-01-01T00:00:00Z").UnixMicro()}},
		},
	}
	p, err := policy.Parse([]byte(pol), "test")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := eligibility.Build(src, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return eligibility.NewEngine(p, snap, pqMustTime(t, pqAsOf))
}

// pqRow is the JSON contract as Parquet, with two pass-through columns.
// Optional strings are null when empty.
type pqRow struct {
	ID         string   `parquet:"id,optional"`
	Product    string   `parquet:"product,optional,dict"`
	AuthorID   string   `parquet:"author_id,optional"`
	Kind       string   `parquet:"kind,optional,dict"`
	Visibility string   `parquet:"visibility,optional,dict"`
	CreatedAt  string   `parquet:"created_at,optional"`
	Text       string   `parquet:"text,optional"`
	Mentions   []string `parquet:"mentions,optional,list"`
	Tags       []string `parquet:"tags,optional,list"`
	Lang       string   `parquet:"lang,optional"`
	Score      *int64   `parquet:"score,optional"`
}

func pqPost(id, author, created string) pqRow {
	return pqRow{ID: id, Product: "facebook", AuthorID: author, Kind: "post", Visibility: "public",
		CreatedAt: created, Text: "text of " + id, Lang: "de"}
}

func pqWith[T any](r T, f func(*T)) T { f(&r); return r }

func pqWrite[T any](t testing.TB, path string, rows []T, opts ...parquet.WriterOption) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func pqRun(t testing.TB, job Job) *Result {
	t.Helper()
	res, err := Run(context.Background(), job)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	return res
}

func pqFileSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func pqInt64(v int64) *int64 { return &v }

// pqTimeFile writes a file of one row per id, built by row from the id and
// the created_at value at the same index, and returns its path.
func pqTimeFile[V, R any](t *testing.T, ids []string, at []V, row func(id string, at V) R) string {
	t.Helper()
	rows := make([]R, len(ids))
	for i, id := range ids {
		rows[i] = row(id, at[i])
	}
	path := filepath.Join(t.TempDir(), "in.parquet")
	pqWrite(t, path, rows)
	return path
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in1, in2 := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	rows1 := []pqRow{
		pqWith(pqPost("fb:1", "ben", "2026-01-01T10:00:00Z"), func(r *pqRow) { r.Score = pqInt64(7) }),
		pqPost("fb:2", "obj", "2026-01-02T10:00:00Z"),                                                      // objection
		pqPost("fb:3", "teen", "2026-01-03T10:00:00Z"),                                                     // minor
		pqWith(pqPost("fb:4", "ben", "2026-01-04T10:00:00Z"), func(r *pqRow) { r.Visibility = "friends" }), // not public
		pqWith(pqPost("fb:5", "ben", "2026-01-05T10:00:00Z"), func(r *pqRow) { r.Kind = "message" }),       // kind excluded
		pqWith(pqPost("", "ben", "2026-01-06T10:00:00Z"), func(r *pqRow) { r.Text = "no id" }),             // malformed: null id
		pqPost("fb:7", "ben", "yesterday"),                                                                 // malformed: bad time
		pqWith(pqPost("fb:8", "ben", "2026-01-08T10:00:00+02:00"), func(r *pqRow) { r.Mentions = []string{"anna"}; r.Lang = "" }),
		pqWith(pqPost("fb:9", "ben", "2026-01-09T10:00:00Z"), func(r *pqRow) { r.Mentions = []string{"anna", "obj"} }), // third party
	}
	rows2 := []pqRow{
		pqPost("fb:10", "nobody", "2026-01-10T10:00:00Z"), // unknown author
		pqWith(pqPost("fb:11", "anna", "2026-01-11T10:00:00.123456789Z"), func(r *pqRow) { r.Tags = []string{"ben"}; r.Score = pqInt64(-1) }),
		pqWith(pqPost("fb:12", "anna", "2026-01-12T10:00:00Z"), func(r *pqRow) { r.Visibility = "" }), // null visibility: not public
		pqWith(pqPost("fb:13", "anna", ""), func(r *pqRow) {}),                                        // malformed: null created_at
	}
	pqWrite(t, in1, rows1, parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(4))
	pqWrite(t, in2, rows2, parquet.Compression(&parquet.Snappy))
	out := filepath.Join(dir, "out.parquet")
	job := Job{Inputs: []string{in1, in2}, Output: out, Lineage: filepath.Join(dir, "out.lineage.jsonl"),
		Rejects: filepath.Join(dir, "rejects.jsonl"), Engine: pqEngine(t, "")}
	res := pqRun(t, job)

	got, err := parquet.ReadFile[pqRow](out)
	if err != nil {
		t.Fatal(err)
	}
	want := []pqRow{rows1[0], rows1[7], rows2[1]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("output rows:\n got %+v\nwant %+v", got, want)
	}

	wantCounts := map[eligibility.Reason]int64{
		eligibility.Objection: 1, eligibility.Minor: 1, eligibility.NotPublic: 2, eligibility.KindExcluded: 1,
		eligibility.Malformed: 3, eligibility.ThirdParty: 1, eligibility.UnknownAuthor: 1,
	}
	if res.Counts.Read != 13 || res.Counts.Eligible != 3 {
		t.Errorf("read %d, eligible %d; want 13, 3", res.Counts.Read, res.Counts.Eligible)
	}
	for r := eligibility.Malformed; int(r) < eligibility.NumReasons; r++ {
		if res.Counts.Excluded[r] != wantCounts[r] {
			t.Errorf("%s: %d, want %d", r, res.Counts.Excluded[r], wantCounts[r])
		}
	}

	// Inputs in order, each with its own checksum; the output's checksum is
	// that of the file on disk.
	if len(res.Inputs) != 2 || res.Inputs[0].Path != in1 || res.Inputs[1].Path != in2 {
		t.Fatalf("inputs: %+v", res.Inputs)
	}
	for _, in := range res.Inputs {
		st, _ := os.Stat(in.Path)
		if in.Format != Parquet || in.Bytes != st.Size() || in.SHA256 != pqFileSHA(t, in.Path) {
			t.Errorf("input info %+v does not describe the file (%d bytes, %s)", in, st.Size(), pqFileSHA(t, in.Path))
		}
	}
	if res.Output.SHA256 != pqFileSHA(t, out) || res.Output.Format != Parquet {
		t.Errorf("output info %+v, file sha %s", res.Output, pqFileSHA(t, out))
	}

	// Lineage: ben kept twice, anna once.
	lin, err := os.ReadFile(job.Lineage)
	if err != nil {
		t.Fatal(err)
	}
	wantLin := `{"product":"facebook","account_id":"anna","items":1}` + "\n" + `{"product":"facebook","account_id":"ben","items":2}` + "\n"
	if string(lin) != wantLin || res.Accounts != 2 {
		t.Errorf("lineage (%d accounts):\n%s\nwant\n%s", res.Accounts, lin, wantLin)
	}

	// Rejects: the malformed rows, by file and row number.
	type reject struct {
		File, Reason, Record string
		Line                 int64
	}
	var rejects []reject
	rb, err := os.ReadFile(job.Rejects)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(rb)), "\n") {
		var r reject
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("rejects line %q: %v", line, err)
		}
		rejects = append(rejects, r)
	}
	wantRejects := []reject{
		{in1, record.WhyMissingField, `{"product":"facebook","author_id":"ben","kind":"post","visibility":"public","created_at":"2026-01-06T10:00:00Z"}`, 6},
		{in1, record.WhyBadTime, `{"id":"fb:7","product":"facebook","author_id":"ben","kind":"post","visibility":"public","created_at":"yesterday"}`, 7},
		{in2, record.WhyMissingField, `{"id":"fb:13","product":"facebook","author_id":"anna","kind":"post","visibility":"public"}`, 4},
	}
	if !reflect.DeepEqual(rejects, wantRejects) {
		t.Errorf("rejects:\n got %+v\nwant %+v", rejects, wantRejects)
	}

	// Same schema, same codec, key-value metadata carried over.
	inFile := pqOpen(t, in1)
	outFile := pqOpen(t, out)
	if !parquet.EqualNodes(inFile.Schema(), outFile.Schema()) || inFile.Schema().String() != outFile.Schema().String() {
		t.Errorf("schema changed:\n%s\nto\n%s", inFile.Schema(), outFile.Schema())
	}
	for _, rg := range outFile.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec != format.Snappy {
				t.Errorf("column %v written pqWith %v, the input used snappy", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
		}
	}
}

func pqOpen(t testing.TB, path string) *parquet.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

type pqMillisRow struct {
	ID         string `parquet:"id"`
	Product    string `parquet:"product"`
	AuthorID   string `parquet:"author_id"`
	Kind       string `parquet:"kind"`
	Visibility string `parquet:"visibility"`
	CreatedAt  *int64 `parquet:"created_at,timestamp(millisecond)"`
}

type pqMicrosRow struct {
	ID         string `parquet:"id"`
	Product    string `parquet:"product"`
	AuthorID   string `parquet:"author_id"`
	Kind       string `parquet:"kind"`
	Visibility string `parquet:"visibility"`
	CreatedAt  *int64 `parquet:"created_at,timestamp(microsecond)"`
}

type pqNanosRow struct {
	ID         string `parquet:"id"`
	Product    string `parquet:"product"`
	AuthorID   string `parquet:"author_id"`
	Kind       string `parquet:"kind"`
	Visibility string `parquet:"visibility"`
	CreatedAt  *int64 `parquet:"created_at,timestamp(nanosecond)"`
}

type pqInt96Row struct {
	ID         string           `parquet:"id"`
	Product    string           `parquet:"product"`
	AuthorID   string           `parquet:"author_id"`
	Kind       string           `parquet:"kind"`
	Visibility string           `parquet:"visibility"`
	CreatedAt  deprecated.Int96 `parquet:"created_at"`
}

// Around leap's 18th birthday (1 March 2026, 00:00 UTC), in each unit: the
// moment before stays out, truncated toward the past; the moment itself is
// kept. A null time is malformed.
func TestParquetTimestamps(t *testing.T) {
	birthday := pqMustTime(t, "2026-03-01T00:00:00Z")
	ids := []string{"before", "at", "after", "null"}
	wantKept := []string{"at", "after"}
	check := func(t *testing.T, path string) {
		dir := filepath.Dir(path)
		out := filepath.Join(dir, "out.parquet")
		res := pqRun(t, Job{Inputs: []string{path}, Output: out, Engine: pqEngine(t, "")})
		kept, err := parquet.ReadFile[struct {
			ID string `parquet:"id"`
		}](out)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range kept {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, wantKept) {
			t.Errorf("kept %v, want %v", got, wantKept)
		}
		if res.Counts.Excluded[eligibility.Minor] != 1 || res.Counts.Excluded[eligibility.Malformed] != 1 {
			t.Errorf("counts %+v", res.Counts)
		}
	}
	head := func(id string) (string, string, string, string, string) {
		return id, "facebook", "leap", "post", "public"
	}
	t.Run("millis", func(t *testing.T) {
		ms := []*int64{pqInt64(birthday.UnixMilli() - 1), pqInt64(birthday.UnixMilli()), pqInt64(birthday.UnixMilli() + 1), nil}
		check(t, pqTimeFile(t, ids, ms, func(id string, at *int64) pqMillisRow {
			r := pqMillisRow{CreatedAt: at}
			r.ID, r.Product, r.AuthorID, r.Kind, r.Visibility = head(id)
			return r
		}))
	})
	t.Run("micros", func(t *testing.T) {
		us := []*int64{pqInt64(birthday.UnixMicro() - 1), pqInt64(birthday.UnixMicro()), pqInt64(birthday.UnixMicro() + 1), nil}
		check(t, pqTimeFile(t, ids, us, func(id string, at *int64) pqMicrosRow {
			r := pqMicrosRow{CreatedAt: at}
			r.ID, r.Product, r.AuthorID, r.Kind, r.Visibility = head(id)
			return r
		}))
	})
	t.Run("nanos", func(t *testing.T) {
		// One nanosecond before the birthday truncates to the microsecond
		// before it, not to the birthday.
		ns := []*int64{pqInt64(birthday.UnixNano() - 1), pqInt64(birthday.UnixNano()), pqInt64(birthday.UnixNano() + 999), nil}
		check(t, pqTimeFile(t, ids, ns, func(id string, at *int64) pqNanosRow {
			r := pqNanosRow{CreatedAt: at}
			r.ID, r.Product, r.AuthorID, r.Kind, r.Visibility = head(id)
			return r
		}))
	})
	t.Run("int96", func(t *testing.T) {
		// INT96 has no null here: the last row is from 1970, before leap
		// was born, so it counts as a minor's, and "before" is malformed by
		// a nanosecond count beyond one day.
		day := func(t time.Time, nanos int64) deprecated.Int96 {
			days := t.Unix()/86400 + 2440588
			return deprecated.Int96{uint32(uint64(nanos)), uint32(uint64(nanos) >> 32), uint32(days)}
		}
		vals := []deprecated.Int96{day(birthday, 86400e9), day(birthday, 0), day(birthday, 1000), day(time.Unix(0, 0), 0)}
		check(t, pqTimeFile(t, ids, vals, func(id string, at deprecated.Int96) pqInt96Row {
			r := pqInt96Row{CreatedAt: at}
			r.ID, r.Product, r.AuthorID, r.Kind, r.Visibility = head(id)
			return r
		}))
	})
}

func TestToMicros(t *testing.T) {
	tests := []struct {
		v    int64
		kind timeKind
		want int64
		st   uint8
	}{
		{1, timeMillis, 1000, tsOK},
		{-1, timeMillis, -1000, tsOK},
		{1 << 62, timeMillis, 0, tsRange},
		{5, timeMicros, 5, tsOK},
		{1999, timeNanos, 1, tsOK},
		{-1, timeNanos, -1, tsOK},
		{-1000, timeNanos, -1, tsOK},
		{-1001, timeNanos, -2, tsOK},
	}
	for _, tt := range tests {
		if got, st := toMicros(tt.v, tt.kind); got != tt.want || st != tt.st {
			t.Errorf("toMicros(%d, %d) = %d, %d; want %d, %d", tt.v, tt.kind, got, st, tt.want, tt.st)
		}
	}
}

// Columns of the wrong kind are read the way JSON Lines reads values of the
// wrong type: a missing or non-string id makes every row malformed; a kind
// that is not a string is no allowed kind; mentions that are not strings
// make only the rows that have some malformed.
func TestParquetColumnShapes(t *testing.T) {
	type noTime struct {
		ID         string `parquet:"id"`
		Product    string `parquet:"product"`
		AuthorID   string `parquet:"author_id"`
		Kind       string `parquet:"kind"`
		Visibility string `parquet:"visibility"`
	}
	type numericID struct {
		ID         int64  `parquet:"id"`
		Product    string `parquet:"product"`
		AuthorID   string `parquet:"author_id"`
		Kind       string `parquet:"kind"`
		Visibility string `parquet:"visibility"`
		CreatedAt  string `parquet:"created_at"`
	}
	type numericKind struct {
		ID         string `parquet:"id"`
		Product    string `parquet:"product"`
		AuthorID   string `parquet:"author_id"`
		Kind       int32  `parquet:"kind"`
		Visibility string `parquet:"visibility"`
		CreatedAt  string `parquet:"created_at"`
	}
	type intMentions struct {
		ID         string  `parquet:"id"`
		Product    string  `parquet:"product"`
		AuthorID   string  `parquet:"author_id"`
		Kind       string  `parquet:"kind"`
		Visibility string  `parquet:"visibility"`
		CreatedAt  string  `parquet:"created_at"`
		Mentions   []int64 `parquet:"mentions,optional,list"`
	}
	type stringMentions struct {
		ID         string `parquet:"id"`
		Product    string `parquet:"product"`
		AuthorID   string `parquet:"author_id"`
		Kind       string `parquet:"kind"`
		Visibility string `parquet:"visibility"`
		CreatedAt  string `parquet:"created_at"`
		Mentions   string `parquet:"mentions,optional"`
	}
	type nullableMentions struct {
		ID         string    `parquet:"id"`
		Product    string    `parquet:"product"`
		AuthorID   string    `parquet:"author_id"`
		Kind       string    `parquet:"kind"`
		Visibility string    `parquet:"visibility"`
		CreatedAt  string    `parquet:"created_at"`
		Mentions   []*string `parquet:"mentions,optional,list"`
	}
	anna := "anna"
	const at = "2026-01-01T00:00:00Z"
	tests := []struct {
		name  string
		write func(path string)
		read  int64
		want  map[eligibility.Reason]int64
	}{
		{"no created_at column", func(p string) {
			pqWrite(t, p, []noTime{{"a", "facebook", "ben", "post", "public"}, {"b", "facebook", "ben", "post", "public"}})
		}, 2, map[eligibility.Reason]int64{eligibility.Malformed: 2}},
		{"numeric id", func(p string) {
			pqWrite(t, p, []numericID{{1, "facebook", "ben", "post", "public", at}})
		}, 1, map[eligibility.Reason]int64{eligibility.Malformed: 1}},
		{"numeric kind", func(p string) {
			pqWrite(t, p, []numericKind{{"a", "facebook", "ben", 1, "public", at}})
		}, 1, map[eligibility.Reason]int64{eligibility.KindExcluded: 1}},
		{"mentions of numbers", func(p string) {
			pqWrite(t, p, []intMentions{
				{"a", "facebook", "ben", "post", "public", at, nil},
				{"b", "facebook", "ben", "post", "public", at, []int64{}},
				{"c", "facebook", "ben", "post", "public", at, []int64{7}},
			})
		}, 3, map[eligibility.Reason]int64{eligibility.Malformed: 1}},
		{"mentions a string, not a list", func(p string) {
			pqWrite(t, p, []stringMentions{
				{"a", "facebook", "ben", "post", "public", at, ""},
				{"b", "facebook", "ben", "post", "public", at, "anna"},
			})
		}, 2, map[eligibility.Reason]int64{eligibility.Malformed: 1}},
		{"a null among the mentions", func(p string) {
			pqWrite(t, p, []nullableMentions{
				{"a", "facebook", "ben", "post", "public", at, []*string{&anna}},
				{"b", "facebook", "ben", "post", "public", at, []*string{&anna, nil}},
			})
		}, 2, map[eligibility.Reason]int64{eligibility.Malformed: 1}},
		{"invalid UTF-8", func(p string) {
			pqWrite(t, p, []pqRow{pqPost("fb:\xff", "ben", at), pqPost("fb:2", "ben", at)})
		}, 2, map[eligibility.Reason]int64{eligibility.Malformed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.parquet")
			tt.write(in)
			res := pqRun(t, Job{Inputs: []string{in}, Output: filepath.Join(dir, "out.parquet"), Engine: pqEngine(t, "")})
			if res.Counts.Read != tt.read {
				t.Errorf("read %d, want %d", res.Counts.Read, tt.read)
			}
			var kept int64 = tt.read
			for r := eligibility.Malformed; int(r) < eligibility.NumReasons; r++ {
				kept -= tt.want[r]
				if res.Counts.Excluded[r] != tt.want[r] {
					t.Errorf("%s: %d, want %d", r, res.Counts.Excluded[r], tt.want[r])
				}
			}
			if res.Counts.Eligible != kept {
				t.Errorf("eligible %d, want %d", res.Counts.Eligible, kept)
			}
		})
	}
}

// Rules read text and, through record, any column of the row.
func TestParquetRules(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	var rows []pqRow
	for i := range 1000 {
		r := pqPost("fb:"+string(rune('a'+i%26))+strings.Repeat("x", i%7), "ben", "2026-01-01T10:00:00Z")
		switch i % 4 {
		case 1:
			r.Lang = "fr"
		case 2:
			r.Text = "ok"
		}
		rows = append(rows, r)
	}
	pqWrite(t, in, rows, parquet.MaxRowsPerRowGroup(300), parquet.PageBufferSize(1024))
	pol := "rules:\n  - {name: short, expr: 'size(text) < 3'}\n  - {name: french, expr: 'record.lang == \"fr\"'}\n"
	out := filepath.Join(dir, "out.parquet")
	res := pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, pol), WantText: true, Workers: 3})
	if res.Counts.Rules["short"] != 250 || res.Counts.Rules["french"] != 250 || res.Counts.Eligible != 500 {
		t.Errorf("counts %+v", res.Counts)
	}
	got, err := parquet.ReadFile[pqRow](out)
	if err != nil {
		t.Fatal(err)
	}
	var want []pqRow
	for i, r := range rows {
		if i%4 == 0 || i%4 == 3 {
			want = append(want, r)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("output differs: %d rows, want %d", len(got), len(want))
	}
}

// Many row groups or one large one, small pages, several workers: order
// is input order.
func TestParquetOrderAcrossRowGroups(t *testing.T) {
	var rows []pqRow
	authors := []string{"ben", "obj", "anna", "teen"}
	for i := range 40000 {
		r := pqPost(fmt.Sprintf("id-%05d", i), authors[i%len(authors)], "2026-01-01T10:00:00Z")
		r.Text = strings.Repeat("t", i%500)
		if i%3 == 0 {
			r.Mentions = []string{"x", "y"}
		}
		rows = append(rows, r)
	}
	var want []pqRow
	for i, r := range rows {
		if i%4 == 0 || i%4 == 2 {
			want = append(want, r)
		}
	}
	for _, rowGroup := range []int64{1500, 40000} {
		t.Run(fmt.Sprintf("row groups of %d", rowGroup), func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.parquet")
			pqWrite(t, in, rows, parquet.MaxRowsPerRowGroup(rowGroup), parquet.PageBufferSize(4096), parquet.Compression(&parquet.Zstd))
			out := filepath.Join(dir, "out.parquet")
			res := pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, ""), Workers: 4})
			got, err := parquet.ReadFile[pqRow](out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || res.Counts.Eligible != int64(len(want)) {
				t.Errorf("output: %d rows, want %d (eligible %d)", len(got), len(want), res.Counts.Eligible)
			}
			// One worker copies every column in line; more hand the
			// largest column's values to a writer goroutine. The writes,
			// and so the file, must be the same.
			one := filepath.Join(dir, "one.parquet")
			pqRun(t, Job{Inputs: []string{in}, Output: one, Engine: pqEngine(t, ""), Workers: 1})
			if a, b := pqFileSHA(t, out), pqFileSHA(t, one); a != b {
				t.Errorf("output with 4 workers %s, with 1 %s", a, b)
			}
			// The spilled pages of the row groups in flight leave nothing.
			pqOnlyInputs(t, dir, in, out, one)
		})
	}
}

func TestPQSpill(t *testing.T) {
	dir := t.TempDir()
	s := &pqSpill{dir: dir}
	b := s.GetBuffer()
	if _, err := b.Write([]byte("pages")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(b); err != nil || string(got) != "pages" {
		t.Fatalf("read back %q, %v", got, err)
	}
	pqOnlyInputs(t, dir) // removed while open
	s.PutBuffer(b)
	b2 := s.GetBuffer()
	if b2 != b {
		t.Error("a returned buffer is not reused")
	}
	if got, _ := io.ReadAll(b2); len(got) != 0 {
		t.Errorf("a reused buffer still holds %q", got)
	}
	s.close()
	if _, err := b2.Write([]byte("x")); err == nil {
		t.Error("a buffer is still open after close")
	}
	bad := &pqSpill{dir: filepath.Join(dir, "missing")}
	if _, err := bad.GetBuffer().Write([]byte("x")); err == nil {
		t.Error("a buffer that could not be made accepts writes")
	}
}

func TestParquetNothingKept(t *testing.T) {
	for name, rows := range map[string][]pqRow{
		"no rows":      nil,
		"all excluded": {pqPost("fb:1", "obj", "2026-01-01T10:00:00Z"), pqPost("fb:2", "teen", "2026-01-01T10:00:00Z")},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in, out := filepath.Join(dir, "in.parquet"), filepath.Join(dir, "out.parquet")
			pqWrite(t, in, rows)
			res := pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, "")})
			if res.Counts.Read != int64(len(rows)) || res.Counts.Eligible != 0 {
				t.Errorf("counts %+v", res.Counts)
			}
			pf := pqOpen(t, out)
			if pf.NumRows() != 0 || pf.Schema().String() != pqOpen(t, in).Schema().String() {
				t.Errorf("output has %d rows, schema\n%s", pf.NumRows(), pf.Schema())
			}
		})
	}
}

func TestParquetSchemaMismatch(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	pqWrite(t, a, []pqRow{pqPost("fb:1", "ben", "2026-01-01T10:00:00Z")})
	pqWrite(t, b, []pqMillisRow{{ID: "x"}})
	out := filepath.Join(dir, "out.parquet")
	_, err := Run(context.Background(), Job{Inputs: []string{a, b}, Output: out, Engine: pqEngine(t, "")})
	if err == nil || !strings.Contains(err.Error(), "schema differs") {
		t.Fatalf("err = %v, want a schema mismatch", err)
	}
	pqOnlyInputs(t, dir, a, b)
}

// A damaged input fails the job and leaves nothing behind.
func TestParquetCorruptInput(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.parquet")
	var rows []pqRow
	for i := range 5000 {
		rows = append(rows, pqPost("fb:"+strconv.Itoa(i), "ben", "2026-01-01T10:00:00Z"))
	}
	pqWrite(t, good, rows, parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(1000))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	pf := pqOpen(t, good)
	second := pf.Metadata().RowGroups[1].Columns[0].MetaData.DataPageOffset
	tests := map[string][]byte{
		"truncated":      data[:len(data)-100],
		"cut in half":    data[:len(data)/2],
		"garbled header": pqGarble(data, second, 64),
		"empty":          {},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.parquet")
			if err := os.WriteFile(in, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Run(context.Background(), Job{Inputs: []string{in}, Output: filepath.Join(dir, "out.parquet"),
				Lineage: filepath.Join(dir, "out.lineage.jsonl"), Rejects: filepath.Join(dir, "rejects.jsonl"), Engine: pqEngine(t, "")})
			if err == nil {
				t.Fatal("Run succeeded on a damaged file")
			}
			t.Log(err)
			pqOnlyInputs(t, dir, in)
		})
	}
}

// A damaged page of the largest column, the one whose values go to their
// column writer on a goroutine of their own, fails the job midway (after
// row groups were written) and leaves nothing behind either.
func TestParquetCorruptPipedColumn(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	var rows []pqRow
	for i := range 5000 {
		rows = append(rows, pqWith(pqPost("fb:"+strconv.Itoa(i), "ben", "2026-01-01T10:00:00Z"),
			func(r *pqRow) { r.Text = strings.Repeat("long text ", 20+i%7) }))
	}
	pqWrite(t, good, rows, parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(1000), parquet.PageBufferSize(8192))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	pf := pqOpen(t, good)
	leaf, ok := pf.Schema().Lookup("text")
	if !ok {
		t.Fatal("no text column")
	}
	rg := pf.Metadata().RowGroups[3]
	for j, c := range rg.Columns {
		if c.MetaData.TotalCompressedSize > rg.Columns[leaf.ColumnIndex].MetaData.TotalCompressedSize {
			t.Fatalf("column %d is larger than the text", j)
		}
	}
	// Well into the chunk: its first pages are copied before the damage.
	md := rg.Columns[leaf.ColumnIndex].MetaData
	at := md.DataPageOffset + md.TotalCompressedSize*3/10
	in := filepath.Join(dir, "in.parquet")
	if err := os.WriteFile(in, pqGarble(data, at, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Job{Inputs: []string{in}, Output: filepath.Join(dir, "out.parquet"),
		Lineage: filepath.Join(dir, "out.lineage.jsonl"), Engine: pqEngine(t, ""), Workers: 2})
	if err == nil {
		t.Fatal("Run succeeded on a damaged text column")
	}
	t.Log(err)
	pqOnlyInputs(t, dir, in, good)
}

func pqGarble(data []byte, at int64, n int) []byte {
	b := bytes.Clone(data)
	for i := at; i < at+int64(n) && int(i) < len(b); i++ {
		b[i] = 0xff
	}
	return b
}

func pqOnlyInputs(t *testing.T, dir string, inputs ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(inputs, filepath.Join(dir, e.Name())) {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

func TestParquetCancel(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	var rows []pqRow
	for i := range 20000 {
		rows = append(rows, pqPost("fb:"+strconv.Itoa(i), "ben", "2026-01-01T10:00:00Z"))
	}
	pqWrite(t, in, rows, parquet.MaxRowsPerRowGroup(1000))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Job{Inputs: []string{in}, Output: filepath.Join(dir, "out.parquet"), Engine: pqEngine(t, "")})
	if err == nil {
		t.Fatal("Run succeeded after cancellation")
	}
	pqOnlyInputs(t, dir, in)
}

// DuckDB reads what the filter writes (when the benchmark's DuckDB is
// installed: bash .ci/setup).
func TestParquetReadByDuckDB(t *testing.T) {
	bench, err := filepath.Abs("../../bench")
	if err != nil {
		t.Fatal(err)
	}
	// An independent reader is the point of this test: CI sets
	// NOTRAIN_REQUIRE_DUCKDB=1 (after .ci/setup installed it), so a missing
	// DuckDB fails there instead of skipping.
	skip := t.Skip
	if os.Getenv("NOTRAIN_REQUIRE_DUCKDB") == "1" {
		skip = t.Fatal
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not installed (bash .ci/setup installs it)")
	}
	if _, err := os.Stat(filepath.Join(bench, "node_modules", "@duckdb", "node-api")); err != nil {
		skip("DuckDB for node is not installed in bench/node_modules (bash .ci/setup, or npm install in bench/)")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.parquet")
	var rows []pqRow
	for i := range 3000 {
		r := pqPost("fb:"+strconv.Itoa(i), []string{"ben", "obj", "anna"}[i%3], "2026-01-01T10:00:00Z")
		r.Mentions = []string{"x"}
		rows = append(rows, r)
	}
	pqWrite(t, in, rows, parquet.MaxRowsPerRowGroup(1000), parquet.Compression(&parquet.Snappy))
	out := filepath.Join(dir, "out.parquet")
	pqRun(t, Job{Inputs: []string{in}, Output: out, Engine: pqEngine(t, "")})
	ids := filepath.Join(dir, "ids.txt")
	cmd := exec.Command(node, "duckdb_filter.mjs", "ids", "--in", out, "--out", ids)
	cmd.Dir = bench
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("duckdb: %v\n%s", err, b)
	}
	f, err := os.Open(ids)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	var want []string
	for i := range 3000 {
		if i%3 != 1 {
			want = append(want, "fb:"+strconv.Itoa(i))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("DuckDB read %d ids, want %d", len(got), len(want))
	}
}
