package snapshot_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// buildFromFile exports the fixture store's eligibility to a file and runs
// Build over that file alone, as a build elsewhere would decide.
func buildFromFile(t *testing.T) (f *fixture.Fixture, dir, elig string, o snapshot.Options, ref *snapshot.Result) {
	t.Helper()
	f, dir = env(t, "")
	snap, err := snapshot.BuildEligibility(ctx, f.DB)
	if err != nil {
		t.Fatal(err)
	}
	elig = filepath.Join(t.TempDir(), "eligibility.snap")
	if _, err := eligibility.WriteFile(snap, elig); err != nil {
		t.Fatal(err)
	}
	o = options(f, dir)
	o.DB, o.EligibilityFile = nil, elig
	if ref, err = snapshot.Build(ctx, o); err != nil {
		t.Fatal(err)
	}
	return f, dir, elig, o, ref
}

// A build done elsewhere (the Beam pipeline) writes Build's manifest, and
// registering it checks the files and the ledger as Build does.
func TestExternalBuildAndRegister(t *testing.T) {
	f, dir, elig, o, ref := buildFromFile(t)
	snap, sum, err := eligibility.ReadFile(elig)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.PrepareExternal(pol, snap, elig, sum, f.Clock.Now().Add(time.Hour), f.Clock.Now, false); !errors.As(err, new(snapshot.UsageError)) {
		t.Fatalf("as-of in the future: %v", err)
	}
	ext, err := snapshot.PrepareExternal(pol, snap, elig, sum, time.Time{}, f.Clock.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	r := ref.Filter
	m, err := ext.Manifest(r.Inputs, []filter.FileInfo{r.Output}, &filter.ManifestFile{FileInfo: r.Lineage, Accounts: r.Accounts}, &r.Counts, "test", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	json.Unmarshal(read(t, o.Manifest), &a)
	json.Unmarshal(body, &b)
	for _, k := range []string{"snapshot_id", "duration_seconds"} {
		delete(a, k)
		delete(b, k)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) || !bytes.Contains(ja, []byte(`"counts"`)) {
		t.Fatalf("manifests differ:\nBuild    %s\nExternal %s", ja, jb)
	}

	// Register it, as `notrain snapshot register` does.
	man := filepath.Join(dir, "external.json")
	os.WriteFile(man, body, 0o644)
	sign := func(sum [32]byte) ([]byte, error) { return []byte("signed\n"), nil }
	ro := snapshot.RegisterOptions{Manifest: man, DB: f.DB, Now: f.Clock.Now, SignManifest: sign}
	res, err := snapshot.Register(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.DB.SnapshotAccounts(ctx, m.SnapshotID)
	if err != nil || len(rows) != r.Accounts || res.Entry.Seq == 0 {
		t.Fatalf("registered %d accounts (want %d), entry %d: %v", len(rows), r.Accounts, res.Entry.Seq, err)
	}
	if string(read(t, man+".sig")) != "signed\n" {
		t.Fatal("no signature")
	}
	os.Remove(man + ".sig")
	if _, err := snapshot.Register(ctx, ro); err == nil || !strings.Contains(err.Error(), "registered already") {
		t.Fatalf("second registration: %v", err)
	}

	// A damaged output is refused, and nothing is signed.
	m.SnapshotID = "snap_other"
	body, _ = m.Encode()
	os.WriteFile(man, body, 0o644)
	data := t.TempDir()
	out := read(t, r.Output.Path)
	out[0] ^= 1
	os.WriteFile(filepath.Join(data, filepath.Base(r.Output.Path)), out, 0o644)
	os.WriteFile(filepath.Join(data, filepath.Base(r.Lineage.Path)), read(t, r.Lineage.Path), 0o644)
	ro.Data = data
	if _, err := snapshot.Register(ctx, ro); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("damaged output: %v", err)
	}
	if _, err := os.Stat(man + ".sig"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused registration left a signature")
	}
}
