package eligibility

import (
	"bytes"
	"errors"
	"testing"
)

func TestSnapshotFileRoundTrip(t *testing.T) {
	src := directory()
	src.consents = []Grant{{EmailHash: "h-ben", Interval: Interval{From: 5}}}
	snap, err := Build(src, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum, err := snap.Write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	back, sum2, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil || sum2 != sum {
		t.Fatalf("Read: %v (hash %s vs %s)", err, sum2, sum)
	}
	if back.Stats != snap.Stats || back.Head != snap.Head || back.Len() != snap.Len() {
		t.Fatalf("stats %+v vs %+v", back.Stats, snap.Stats)
	}
	// Same decisions from the file as from the original, for every rule case.
	pol := ""
	a, b := engine(t, src, pol, asOf), engineFor(t, back, pol, asOf)
	for _, author := range []string{"anna", "ben", "teen", "nobirth", "obj", "wd", "ghost", "nobody", "twice"} {
		for _, c := range []string{"2020-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-05-15T00:00:00Z"} {
			it := item(author, c)
			it.Mentions = bs("obj", "ghost")
			if x, y := a.Decide(it), b.Decide(it); x.Reason != y.Reason {
				t.Fatalf("%s at %s: %s from the store, %s from the file", author, c, x.Reason, y.Reason)
			}
		}
	}
}

func engineFor(t *testing.T, snap *Snapshot, pol, at string) *Engine {
	t.Helper()
	e := engine(t, &memSource{}, pol, at)
	return NewEngine(e.pol, snap, ts(at))
}

func TestSnapshotFileRefusesDamage(t *testing.T) {
	snap, err := Build(directory(), 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := snap.Write(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for i := 0; i < len(good); i += max(1, len(good)/40) {
		bad := bytes.Clone(good)
		bad[i] ^= 0x20
		if _, _, err := Read(bytes.NewReader(bad)); err == nil {
			t.Fatalf("a flipped byte at %d of %d was not noticed", i, len(good))
		}
	}
	if _, _, err := Read(bytes.NewReader(good[:len(good)/2])); err == nil {
		t.Fatal("a truncated file was accepted")
	}
	if _, _, err := Read(bytes.NewReader([]byte("not a snapshot"))); err == nil || !errors.Is(err, ErrCorrupt) && err == nil {
		t.Fatal("garbage accepted")
	}
}
