package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func build(t *testing.T, n int) []Entry {
	t.Helper()
	head := Head{Hash: Genesis}
	var out []Entry
	for i := range n {
		body, err := Body(map[string]any{"i": i, "z": "<&>"})
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{At: int64(i) * 1000, Kind: "test", Body: body}
		if err := Next(head, &e); err != nil {
			t.Fatal(err)
		}
		head = Head{Seq: e.Seq, Hash: e.Hash}
		out = append(out, e)
	}
	return out
}

func verify(entries []Entry, recorded Head, cp *Head) (Head, error) {
	v := NewVerifier(cp)
	for _, e := range entries {
		if err := v.Add(e); err != nil {
			return Head{}, err
		}
	}
	return v.Finish(recorded)
}

func TestBodyIsCanonical(t *testing.T) {
	b, err := Body(map[string]any{"b": 1, "a": "<x>"})
	if err != nil || string(b) != `{"a":"<x>","b":1}` {
		t.Fatalf("Body = %s, %v", b, err)
	}
}

func TestVerifyChain(t *testing.T) {
	es := build(t, 5)
	head := Head{Seq: 5, Hash: es[4].Hash}
	if got, err := verify(es, head, nil); err != nil || got != head {
		t.Fatalf("verify = %+v, %v", got, err)
	}
	if _, err := verify(nil, Head{Hash: Genesis}, nil); err != nil {
		t.Fatalf("empty chain: %v", err)
	}
	// A checkpoint beyond the end means entries were cut off.
	cp := Head{Seq: 7, Hash: es[4].Hash}
	var bad *BadEntryError
	if _, err := verify(es, head, &cp); !errors.As(err, &bad) || bad.Seq != 7 {
		t.Fatalf("checkpoint past the end: %v", err)
	}
	// A checkpoint whose hash differs from the chain's entry.
	cp = Head{Seq: 3, Hash: es[4].Hash}
	if _, err := verify(es, head, &cp); !errors.As(err, &bad) || bad.Seq != 3 {
		t.Fatalf("checkpoint mismatch: %v", err)
	}
}

func TestCheckpointFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp")
	if h, err := ReadCheckpoint(path); err != nil || h != nil {
		t.Fatalf("missing checkpoint = %v, %v", h, err)
	}
	want := Head{Seq: 9, Hash: Genesis}
	if err := WriteCheckpoint(path, want); err != nil {
		t.Fatal(err)
	}
	if h, err := ReadCheckpoint(path); err != nil || *h != want {
		t.Fatalf("read back %v, %v", h, err)
	}
	// A damaged checkpoint is an error, never "no checkpoint".
	os.WriteFile(path, []byte(`{"seq":9,"hash":"short"}`), 0o644)
	if _, err := ReadCheckpoint(path); err == nil {
		t.Fatal("damaged checkpoint accepted")
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	e := Entry{Seq: 7, At: 1_700_000_000_000_000, Kind: KindObjectionAccepted, Body: []byte(`{"reference":"NT-1"}`)}
	if err := Next(Head{Seq: 6, Hash: Genesis}, &e); err != nil {
		t.Fatal(err)
	}
	c, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCanonical(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != e.Seq || got.At != e.At || got.Kind != e.Kind || string(got.Body) != string(e.Body) || got.PrevHash != e.PrevHash || got.Hash != e.Hash {
		t.Fatalf("round trip: %+v, want %+v", got, e)
	}
	for _, cut := range []int{0, 10, len(c) - 1} {
		if _, err := ParseCanonical(c[:cut]); err == nil {
			t.Errorf("a canonical entry cut to %d bytes parsed", cut)
		}
	}
}

func FuzzParseCanonical(f *testing.F) {
	e := Entry{Seq: 1, At: 5, Kind: "k", Body: []byte(`{}`)}
	_ = Next(Head{Hash: Genesis}, &e)
	c, _ := e.Canonical()
	f.Add(c)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseCanonical(b)
		if err != nil {
			return
		}
		again, err := e.Canonical()
		if err != nil || string(again) != string(b) {
			t.Fatalf("%x parsed but does not encode back", b)
		}
	})
}
