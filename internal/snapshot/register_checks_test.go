package snapshot_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/snapshot"
	"github.com/notrain/notrain/internal/testutil/fixture"
)

// externalManifest builds a reference snapshot with Build and returns an
// External manifest over its outputs, as the Beam pipeline writes one.
func externalManifest(t *testing.T) (f *fixture.Fixture, dir string, m *filter.Manifest, r *filter.Result) {
	t.Helper()
	f, dir, elig, _, ref := buildFromFile(t)
	s, sum, err := eligibility.ReadFile(elig)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := policy.Default()
	ext, err := snapshot.PrepareExternal(pol, s, elig, sum, time.Time{}, f.Clock.Now, false)
	if err != nil {
		t.Fatal(err)
	}
	r = ref.Filter
	m, err = ext.Manifest(r.Inputs, []filter.FileInfo{r.Output}, &filter.ManifestFile{FileInfo: r.Lineage, Accounts: r.Accounts}, &r.Counts, "test", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, dir, m, r
}

// An as-of in the future is refused, as Build refuses it: objections
// arriving until then would be claimed as honoured.
func TestRegisterRefusesFutureAsOf(t *testing.T) {
	f, dir, m, _ := externalManifest(t)
	m.AsOf = f.Clock.Now().Add(240 * time.Hour).UTC().Format(time.RFC3339Nano)
	body, _ := m.Encode()
	man := filepath.Join(dir, "future.json")
	os.WriteFile(man, body, 0o644)
	if _, err := snapshot.Register(ctx, snapshot.RegisterOptions{Manifest: man, DB: f.DB, Now: f.Clock.Now}); err == nil {
		t.Fatalf("a manifest as of %s (now %s) was registered", m.AsOf, f.Clock.Now().UTC().Format(time.RFC3339))
	}
}

// A sidecar naming one account twice, on lines apart, is refused: "my
// data" would show one of its two counts.
func TestRegisterRefusesAccountListedTwice(t *testing.T) {
	f, dir, m, r := externalManifest(t)
	lin, err := os.ReadFile(r.Lineage.Path)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(lin)
	if len(lines) < 2 {
		t.Fatalf("the fixture's sidecar has %d lines; the test needs two", len(lines))
	}
	// An account with n >= 2 items becomes two lines, 1 item in its place
	// and n-1 at the end (after higher keys: not adjacent); the sum of
	// items, which register compares with the counts, stays the same.
	var dup []byte
	var tail []byte
	done := false
	for _, l := range lines {
		var e struct {
			Product   string `json:"product"`
			AccountID string `json:"account_id"`
			Items     int64  `json:"items"`
		}
		if !done && json.Unmarshal(l, &e) == nil && e.Items >= 2 {
			pq, _ := json.Marshal(e.Product)
			aq, _ := json.Marshal(e.AccountID)
			dup = append(dup, fmt.Sprintf(`{"product":%s,"account_id":%s,"items":1}`+"\n", pq, aq)...)
			tail = []byte(fmt.Sprintf(`{"product":%s,"account_id":%s,"items":%d}`+"\n", pq, aq, e.Items-1))
			done = true
			continue
		}
		dup = append(dup, l...)
	}
	if !done {
		t.Fatal("the fixture has no account with two kept items; the test needs one")
	}
	dup = append(dup, tail...)
	path := filepath.Join(dir, "dup.lineage.jsonl")
	os.WriteFile(path, dup, 0o644)
	sum := sha256.Sum256(dup)
	m.Lineage.FileInfo = filter.FileInfo{Path: path, Format: m.Lineage.Format, Bytes: int64(len(dup)), SHA256: hex.EncodeToString(sum[:])}
	m.Lineage.Accounts++
	body, _ := m.Encode()
	man := filepath.Join(dir, "dup.json")
	os.WriteFile(man, body, 0o644)
	res, err := snapshot.Register(ctx, snapshot.RegisterOptions{Manifest: man, DB: f.DB, Now: f.Clock.Now})
	if err == nil {
		rows, _ := f.DB.SnapshotAccounts(ctx, m.SnapshotID)
		t.Fatalf("a sidecar listing an account twice was registered (entry %d); stored lineage %v", res.Entry.Seq, rows)
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i < len(b) {
			i++
		}
		out = append(out, b[:i])
		b = b[i:]
	}
	return out
}

// The counts the ledger entry and the signature vouch for must be the
// outputs' records: a manifest claiming more kept (and read) records than
// its outputs hold is refused.
func TestRegisterRefusesCountsTheOutputsDoNotHold(t *testing.T) {
	f, dir, m, _ := externalManifest(t)
	m.Counts.Eligible += 1000
	m.Counts.Read += 1000
	body, _ := m.Encode()
	man := filepath.Join(dir, "inflated.json")
	os.WriteFile(man, body, 0o644)
	if res, err := snapshot.Register(ctx, snapshot.RegisterOptions{Manifest: man, DB: f.DB, Now: f.Clock.Now}); err == nil {
		t.Fatalf("registered (entry %d) with %d kept, the output holds %d", res.Entry.Seq, m.Counts.Eligible, m.Counts.Eligible-1000)
	}
}
