package record

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/notrain/notrain/internal/eligibility"
)

const good = `{"id":"fb:1001","product":"facebook","author_id":"u42","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z","text":"hallo","mentions":["u7"],"tags":["u9","u10"],"lang":"de","n":[1,{"a":null}]}`

func parse(t *testing.T, line string) (eligibility.Item, string) {
	t.Helper()
	var p Parser
	p.WantText = true
	var it eligibility.Item
	why := p.Parse([]byte(line), &it)
	return it, why
}

func TestParseWellFormed(t *testing.T) {
	it, why := parse(t, good)
	if why != "" || it.Malformed {
		t.Fatalf("malformed: %s", why)
	}
	if string(it.ID) != "fb:1001" || string(it.Product) != "facebook" || string(it.AuthorID) != "u42" || string(it.Kind) != "post" ||
		string(it.Visibility) != "public" || string(it.Text) != "hallo" || len(it.Mentions) != 1 || len(it.Tags) != 2 || string(it.Tags[1]) != "u10" {
		t.Fatalf("item = %+v", it)
	}
	if want := time.Date(2025, 4, 2, 10, 0, 0, 0, time.UTC).UnixMicro(); it.CreatedAt != want {
		t.Fatalf("created_at %d, want %d", it.CreatedAt, want)
	}
	if string(it.Raw) != good {
		t.Fatalf("raw record %q", it.Raw)
	}
}

func TestParseKeepsSignalsRaw(t *testing.T) {
	line := `{"id":"x","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z",` +
		`"content_usage" : "train-ai=n, search=y","tdm_reservation":1,"training_mining":{"entries":{"cawg.ai_training":{"use":"notAllowed"}}},` +
		`"content_usagf":"x","tdm_reservatioN":2}`
	it, why := parse(t, line)
	if why != "" {
		t.Fatalf("malformed: %s", why)
	}
	if string(it.ContentUsage) != `"train-ai=n, search=y"` || string(it.TDMReservation) != `1` ||
		string(it.TrainingMining) != `{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}` {
		t.Fatalf("signals %q %q %q", it.ContentUsage, it.TDMReservation, it.TrainingMining)
	}
	it, why = parse(t, `{"id":"x","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z"}`)
	if why != "" || it.ContentUsage != nil || it.TDMReservation != nil || it.TrainingMining != nil {
		t.Fatalf("absent signals: %q %q %q %q", why, it.ContentUsage, it.TDMReservation, it.TrainingMining)
	}
	// Two values for one reservation: which would a reader believe? Neither.
	if _, why := parse(t, `{"id":"x","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z","tdm_reservation":0,"tdm_reservation":1}`); why != WhyDuplicate {
		t.Fatalf("duplicate tdm_reservation: %q", why)
	}
	if _, why := parse(t, `{"id":"x","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z","training_mining":{"a":}}`); why != WhyInvalidJSON {
		t.Fatalf("broken training_mining: %q", why)
	}
}

func TestParseMalformed(t *testing.T) {
	base := map[string]any{"id": "x", "product": "facebook", "author_id": "u", "created_at": "2025-04-02T10:00:00Z"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := map[string]string{
		"":                              WhyNotObject,
		"   ":                           WhyNotObject,
		"[]":                            WhyNotObject,
		`"id"`:                          WhyNotObject,
		"null":                          WhyNotObject,
		`{"id":"x"`:                     WhyInvalidJSON,
		good[:len(good)-1]:              WhyInvalidJSON,
		good + "x":                      WhyInvalidJSON,
		good + " {}":                    WhyInvalidJSON,
		"{\"id\":\"a\tb\"}":             WhyInvalidJSON, // raw control character in a string
		`{"id":"a\qb"}`:                 WhyInvalidJSON,
		`{"id":"\u12"}`:                 WhyInvalidJSON,
		`{"n":01}`:                      WhyInvalidJSON,
		`{"n":1.}`:                      WhyInvalidJSON,
		`{"n":tru}`:                     WhyInvalidJSON,
		`{"n":1,}`:                      WhyInvalidJSON,
		`{,}`:                           WhyInvalidJSON,
		`{"a" 1}`:                       WhyInvalidJSON,
		"{\"id\":\"\xff\"}":             WhyInvalidUTF8,
		with("id", nil):                 WhyMissingField,
		with("id", ""):                  WhyMissingField,
		with("id", 42):                  WhyMissingField,
		with("product", nil):            WhyMissingField,
		with("author_id", []int{1}):     WhyMissingField,
		with("created_at", nil):         WhyMissingField,
		with("created_at", "yesterday"): WhyBadTime,
		with("created_at", "2025-02-29T10:00:00Z"):     WhyBadTime,
		with("created_at", "2025-04-02T24:00:00Z"):     WhyBadTime,
		with("created_at", "2025-04-02T10:00:60Z"):     WhyBadTime,
		with("created_at", "2025-04-02 10:00:00Z"):     WhyBadTime,
		with("created_at", "2025-04-02T10:00:00"):      WhyBadTime,
		with("created_at", "2025-04-02T10:00:00.Z"):    WhyBadTime,
		with("created_at", "2025-04-02T10:00:00+0100"): WhyBadTime,
		with("mentions", "u7"):                         WhyBadList,
		with("tags", []any{"a", 1}):                    WhyBadList,
		with("tags", map[string]int{"a": 1}):           WhyBadList,
		`{"id":"a","id":"b","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z"}`:        WhyDuplicate,
		`{"id":"a","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z","author_id":"v"}`: WhyDuplicate,
		// An escaped key is still that key.
		`{"id":"a","product":"facebook","author_id":"u","created_at":"2025-04-02T10:00:00Z","author\u005fid":"v"}`: WhyDuplicate,
		strings.Repeat("[", 600) + strings.Repeat("]", 600):                                                        WhyNotObject,
		`{"deep":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`:                                     WhyTooDeep,
	}
	for line, want := range cases {
		it, why := parse(t, line)
		if why != want || !it.Malformed {
			t.Errorf("%.60q: why %q, want %q", line, why, want)
		}
	}
}

func TestParseAcceptsRFC3339Variants(t *testing.T) {
	for s, want := range map[string]string{
		"2025-04-02T10:00:00Z":           "2025-04-02T10:00:00Z",
		"2025-04-02t10:00:00z":           "2025-04-02T10:00:00Z",
		"2025-04-02T12:00:00+02:00":      "2025-04-02T10:00:00Z",
		"2025-04-02T08:30:00-01:30":      "2025-04-02T10:00:00Z",
		"2025-04-02T10:00:00.123456789Z": "2025-04-02T10:00:00.123456Z",
		"2024-02-29T00:00:00Z":           "2024-02-29T00:00:00Z",
		"1969-12-31T23:59:59.5Z":         "1969-12-31T23:59:59.5Z",
		"0001-01-01T00:00:00Z":           "0001-01-01T00:00:00Z",
	} {
		got, ok := ParseTime([]byte(s))
		w, _ := time.Parse(time.RFC3339Nano, want)
		if !ok || got != w.UnixMicro() {
			t.Errorf("ParseTime(%s) = %d %v, want %d", s, got, ok, w.UnixMicro())
		}
	}
}

func TestEscapesDecodeLikeEncodingJSON(t *testing.T) {
	for _, v := range []string{`u\u0034\u0032`, `a\"b\\c\/d`, `\ud83d\ude00x`, `\ud83d`, `\ude00\ud83d`, `tab\there`, `\u00e4`} {
		line := `{"id":"x","product":"facebook","author_id":"` + v + `","created_at":"2025-04-02T10:00:00Z","mentions":["` + v + `"]}`
		it, why := parse(t, line)
		var ref struct {
			AuthorID string   `json:"author_id"`
			Mentions []string `json:"mentions"`
		}
		if err := json.Unmarshal([]byte(line), &ref); err != nil {
			t.Fatal(err)
		}
		if why != "" || string(it.AuthorID) != ref.AuthorID || string(it.Mentions[0]) != ref.Mentions[0] {
			t.Errorf("%s: got %q / %q (%s), encoding/json %q", v, it.AuthorID, it.Mentions, why, ref.AuthorID)
		}
	}
}

// FuzzParse checks the scanner against encoding/json: whatever we call
// well-formed must be a JSON object to encoding/json with the same field
// values; and we never panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"id":"a","product":"facebook","author_id":"u\u0034","created_at":"2025-04-02T10:00:00+01:00","tags":null}`))
	f.Add([]byte(`{"id":"\ud83d\ude00","product":"x","author_id":"y","created_at":"2025-04-02t10:00:00.5z"}`))
	f.Add([]byte(`{"a":[1,2,{"b":-0.5e10}],"id":"1"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return
		}
		var p Parser
		p.WantText = true
		var it eligibility.Item
		why := p.Parse(line, &it)
		var ref map[string]json.RawMessage
		refErr := json.Unmarshal(line, &ref)
		if why == "" {
			if refErr != nil {
				t.Fatalf("we accept %q, encoding/json refuses: %v", line, refErr)
			}
			var id, author string
			json.Unmarshal(ref["id"], &id)
			json.Unmarshal(ref["author_id"], &author)
			if id != string(it.ID) || author != string(it.AuthorID) {
				t.Fatalf("%q: id %q/%q author %q/%q", line, it.ID, id, it.AuthorID, author)
			}
			return
		}
		// We refuse: for syntax reasons encoding/json must agree, except
		// where we are deliberately stricter (UTF-8, duplicates, depth).
		if why == WhyInvalidJSON && refErr == nil && utf8Valid(line) {
			var v any
			if json.Unmarshal(line, &v) == nil {
				if _, isObj := v.(map[string]any); isObj {
					t.Fatalf("we call %q invalid JSON, encoding/json parses it", line)
				}
			}
		}
	})
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// ValidUTF8 decides exactly as unicode/utf8.Valid: a record the filter
// calls valid or not must not depend on the CPU's vector instructions.
func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "ascii only", "Grüße 😂", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "ab\xe2\x82", strings.Repeat("ä", 100) + "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := ValidUTF8(b), utf8.Valid(b); got != want {
			t.Fatalf("ValidUTF8(%q) = %v, unicode/utf8 says %v", b, got, want)
		}
	})
}

// special finds exactly what a byte-by-byte search finds, wherever the
// line ends and whatever bytes sit beside a stop byte (the word-at-a-time
// check must not be fooled by UTF-8, by 0x20 or 0x7f, or by a borrow).
func TestSpecialFindsTheFirstStopByte(t *testing.T) {
	naive := func(b []byte, i int) int {
		for ; i < len(b); i++ {
			if b[i] == '"' || b[i] == '\\' || b[i] < 0x20 {
				return i
			}
		}
		return i
	}
	alphabet := []byte{'a', ' ', '!', '#', '[', ']', 0x1f, 0x00, 0x01, 0x7f, 0x80, 0xc3, 0xa4, 0xff, 0x21, 0x23, 0x5b, 0x5d, 0x5c, '"', 0xa2, 0xdc}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, rng.IntN(80))
		for j := range b {
			if rng.IntN(6) == 0 {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[j] = 'a' + byte(rng.IntN(26))
			}
		}
		i := 0
		if len(b) > 0 {
			i = rng.IntN(len(b) + 1)
		}
		if got, want := special(b, i), naive(b, i); got != want {
			t.Fatalf("special(%q, %d) = %d, want %d", b, i, got, want)
		}
	}
}
