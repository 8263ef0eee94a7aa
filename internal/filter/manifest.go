package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/ledger"
)

// Manifest proves what a snapshot is: which inputs, which policy, which
// objections (the ledger head they were read at), and what was kept.
type Manifest struct {
	SnapshotID   string `json:"snapshot_id"`
	CreatedAt    string `json:"created_at"`
	AsOf         string `json:"as_of"`
	PolicySHA256 string `json:"policy_sha256"`
	// Digest names the hash every file below is listed with (the policy's
	// choice); the manifest's own hash and signature are SHA-256 always.
	Digest         digest.Algorithm `json:"digest"`
	Policy         ManifestPolicy   `json:"policy"`
	LedgerHead     ledger.Head      `json:"ledger_head"`
	LedgerVerified ledger.Head      `json:"ledger_verified"`
	// Checkpoint names the verifiable log's tree at LedgerHead: its size is
	// LedgerHead's seq. Absent when the snapshot was built without the log.
	Checkpoint  *Checkpoint   `json:"checkpoint,omitempty"`
	Eligibility any           `json:"eligibility"`
	Inputs      []FileInfo    `json:"inputs"`
	Outputs     []FileInfo    `json:"outputs"`
	Lineage     *ManifestFile `json:"lineage,omitempty"`
	Rejects     *FileInfo     `json:"rejects,omitempty"`
	Counts      *Counts       `json:"counts"`
	Registered  bool          `json:"registered"`
	// AllowEmptyDirectory records --allow-empty-directory: the run was
	// allowed to use a store whose account directory holds no account.
	AllowEmptyDirectory bool `json:"allow_empty_directory"`
	// Reproduces names the registered snapshot this run re-created for
	// verification (--reproduce); such a run registers nothing.
	Reproduces      string         `json:"reproduces,omitempty"`
	Notrain         string         `json:"notrain_version"`
	DurationSeconds float64        `json:"duration_seconds"`
	Extra           map[string]any `json:"extra,omitempty"`
}

// Checkpoint is a tree of the verifiable log: its origin (the log's name),
// size and root hash (base64, as in a C2SP checkpoint).
type Checkpoint struct {
	Origin string `json:"origin,omitempty"`
	Size   int64  `json:"size"`
	Root   string `json:"root"`
}

// ManifestPolicy names the policy and shows it in full.
type ManifestPolicy struct {
	Source    string `json:"source"`
	Name      string `json:"name"`
	Mode      string `json:"mode"`
	Effective any    `json:"effective"`
}

// ManifestFile is a sidecar file with a count.
type ManifestFile struct {
	FileInfo
	Accounts int `json:"accounts"`
}

// Encode renders the manifest as indented JSON.
func (m *Manifest) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadManifest reads the identifying fields of a manifest written by Encode
// (snapshot id, as-of, policy hash, inputs, outputs, ledger head) and
// returns them with the sha256 of the file.
func ReadManifest(path string) (*Manifest, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("manifest: %w", err)
	}
	var in struct {
		SnapshotID   string      `json:"snapshot_id"`
		AsOf         string      `json:"as_of"`
		PolicySHA256 string      `json:"policy_sha256"`
		LedgerHead   ledger.Head `json:"ledger_head"`
		Inputs       []FileInfo  `json:"inputs"`
		Outputs      []FileInfo  `json:"outputs"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, "", fmt.Errorf("manifest %s: %w", path, err)
	}
	m := Manifest{SnapshotID: in.SnapshotID, AsOf: in.AsOf, PolicySHA256: in.PolicySHA256, LedgerHead: in.LedgerHead, Inputs: in.Inputs, Outputs: in.Outputs}
	if m.SnapshotID == "" || m.AsOf == "" || m.PolicySHA256 == "" || len(m.Outputs) != 1 {
		return nil, "", fmt.Errorf("manifest %s: not a snapshot manifest (snapshot_id, as_of, policy_sha256 or outputs missing)", path)
	}
	sum := sha256.Sum256(b)
	return &m, hex.EncodeToString(sum[:]), nil
}
