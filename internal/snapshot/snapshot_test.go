package snapshot_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/dbtest"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

var ctx = context.Background()

const content = `{"id":"c1","product":"facebook","author_id":"u1","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z","text":"anna"}
{"id":"c2","product":"instagram","author_id":"ig1","kind":"photo","visibility":"public","created_at":"2025-04-02T10:00:00Z"}
{"id":"c3","product":"facebook","author_id":"u2","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z","mentions":["u1"]}
{"id":"c4","product":"facebook","author_id":"u2","kind":"post","visibility":"public","created_at":"2025-04-02T10:00:00Z"}
{"id":"c5","product":"facebook","author_id":"u3","kind":"comment","visibility":"public","created_at":"2025-04-02T10:00:00Z"}
{"id":"c6","product":"facebook","author_id":"u2","kind":"message","visibility":"private","created_at":"2025-04-02T10:00:00Z"}
not json
`

// env is a store holding the fixture accounts and a content export.
func env(t *testing.T, dsn string) (*fixture.Fixture, string) {
	t.Helper()
	f := fixture.New(t, fixture.Options{DSN: dsn})
	f.Import(t, fixture.Accounts)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "content.jsonl"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f, dir
}

func options(f *fixture.Fixture, dir string) snapshot.Options {
	return snapshot.Options{
		Inputs: []string{filepath.Join(dir, "content.jsonl")}, Output: filepath.Join(dir, "out.jsonl"),
		Manifest: filepath.Join(dir, "manifest.json"), DB: f.DB, Now: f.Clock.Now, Version: "test",
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noOutputs fails if any output of a build exists in dir.
func noOutputs(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "content.jsonl" {
			t.Errorf("a failed build left %s behind", e.Name())
		}
	}
}

func TestBuildStoresLineage(t *testing.T) { dbtest.Each(t, testBuildStoresLineage) }

func testBuildStoresLineage(t *testing.T, dsn string) {
	f, dir := env(t, dsn)
	res, err := snapshot.Build(ctx, options(f, dir))
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.Seq == 0 || !res.Manifest.Registered {
		t.Fatalf("not registered: %+v", res.Entry)
	}
	rows, err := f.DB.SnapshotAccounts(ctx, res.Manifest.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	// The stored lineage is the sidecar's, line for line.
	var side []string
	for _, r := range rows {
		side = append(side, fmt.Sprintf(`{"product":%q,"account_id":%q,"items":%d}`, r.Product, r.AccountID, r.Items))
	}
	if got, want := strings.Join(side, "\n")+"\n", string(read(t, filepath.Join(dir, "out.lineage.jsonl"))); got != want {
		t.Fatalf("stored lineage\n%s\nsidecar\n%s", got, want)
	}
	if len(rows) != res.Filter.Accounts || len(rows) == 0 {
		t.Fatalf("%d rows stored, %d accounts in the sidecar", len(rows), res.Filter.Accounts)
	}
	// Unset hooks: no checkpoint in the manifest, no signature file.
	if bytes.Contains(read(t, filepath.Join(dir, "manifest.json")), []byte(`"checkpoint"`)) {
		t.Error("manifest names a checkpoint without the hook")
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json.sig")); !errors.Is(err, os.ErrNotExist) || res.Signature != "" {
		t.Errorf("signature without the hook: %v %q", err, res.Signature)
	}
}

func TestBuildHooks(t *testing.T) {
	f, dir := env(t, "")
	o := options(f, dir)
	var askedSize int64 = -1
	o.Checkpoint = func(_ context.Context, size int64) (string, string, error) {
		askedSize = size
		return "notrain.test/notrain", "cm9vdA==", nil
	}
	o.SignManifest = func(sum [32]byte) ([]byte, error) { return []byte("signed " + hex.EncodeToString(sum[:]) + "\n"), nil }
	res, err := snapshot.Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	body := read(t, o.Manifest)
	var m struct {
		LedgerHead struct{ Seq int64 } `json:"ledger_head"`
		Checkpoint map[string]any      `json:"checkpoint"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if askedSize != m.LedgerHead.Seq || askedSize <= 0 {
		t.Fatalf("hook asked for size %d, eligibility head %d", askedSize, m.LedgerHead.Seq)
	}
	want := map[string]any{"origin": "notrain.test/notrain", "size": float64(askedSize), "root": "cm9vdA=="}
	if fmt.Sprint(m.Checkpoint) != fmt.Sprint(want) {
		t.Fatalf("checkpoint %v, want %v", m.Checkpoint, want)
	}
	sum := sha256.Sum256(body)
	if got := string(read(t, o.Manifest+".sig")); got != "signed "+hex.EncodeToString(sum[:])+"\n" || res.Signature != o.Manifest+".sig" {
		t.Fatalf("signature %q (%s) is not over the manifest's bytes", got, res.Signature)
	}
}

// A hook that fails leaves nothing behind: no file, no registration.
func TestBuildFailingHooks(t *testing.T) {
	for name, set := range map[string]func(*snapshot.Options){
		"checkpoint": func(o *snapshot.Options) {
			o.Checkpoint = func(context.Context, int64) (string, string, error) { return "", "", errors.New("log unavailable") }
		},
		"sign": func(o *snapshot.Options) {
			o.SignManifest = func([32]byte) ([]byte, error) { return nil, errors.New("key unavailable") }
		},
	} {
		t.Run(name, func(t *testing.T) {
			f, dir := env(t, "")
			o := options(f, dir)
			set(&o)
			if _, err := snapshot.Build(ctx, o); err == nil {
				t.Fatal("the build succeeded")
			}
			noOutputs(t, dir)
			if n := snapshotCount(t, f.Path); n != 0 {
				t.Fatalf("%d snapshots registered", n)
			}
		})
	}
}

func snapshotCount(t *testing.T, dsn string) int {
	t.Helper()
	var n int
	raw := dbtest.Raw(t, dsn)
	if err := raw.QueryRow("SELECT (SELECT COUNT(*) FROM snapshots) + (SELECT COUNT(*) FROM snapshot_lineage)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// When registering fails, the installed outputs are taken back and no
// lineage row is left.
func TestBuildUndoesOutputsWhenRegistrationFails(t *testing.T) {
	dbtest.Each(t, testBuildUndoesOutputsWhenRegistrationFails)
}

func testBuildUndoesOutputsWhenRegistrationFails(t *testing.T, dsn string) {
	f, dir := env(t, dsn)
	o := options(f, dir)
	// The store goes away after every check has passed, while the
	// records are filtered.
	o.Checkpoint = func(context.Context, int64) (string, string, error) { return "o", "cm9vdA==", f.DB.Close() }
	_, err := snapshot.Build(ctx, o)
	if !errors.Is(err, store.ErrClosed) {
		t.Fatalf("err = %v, want the closed store's", err)
	}
	noOutputs(t, dir)
	if n := snapshotCount(t, f.Path); n != 0 {
		t.Fatalf("%d snapshot and lineage rows left", n)
	}
}

// Rebuilding from the same inputs, eligibility file and as-of time gives
// byte-identical output and lineage and the same hashes in the manifest;
// the manifests differ only in the snapshot id (every build is its own
// snapshot) and the duration. With the same clock even created_at agrees.
func TestRebuildIsByteIdentical(t *testing.T) {
	f, dir := env(t, "")
	snap, err := snapshot.BuildEligibility(ctx, f.DB)
	if err != nil {
		t.Fatal(err)
	}
	elig := filepath.Join(t.TempDir(), "eligibility.snap")
	if _, err := eligibility.WriteFile(snap, elig); err != nil {
		t.Fatal(err)
	}
	build := func(keep string) map[string][]byte {
		o := options(f, dir)
		o.DB = nil
		o.EligibilityFile = elig
		o.AsOf = fixture.Start.Add(-time.Minute)
		o.Rejects = filepath.Join(dir, "rejects.jsonl")
		if _, err := snapshot.Build(ctx, o); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, name := range []string{"out.jsonl", "out.lineage.jsonl", "rejects.jsonl", "manifest.json"} {
			files[name] = read(t, filepath.Join(dir, name))
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(keep, name)); err != nil {
				t.Fatal(err)
			}
		}
		return files
	}
	a, b := build(t.TempDir()), build(t.TempDir())
	for _, name := range []string{"out.jsonl", "out.lineage.jsonl", "rejects.jsonl"} {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between the builds", name)
		}
	}
	var ma, mb map[string]any
	if err := json.Unmarshal(a["manifest.json"], &ma); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b["manifest.json"], &mb); err != nil {
		t.Fatal(err)
	}
	if ma["snapshot_id"] == mb["snapshot_id"] {
		t.Error("two builds share a snapshot id")
	}
	for _, k := range []string{"snapshot_id", "duration_seconds"} {
		delete(ma, k)
		delete(mb, k)
	}
	ja, _ := json.Marshal(ma)
	jb, _ := json.Marshal(mb)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("manifests differ beyond snapshot_id and duration_seconds:\n%s\n%s", ja, jb)
	}
	if !bytes.Contains(ja, []byte(`"sha256"`)) || len(a["out.jsonl"]) == 0 {
		t.Fatal("the builds wrote nothing to compare")
	}
}
