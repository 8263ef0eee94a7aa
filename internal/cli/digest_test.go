package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notrain/notrain/internal/digest"
)

// A policy that chooses BLAKE3 gets a manifest that names it and lists
// every file by its BLAKE3 digest, no SHA-256 beside it; the ledger entry
// names the output's digest under its algorithm; manifest verify checks the
// files with it, and a reproduction with the same policy matches.
func TestFilterWithBLAKE3Digest(t *testing.T) {
	dir, db := filterEnv(t)
	pol := writeFile(t, filepath.Join(dir, "policy.yaml"), "digest: blake3\n")
	if code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--policy", pol)...); code != 0 {
		t.Fatal(stderr)
	}
	mf := filepath.Join(dir, "manifest.json")
	body, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	type file struct {
		Path   string
		Bytes  int64
		SHA256 *string `json:"sha256"`
		BLAKE3 string  `json:"blake3"`
	}
	var m struct {
		Digest  string `json:"digest"`
		Inputs  []file `json:"inputs"`
		Outputs []file `json:"outputs"`
		Lineage file   `json:"lineage"`
		Policy  struct {
			Effective struct{ Digest string } `json:"effective"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Digest != "blake3" || m.Policy.Effective.Digest != "blake3" {
		t.Fatalf("digest %q, policy's %q", m.Digest, m.Policy.Effective.Digest)
	}
	files := append(append(m.Inputs, m.Outputs...), m.Lineage)
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if f.SHA256 != nil || f.BLAKE3 != digest.BLAKE3.Sum(b) || f.Bytes != int64(len(b)) {
			t.Errorf("%s: listed as %+v; its BLAKE3 is %s", f.Path, f, digest.BLAKE3.Sum(b))
		}
	}
	// The reference implementation agrees (b3sum, from the BLAKE3 team's
	// Rust crate; CI installs it and NOTRAIN_REQUIRE_B3SUM=1 makes its
	// absence a failure).
	if b3sum, err := exec.LookPath("b3sum"); err == nil {
		for _, f := range files {
			got, err := exec.Command(b3sum, "--no-names", f.Path).Output()
			if err != nil || strings.TrimSpace(string(got)) != f.BLAKE3 {
				t.Errorf("b3sum %s: %q, %v; the manifest says %s", f.Path, got, err, f.BLAKE3)
			}
		}
	} else if os.Getenv("NOTRAIN_REQUIRE_B3SUM") == "1" {
		t.Fatal("b3sum is required (NOTRAIN_REQUIRE_B3SUM=1) but not installed (apt-get install b3sum)")
	} else {
		t.Log("b3sum not installed: the digests are not checked against the reference implementation (apt-get install b3sum)")
	}
	var entry string
	if err := rawDB(t, db).QueryRow("SELECT body FROM ledger WHERE kind = 'snapshot.registered' ORDER BY seq DESC LIMIT 1").Scan(&entry); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(m.Outputs[0].Path)
	if !strings.Contains(entry, `"output_blake3":"`+digest.BLAKE3.Sum(out)+`"`) || strings.Contains(entry, "output_sha256") {
		t.Fatalf("ledger entry: %s", entry)
	}

	if code, out, stderr := run(t, dir, nil, "manifest", "verify", mf, "--db", db, "--data", dir); code != 0 || !strings.Contains(out, "files match") {
		t.Fatalf("manifest verify: exit %d\n%s%s", code, out, stderr)
	}
	outPath := filepath.Join(dir, "out.jsonl")
	writeFile(t, outPath, strings.Replace(string(out), "c", "C", 1))
	if code, _, stderr := run(t, dir, nil, "manifest", "verify", mf, "--db", db, "--data", dir); code == 0 || !strings.Contains(stderr, "blake3") {
		t.Fatalf("a changed output: exit %d, %s", code, stderr)
	}
	writeFile(t, outPath, string(out))

	registered := filepath.Join(t.TempDir(), "registered.json")
	if err := os.Rename(mf, registered); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := run(t, dir, nil, filterArgs(dir, db, "--reproduce", registered, "--policy", pol)...); code != 0 || !strings.Contains(out, "matches its manifest") {
		t.Fatalf("reproduce: exit %d\n%s%s", code, out, stderr)
	}
}

// A misspelt algorithm is refused before anything is read or written.
func TestFilterRefusesUnknownDigest(t *testing.T) {
	dir, db := filterEnv(t)
	pol := writeFile(t, filepath.Join(dir, "policy.yaml"), "digest: sha-256\n")
	code, _, stderr := run(t, dir, nil, filterArgs(dir, db, "--policy", pol)...)
	if code == 0 || !strings.Contains(stderr, `digest "sha-256": use sha256 or blake3`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err == nil {
		t.Fatal("an output was written")
	}
}

// A manifest filtered far from the store lists its files by BLAKE3;
// snapshot register checks them by it, and refuses a manifest whose files
// are not listed by the digest it names.
func TestSnapshotRegisterWithBLAKE3Digest(t *testing.T) {
	dir, db := filterEnv(t)
	snap := filepath.Join(dir, "snap.bin")
	if code, _, stderr := run(t, dir, nil, "snapshot", "export", "--out", snap, "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	far := t.TempDir()
	writeFile(t, filepath.Join(far, "content.jsonl"), content)
	pol := writeFile(t, filepath.Join(far, "policy.yaml"), "digest: blake3\n")
	man := filepath.Join(far, "manifest.json")
	if code, _, stderr := run(t, far, nil, "filter", "--in", filepath.Join(far, "content.jsonl"), "--out", filepath.Join(far, "out.jsonl"),
		"--manifest", man, "--snapshot", snap, "--policy", pol); code != 0 {
		t.Fatal(stderr)
	}
	body, err := os.ReadFile(man)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, man, strings.Replace(string(body), `"digest": "blake3"`, `"digest": "sha256"`, 1))
	if code, _, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", man, "--db", db); code == 0 || !strings.Contains(stderr, "not listed by its sha256 digest") {
		t.Fatalf("a manifest naming another digest: exit %d, %s", code, stderr)
	}
	writeFile(t, man, string(body))
	out := filepath.Join(far, "out.jsonl")
	kept, _ := os.ReadFile(out)
	writeFile(t, out, strings.Replace(string(kept), "c", "C", 1))
	if code, _, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", man, "--db", db); code == 0 || !strings.Contains(stderr, "blake3") {
		t.Fatalf("a changed output: exit %d, %s", code, stderr)
	}
	writeFile(t, out, string(kept))
	if code, out, stderr := run(t, dir, nil, "snapshot", "register", "--manifest", man, "--db", db); code != 0 || !strings.Contains(out, "registered as ledger entry") {
		t.Fatalf("register: exit %d\n%s%s", code, out, stderr)
	}
}
