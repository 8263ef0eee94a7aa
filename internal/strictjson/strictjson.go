// Package strictjson is the one decoder for JSON that reaches notrain from
// outside: every API request body and every line of an account or objection
// import. The lenient defaults of encoding/json (last of two equal keys wins,
// "EMAIL" fills the field email, invalid UTF-8 becomes U+FFFD, data after
// the value is the caller's problem) would let a request or an import line
// mean something other than what a reader of it sees; here each of them is
// an error that names the key.
//
// What is accepted, and why:
//   - Exactly one JSON value (RFC 8259 §2) with only JSON whitespace (space,
//     tab, CR, LF) around it; anything after it, even a lone "}" or "]]",
//     is refused.
//   - UTF-8 only (RFC 8259 §8.1). A raw byte sequence that is not UTF-8 is
//     refused, and so is an escape that decodes to a lone surrogate
//     ("\ud800"): it names no character, so it could only be stored as U+FFFD
//     — a different text than the one sent (I-JSON, RFC 7493 §2.1).
//   - Object keys unique (RFC 7493 §2.3) and matched exactly, case included.
//     Unknown keys are refused: every input decoded here is a small record
//     whose misspelt key would silently drop a field ("scop" would widen an
//     objection to all accounts, "e-mail" would leave an account unmatched).
//   - No byte order mark. RFC 8259 §8.1 lets a parser ignore one at the start
//     of a JSON text; that belongs to the framing, not the value, so Decode
//     refuses U+FEFF outside strings and callers strip the one mark that may
//     open a stream with TrimBOM: the HTTP body, and the first line of an
//     import file (JSON Lines files written by Windows tools often carry it).
//     A mark on any later line is refused.
//   - CRLF line ends in JSON Lines: the CR is JSON whitespace, so it needs no
//     special case.
//
// The syntax layer is github.com/go-json-experiment/json (jsontext), whose
// defaults are exactly these rules; under GOEXPERIMENT=jsonv2 it is the
// standard library's encoding/json/v2.
package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Kind says what is wrong with a refused input.
type Kind int

const (
	// Malformed is not exactly one well-formed JSON value in UTF-8 with
	// unique keys.
	Malformed Kind = iota + 1
	// Mismatch is well-formed JSON whose keys or values do not fit what is
	// expected: an unknown key, a number where a string belongs.
	Mismatch
)

// Error is a refused input. Key is the member it concerns, the names on its
// path joined by "/" ("scope/a"), or "" for the text as a whole.
type Error struct {
	Kind   Kind
	Key    string
	Offset int64 // byte offset at or just before the problem
	Reason string
}

func (e *Error) Error() string { return e.Reason }

var bom = []byte("\ufeff")

// TrimBOM removes one byte order mark from the start of a stream (RFC 8259
// §8.1 allows a parser to ignore it); Decode refuses one anywhere else.
func TrimBOM(b []byte) []byte { return bytes.TrimPrefix(b, bom) }

// Decode reads exactly one JSON value from data into v under the rules in
// the package comment. When v points to a struct the value must be an
// object and every key must be one of the struct's json names.
func Decode(data []byte, v any) error {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), bom) {
		return &Error{Kind: Malformed, Reason: "a byte order mark (U+FEFF) is not JSON; only the start of a file or body may carry one"}
	}
	if !utf8.Valid(data) {
		off := invalidUTF8(data)
		return &Error{Kind: Malformed, Offset: off, Reason: fmt.Sprintf("invalid UTF-8 at byte %d", off)}
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	val, err := dec.ReadValue()
	if err != nil {
		return syntaxError(err)
	}
	val = val.Clone() // the decoder reuses its buffer on the next read
	end := dec.InputOffset()
	if _, err := dec.ReadValue(); err != io.EOF {
		return &Error{Kind: Malformed, Offset: end, Reason: fmt.Sprintf("not exactly one JSON value: more data after byte %d", end)}
	}
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && val.Kind() != '{' {
		return &Error{Kind: Mismatch, Reason: "a JSON object is expected, not " + kindName(val.Kind())}
	}
	if err := json.Unmarshal(val, v, json.RejectUnknownMembers(true)); err != nil {
		return semanticError(err, t)
	}
	return nil
}

func invalidUTF8(b []byte) int64 {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return int64(i)
		}
		i += n
	}
	return int64(len(b))
}

func syntaxError(err error) error {
	if err == io.EOF {
		return &Error{Kind: Malformed, Reason: "no JSON value"}
	}
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return &Error{Kind: Malformed, Reason: err.Error()}
	}
	e := &Error{Kind: Malformed, Key: path(se.JSONPointer), Offset: se.ByteOffset}
	switch {
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		e.Reason = fmt.Sprintf("duplicate key %q", se.JSONPointer.LastToken())
		if p := path(se.JSONPointer.Parent()); p != "" {
			e.Reason += fmt.Sprintf(" in %q", p)
		}
	case errors.Is(se.Err, io.ErrUnexpectedEOF):
		e.Reason = fmt.Sprintf("the JSON value ends early, after byte %d", se.ByteOffset)
	default:
		e.Reason = se.Err.Error()
		if e.Key != "" {
			e.Reason = fmt.Sprintf("key %q: %s", e.Key, e.Reason)
		} else {
			e.Reason += fmt.Sprintf(" (byte %d)", se.ByteOffset)
		}
	}
	return e
}

func semanticError(err error, target reflect.Type) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		return &Error{Kind: Mismatch, Reason: err.Error()}
	}
	e := &Error{Kind: Mismatch, Key: path(se.JSONPointer), Offset: se.ByteOffset}
	if errors.Is(se.Err, json.ErrUnknownName) {
		name := se.JSONPointer.LastToken()
		e.Reason = fmt.Sprintf("unknown key %q", name)
		if p := path(se.JSONPointer.Parent()); p != "" {
			e.Reason += fmt.Sprintf(" in %q", p)
		} else if known := sameButCase(target, name); known != "" {
			e.Reason += fmt.Sprintf(" (keys are case-sensitive: %q)", known)
		}
		return e
	}
	what := "a value"
	if se.GoType != nil {
		what = goKindName(se.GoType)
	}
	e.Reason = fmt.Sprintf("%s is expected, not %s", what, kindName(se.JSONKind))
	if what == kindName(se.JSONKind) { // right kind, wrong value: 1.5 for an int
		e.Reason = fmt.Sprintf("%s does not fit %s", se.JSONValue, se.GoType)
	}
	if e.Key != "" {
		e.Reason = fmt.Sprintf("key %q: %s", e.Key, e.Reason)
	}
	return e
}

// sameButCase finds the struct's json name that equals name but for case,
// so the error can say what was meant.
func sameButCase(t reflect.Type, name string) string {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return ""
	}
	st := t.Elem()
	for i := range st.NumField() {
		tag, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" && strings.EqualFold(tag, name) {
			return tag
		}
	}
	return ""
}

func path(p jsontext.Pointer) string {
	var names []string
	for tok := range p.Tokens() {
		names = append(names, tok)
	}
	return strings.Join(names, "/")
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "this value"
}

func goKindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value of another type"
}

// rfc3339 is the date-time of RFC 3339 §5.6 as the contracts write it:
// upper-case T and Z, a full stop before at most nine fraction digits.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-](\d\d):(\d\d))$`)

// Time parses a time field of an input. Beyond time.Parse it refuses an
// offset hour over 23 or minute over 59 (RFC 3339 §5.6 time-numoffset;
// time.Parse takes "+24:00" and even "+23:60"), a decimal comma and a
// lower-case t or z.
func Time(s string) (time.Time, error) {
	m := rfc3339.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2025-05-20T08:00:00Z)", s)
	}
	if m[1] != "" {
		h, _ := strconv.Atoi(m[1])
		mm, _ := strconv.Atoi(m[2])
		if h > 23 || mm > 59 {
			return time.Time{}, fmt.Errorf("%q: the offset must lie between -23:59 and +23:59", s)
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time: %w", s, err)
	}
	return t, nil
}
