package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/email"
	"github.com/notrain/notrain/internal/jsonlines"
	"github.com/notrain/notrain/internal/secret"
)

func keys(t testing.TB) *secret.Keys {
	k, err := secret.New(bytes.Repeat([]byte{1}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseHashesSpellingVariantsAlike(t *testing.T) {
	in := `{"product":"facebook","account_id":"a","email":"Jörg@Müller.de"}
{"product":"instagram","account_id":"b","email":"jo\u0308rg@xn--mller-kva.de"}

{"product":"threads","account_id":"c"}
`
	p, err := Parse(strings.NewReader(in), keys(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Accounts) != 3 || p.Accounts[0].EmailHash != p.Accounts[1].EmailHash || p.Accounts[2].EmailHash != "" {
		t.Fatalf("accounts = %+v", p.Accounts)
	}
	if strings.Contains(p.Accounts[0].EmailHash, "@") || len(p.Accounts[0].EmailHash) != 64 {
		t.Fatalf("hash %q", p.Accounts[0].EmailHash)
	}
}

func TestParseRefusesLongLines(t *testing.T) {
	in := `{"product":"facebook","account_id":"` + strings.Repeat("x", MaxLine) + `"}`
	_, err := Parse(strings.NewReader(in), keys(t))
	var le *jsonlines.LineError
	if !errors.As(err, &le) || le.Line != 1 {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"product":"facebook","account_id":"u1","email":"a@b.de","birthdate":"1990-05-01","handle":"h","group":"g"}`))
	f.Add([]byte(`{"product":"facebook","account_id":"u1","birthdate":"2000-02-29"}`))
	f.Add([]byte(`{"product":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"product":"facebook","account_id":"u1","account_id":"u2"}`))
	f.Add([]byte(`{"PRODUCT":"facebook","account_id":"u1"}`))
	f.Add([]byte(`{"product":"facebook","account_id":"u1"}}`))
	f.Add([]byte("{\"product\":\"facebook\",\"account_id\":\"\xff\"}"))
	f.Add([]byte(`{"product":"facebook","account_id":"\ud800"}`))
	f.Add([]byte("\ufeff{\"product\":\"facebook\",\"account_id\":\"u1\"}\r\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseLine(line)
		if err != nil {
			return
		}
		if r.AccountID == "" || r.Product == "" {
			t.Fatalf("accepted %q without id or product", line)
		}
		// The strict decoder accepts only what encoding/json reads the same way.
		var std Record
		if err := json.Unmarshal(line, &std); err != nil || std != r || !utf8.Valid(line) {
			t.Fatalf("ParseLine(%q) = %+v, encoding/json: %+v %v", line, r, std, err)
		}
		// An accepted line must also pass the file parser (one-line file).
		if _, err := Parse(bytes.NewReader(append(bytes.TrimSpace(line), '\n')), keys(t)); err != nil && !strings.Contains(string(line), "\n") {
			t.Fatalf("ParseLine accepted %q, Parse refused it: %v", line, err)
		}
	})
}

// TestParseLineIsStrict: every line here was accepted by the lenient
// decoder and must now be refused, naming the key where there is one.
func TestParseLineIsStrict(t *testing.T) {
	const ok = `"product":"facebook","account_id":"u1"`
	tests := []struct{ name, line, want string }{
		{"trailing brace", `{` + ok + `}}`, "one JSON value"},
		{"trailing brackets", `{` + ok + `}]]`, "one JSON value"},
		{"second value", `{` + ok + `} {}`, "one JSON value"},
		{"duplicate key", `{` + ok + `,"account_id":"u2"}`, `"account_id"`},
		{"duplicate key differing in case", `{` + ok + `,"Account_id":"u2"}`, `"Account_id"`},
		{"key in upper case", `{"PRODUCT":"facebook","account_id":"u1"}`, `"PRODUCT"`},
		{"mixed-case email key", `{` + ok + `,"EMAIL":"a@b.de"}`, `"EMAIL"`},
		{"invalid UTF-8", `{` + ok + `,"handle":"` + "\xff" + `"}`, "UTF-8"},
		{"invalid UTF-8 in a key", `{` + ok + `,"` + "h\xc0\xafandle" + `":"x"}`, "UTF-8"},
		{"lone surrogate escape", `{` + ok + `,"handle":"\ud800"}`, `"handle"`},
		{"byte order mark inside the file", "\ufeff{" + ok + `}`, "byte order mark"},
		{"not an object", `null`, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseLine([]byte(tt.line))
			if err == nil {
				t.Fatalf("ParseLine(%q) accepted: %+v", tt.line, r)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseLine(%q) = %v, want it to mention %s", tt.line, err, tt.want)
			}
		})
	}
}

// TestParseFraming: a BOM may open the file (RFC 8259 §8.1 lets a parser
// ignore it), lines may end in CRLF (CR is JSON whitespace); a BOM anywhere
// else is refused, and errors name the line and the key.
func TestParseFraming(t *testing.T) {
	const a, b = `{"product":"facebook","account_id":"a"}`, `{"product":"facebook","account_id":"b"}`
	for _, in := range []string{"\ufeff" + a + "\n" + b + "\n", a + "\r\n" + b + "\r\n", "\ufeff" + a + "\r\n\r\n" + b} {
		p, err := Parse(strings.NewReader(in), keys(t))
		if err != nil || len(p.Accounts) != 2 {
			t.Errorf("Parse(%q) = %d accounts, %v", in, len(p.Accounts), err)
		}
	}
	for _, tt := range []struct {
		in, want string
		line     int
	}{
		{a + "\n\ufeff" + b + "\n", "byte order mark", 2},
		{"\ufeff\ufeff" + a, "byte order mark", 1},
		{a + "\n\u00a0" + b + "\n", "invalid character", 2}, // no-break space is not JSON whitespace
		{a + "\n" + `{"product":"facebook","account_id":"b","account_id":"c"}` + "\n", `duplicate key "account_id"`, 2},
		{a + "\n\n" + `{"product":"facebook","Account_ID":"b"}`, `unknown key "Account_ID"`, 3},
	} {
		_, err := Parse(strings.NewReader(tt.in), keys(t))
		var le *jsonlines.LineError
		if !errors.As(err, &le) || le.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want line %d: …%s…", tt.in, err, tt.line, tt.want)
		}
	}
}

// A directory address in capitals is the platform's own record: it imports,
// and its owner's lower-case spelling matches it.
func TestDirectoryAddressInCapitalsMatchesItsOwner(t *testing.T) {
	keys := keys(t)
	in := `{"product":"facebook","account_id":"u1","email":"JÖRG@MÜLLER.DE"}` + "\n"
	p, err := Parse(strings.NewReader(in), keys)
	if err != nil {
		t.Fatalf("import refused a capitalised directory address: %v", err)
	}
	typed, err := email.Parse("jörg@müller.de")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Accounts[0].EmailHash, keys.EmailHash(typed.Canonical); got != want {
		t.Errorf("directory hash %s, typed address hashes to %s: the owner could not object", got, want)
	}
	if _, err := Parse(strings.NewReader(`{"product":"facebook","account_id":"u2","email":"anna.İg@example.de"}`+"\n"), keys); err == nil {
		t.Error("a directory address whose İ would become anna.ig was imported")
	}
}
