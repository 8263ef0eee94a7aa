package strictjson

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type record struct {
	Email string             `json:"email"`
	Scope stdjson.RawMessage `json:"scope"`
	N     int                `json:"n"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in string
		kind     Kind // 0: accepted
		key      string
		reason   string
	}{
		{"object", `{"email":"a@b.de","scope":["x"],"n":1}`, 0, "", ""},
		{"JSON whitespace around", " \t\r\n{\"email\" :\r\n\"a\"}\r\n", 0, "", ""},
		{"surrogate pair escape", `{"email":"\ud83d\ude00"}`, 0, "", ""},
		{"null member", `{"email":null,"scope":null}`, 0, "", ""},
		{"empty", ``, Malformed, "", "no JSON value"},
		{"only whitespace", " \r\n", Malformed, "", "no JSON value"},
		{"truncated", `{"email":`, Malformed, "email", "ends early"},
		{"trailing brace", `{"email":"a"}}`, Malformed, "", "one JSON value"},
		{"trailing brackets", `{"email":"a"}]]`, Malformed, "", "one JSON value"},
		{"second value", `{"email":"a"} {}`, Malformed, "", "one JSON value"},
		{"second value without space", `{"email":"a"}{"email":"b"}`, Malformed, "", "one JSON value"},
		{"trailing garbage", `{"email":"a"} x`, Malformed, "", "one JSON value"},
		{"duplicate key", `{"email":"a","email":"b"}`, Malformed, "email", `duplicate key "email"`},
		{"duplicate key nested", `{"scope":{"x":1,"x":2}}`, Malformed, "scope/x", `duplicate key "x" in "scope"`},
		{"duplicate key by escape", `{"email":"a","\u0065mail":"b"}`, Malformed, "email", `duplicate key "email"`},
		{"key in upper case", `{"EMAIL":"a"}`, Mismatch, "EMAIL", `unknown key "EMAIL" (keys are case-sensitive: "email")`},
		{"unknown key", `{"e-mail":"a"}`, Mismatch, "e-mail", `unknown key "e-mail"`},
		{"invalid UTF-8 in a value", "{\"email\":\"\xff\"}", Malformed, "", "invalid UTF-8 at byte 10"},
		{"invalid UTF-8 in a key", "{\"\xffemail\":\"a\"}", Malformed, "", "invalid UTF-8 at byte 2"},
		{"overlong encoding", "{\"email\":\"\xc0\xaf\"}", Malformed, "", "invalid UTF-8"},
		{"encoded surrogate", "{\"email\":\"\xed\xa0\x80\"}", Malformed, "", "invalid UTF-8"},
		{"lone high surrogate escape", `{"email":"\ud800"}`, Malformed, "email", `key "email"`},
		{"lone low surrogate escape", `{"email":"\udc00x"}`, Malformed, "email", `key "email"`},
		{"lone surrogate in a key", `{"\ud800":1}`, Malformed, "", "surrogate"},
		{"byte order mark", "\ufeff{}", Malformed, "", "byte order mark"},
		{"byte order mark after space", " \ufeff{}", Malformed, "", "byte order mark"},
		{"no-break space", "\u00a0{}", Malformed, "", "invalid character"},
		{"wrong type", `{"email":1}`, Mismatch, "email", `key "email": a string is expected, not a number`},
		{"number out of range", `{"n":1e400}`, Mismatch, "n", `key "n": 1e400 does not fit int`},
		{"null", `null`, Mismatch, "", "a JSON object is expected, not null"},
		{"array", `[]`, Mismatch, "", "a JSON object is expected, not an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record
			err := Decode([]byte(tt.in), &r)
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("Decode(%q) = %v", tt.in, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.Key != tt.key || !strings.Contains(e.Reason, tt.reason) {
				t.Fatalf("Decode(%q) = %#v, want kind %d key %q reason …%s…", tt.in, err, tt.kind, tt.key, tt.reason)
			}
		})
	}
}

func TestDecodeKeepsRawMembersVerbatim(t *testing.T) {
	var r record
	if err := Decode([]byte(`{"scope": [ "a" ,"b"] }`), &r); err != nil || string(r.Scope) != `[ "a" ,"b"]` {
		t.Fatalf("scope %q, %v", r.Scope, err)
	}
}

func TestTrimBOM(t *testing.T) {
	if got := TrimBOM([]byte("\ufeff\ufeff{}")); string(got) != "\ufeff{}" {
		t.Fatalf("TrimBOM = %q: only one mark opens a stream", got)
	}
}

func TestTime(t *testing.T) {
	for _, s := range []string{"2025-05-20T08:00:00Z", "2025-05-20T08:00:00.123456789Z", "2025-05-20T08:00:00+23:59", "2025-05-20T08:00:00-00:00", "2024-02-29T00:00:00+01:00"} {
		if _, err := Time(s); err != nil {
			t.Errorf("Time(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"2025-05-20T08:00:00+24:00", "2025-05-20T08:00:00-24:00", "2025-05-20T08:00:00+23:60", "2025-05-20T08:00:00+99:00",
		"2025-05-20T08:00:00,5Z", "2025-05-20t08:00:00z", "2025-05-20T08:00:00", "2025-05-20 08:00:00Z", "2025-05-20T24:00:00Z",
		"2025-02-30T08:00:00Z", "2025-05-20T08:00:60Z", "2025-05-20T08:00:00.1234567891Z", "2025-05-20T08:00:00+0200", "", " 2025-05-20T08:00:00Z"} {
		if got, err := Time(s); err == nil {
			t.Errorf("Time(%q) = %v, want an error", s, got)
		}
	}
}

// FuzzDecode: what the strict decoder accepts is one valid JSON value that
// encoding/json reads to the same record; nothing it refuses goes unnamed.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.de","scope":["x"],"n":1}`, `{"email":"a","email":"b"}`, `{"EMAIL":"a"}`,
		"{\"email\":\"\xff\"}", `{"email":"\ud800"}`, "\ufeff{}", `{}}`, `{}]]`, `{} {}`, `null`, `{"scope":{"a":1,"a":2}}`, `{"n":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r record
		err := Decode(in, &r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Kind != Malformed && e.Kind != Mismatch) || e.Reason == "" {
				t.Fatalf("Decode(%q) = %#v: not a described refusal", in, err)
			}
			return
		}
		if !stdjson.Valid(in) || bytes.HasPrefix(in, bom) {
			t.Fatalf("Decode accepted %q, which is not one JSON value", in)
		}
		var std record
		dec := stdjson.NewDecoder(bytes.NewReader(in))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("Decode accepted %q, encoding/json refuses it: %v", in, err)
		}
		if !reflect.DeepEqual(r, std) {
			t.Fatalf("Decode(%q) = %#v, encoding/json = %#v", in, r, std)
		}
	})
}
