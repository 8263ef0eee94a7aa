package objection_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/jsonlines"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

const goodImport = `{"email":"anna@example.de","scope":"all","received_at":"2025-05-20T08:00:00Z","effective_at":"2025-05-20T08:00:00Z","channel":"email","note":"ticket 4711"}`

// TestImportIsStrict: each second line here was accepted before the one
// strict decoder; now it is refused with its line number and the key.
func TestImportIsStrict(t *testing.T) {
	const tail = `"effective_at":"2025-05-20T08:00:00Z","channel":"letter"`
	tests := []struct{ name, line, want string }{
		{"trailing brace", `{"email":"ben@example.com",` + tail + `}}`, "one JSON value"},
		{"trailing brackets", `{"email":"ben@example.com",` + tail + `}]]`, "one JSON value"},
		{"duplicate key", `{"email":"ben@example.com","email":"carl@example.net",` + tail + `}`, `duplicate key "email"`},
		{"duplicate key in scope", `{"email":"ben@example.com","scope":{"a":1,"a":2},` + tail + `}`, `duplicate key "a"`},
		{"key in upper case", `{"EMAIL":"ben@example.com",` + tail + `}`, `unknown key "EMAIL"`},
		{"key in title case", `{"Product":"facebook","account_id":"u2",` + tail + `}`, `unknown key "Product"`},
		{"invalid UTF-8", `{"email":"ben@example.com","note":"` + "\xff" + `",` + tail + `}`, "invalid UTF-8"},
		{"lone surrogate escape", `{"email":"ben@example.com","note":"\udc00",` + tail + `}`, `"note"`},
		{"byte order mark on a later line", "\ufeff" + `{"email":"ben@example.com",` + tail + `}`, "byte order mark"},
		{"no-break space before the value", "\u00a0" + `{"email":"ben@example.com",` + tail + `}`, "invalid character"},
		{"offset +24:00", `{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00+24:00","channel":"letter"}`, "effective_at"},
		{"offset +23:60", `{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00+23:60","channel":"letter"}`, "effective_at"},
		{"received_at offset +24:00", `{"email":"ben@example.com","received_at":"2025-05-19T08:00:00+24:00",` + tail + `}`, "received_at"},
		{"decimal comma", `{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00,5Z","channel":"letter"}`, "effective_at"},
		{"product spelt in capitals", `{"email":"ben@example.com","scope":["Instagram"],` + tail + `}`, "scope"},
		{"product padded", `{"email":"ben@example.com","scope":[" instagram"],` + tail + `}`, "scope"},
		{"all inside a list", `{"email":"ben@example.com","scope":["all"],` + tail + `}`, "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fixture.New(t, fixture.Options{})
			f.Import(t, fixture.Accounts)
			_, err := f.Svc.Import(ctx, strings.NewReader(goodImport+"\n"+tt.line+"\n"), "test")
			var le *jsonlines.LineError
			if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import(line 2 = %q) = %v, want line 2: …%s…", tt.line, err, tt.want)
			}
		})
	}
}

// TestImportFraming: a BOM may open the file and lines may end in CRLF.
func TestImportFraming(t *testing.T) {
	const second = `{"product":"facebook","account_id":"u2","scope":["instagram","facebook","instagram"],"effective_at":"2025-05-20T09:00:00+23:59","channel":"letter"}`
	for _, in := range []string{
		"\ufeff" + goodImport + "\n" + second + "\n",
		goodImport + "\r\n" + second + "\r\n",
		"\ufeff" + goodImport + "\r\n\r\n \t\r\n" + second,
	} {
		f := fixture.New(t, fixture.Options{})
		f.Import(t, fixture.Accounts)
		res, err := f.Svc.Import(ctx, strings.NewReader(in), "test")
		if err != nil || res.Records != 2 {
			t.Errorf("Import(%q) = %+v, %v", in, res, err)
		}
	}
}

// FuzzImportLine: a one-line file is either imported as one objection or
// refused on line 1; what is imported, encoding/json reads as an object with
// the same members and no key twice.
func FuzzImportLine(f *testing.F) {
	for _, s := range []string{goodImport,
		`{"product":"facebook","account_id":"u2","scope":["instagram"],"effective_at":"2025-05-20T08:00:00+23:59","channel":"letter"}`,
		`{"email":"ben@example.com","email":"carl@example.net","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`,
		`{"EMAIL":"ben@example.com","effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`,
		`{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00+24:00","channel":"letter"}`,
		`{"email":"ben@example.com","effective_at":"2025-05-20T08:00:00Z","channel":"letter","note":"\ud800"}`,
		"\ufeff" + goodImport + "\r\n", goodImport + "}", goodImport + "]]", `{"email":"ben@example.com","scope":["Instagram"],"effective_at":"2025-05-20T08:00:00Z","channel":"letter"}`,
	} {
		f.Add([]byte(s))
	}
	fx := fixture.New(f, fixture.Options{})
	fx.Import(f, fixture.Accounts)
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.ContainsRune(line, '\n') {
			return // more than one line
		}
		res, err := fx.Svc.Import(ctx, bytes.NewReader(line), "fuzz")
		if err != nil {
			var le *jsonlines.LineError
			if !errors.As(err, &le) || le.Line != 1 {
				t.Fatalf("Import(%q) = %v, not a refusal of line 1", line, err)
			}
			return
		}
		if blank := len(bytes.Trim(bytes.TrimPrefix(line, []byte("\ufeff")), " \t\r")) == 0; blank != (res.Records == 0) || res.Records > 1 {
			t.Fatalf("Import(%q) imported %d records", line, res.Records)
		}
		if res.Records == 0 {
			return
		}
		if !utf8.Valid(line) {
			t.Fatalf("Import accepted %q: not UTF-8", line)
		}
		seen := map[string]bool{}
		dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(line, []byte("\ufeff"))))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("Import accepted %q: not an object", line)
		}
		for dec.More() {
			tok, err := dec.Token()
			k, _ := tok.(string)
			var v json.RawMessage
			if err != nil || dec.Decode(&v) != nil {
				t.Fatalf("Import accepted %q: %v", line, err)
			}
			if seen[k] || !slices.Contains([]string{"email", "product", "account_id", "scope", "received_at", "effective_at", "channel", "note"}, k) {
				t.Fatalf("Import accepted %q with key %q", line, k)
			}
			seen[k] = true
		}
	})
}
