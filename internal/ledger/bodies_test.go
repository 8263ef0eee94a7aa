package ledger_test

import (
	"testing"

	"github.com/notrain/notrain/internal/ledger"
)

// Typed bodies encode exactly as the maps they replaced did (sorted keys,
// no HTML escaping), so entries written before and after hash alike.
func TestTypedBodiesEncodeCanonically(t *testing.T) {
	for _, tc := range []struct {
		typed any
		old   map[string]any
	}{
		{ledger.ObjectionAccepted{Reference: "NT-1", Subject: "s<&>", Accounts: []string{"a", "b"}, Scope: "all", Channel: "web",
			ReceivedAt: "2026-05-12T10:00:00Z", EffectiveAt: "2026-05-12T10:00:30Z"},
			map[string]any{"reference": "NT-1", "subject": "s<&>", "accounts": []string{"a", "b"}, "scope": "all", "channel": "web",
				"received_at": "2026-05-12T10:00:00Z", "effective_at": "2026-05-12T10:00:30Z"}},
		{ledger.ObjectionWithdrawn{Reference: "NTW-1", Subject: "s", Objections: []string{}, Channel: "api", WithdrawnAt: "2026-05-12T10:00:00Z"},
			map[string]any{"reference": "NTW-1", "subject": "s", "objections": []string{}, "channel": "api", "withdrawn_at": "2026-05-12T10:00:00Z"}},
		{map[string]any{"records": 404, "big": int64(1) << 60, "nested": map[string]any{"z": 1, "a": 2.5}}, nil},
	} {
		got, err := ledger.Body(tc.typed)
		if err != nil {
			t.Fatal(err)
		}
		if tc.old == nil {
			if string(got) != `{"big":1152921504606846976,"nested":{"a":2.5,"z":1},"records":404}` {
				t.Fatalf("map body: %s", got)
			}
			continue
		}
		want, err := ledger.Body(tc.old)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("typed body\n%s\nwant\n%s", got, want)
		}
	}
}
