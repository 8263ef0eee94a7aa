package account

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := ParseLine(line)
		if err != nil {
			return
		}
		if r.AccountID == "" || r.Product == "" {
			t.Fatalf("accepted %q without id or product", line)
		}
		// An accepted line must also pass the file parser (one-line file).
		if _, err := Parse(bytes.NewReader(append(bytes.TrimSpace(line), '\n')), keys(t)); err != nil && !strings.Contains(string(line), "\n") {
			t.Fatalf("ParseLine accepted %q, Parse refused it: %v", line, err)
		}
	})
}
