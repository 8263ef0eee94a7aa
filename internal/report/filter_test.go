package report_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/cli"
	"github.com/notrain/notrain/internal/review"
)

// An approved report's items leave the next snapshot: `notrain filter`
// counts both as item_excluded, and keeps the item nobody reported.
func TestApprovedItemsLeaveTheNextSnapshot(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	out := e.file(t, "nobody@example.org", "https://www.facebook.example/photo/1001", "fb:1002")
	if _, err := e.queue.Decide(ctx, out.Reference, review.Decision{Decision: review.Approve, Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "content.jsonl")
	records := ""
	for _, id := range []string{"fb:1001", "fb:1002", "fb:1003"} {
		records += `{"id":"` + id + `","product":"facebook","author_id":"u3","kind":"photo","visibility":"public","created_at":"2025-04-02T10:00:00Z"}` + "\n"
	}
	if err := os.WriteFile(in, []byte(records), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := cli.Run(ctx, []string{"filter", "--in", in, "--out", filepath.Join(dir, "out.jsonl"), "--manifest", filepath.Join(dir, "manifest.json"),
		"--db", e.Path, "--secret", strings.Repeat("42", 32), "--log-key", e.LogKeyPath, "--progress", "never"},
		cli.Env{Stdout: &stdout, Stderr: &stderr, LookupEnv: func(string) (string, bool) { return "", false }})
	if code != 0 {
		t.Fatalf("filter exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Counts struct {
			Read, Eligible int64
			Excluded       map[string]int64
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Counts.Read != 3 || m.Counts.Eligible != 1 || m.Counts.Excluded["item_excluded"] != 2 {
		t.Fatalf("counts: %+v", m.Counts)
	}
	kept, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kept), `"fb:1003"`) || strings.Contains(string(kept), `"fb:1001"`) || strings.Contains(string(kept), `"fb:1002"`) {
		t.Fatalf("kept: %s", kept)
	}
}
