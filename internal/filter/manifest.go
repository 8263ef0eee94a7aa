package filter

import (
	"encoding/json"
	"fmt"

	"github.com/notrain/notrain/internal/ledger"
)

// Manifest proves what a snapshot is: which inputs, which policy, which
// objections (the ledger head they were read at), and what was kept.
type Manifest struct {
	SnapshotID      string         `json:"snapshot_id"`
	CreatedAt       string         `json:"created_at"`
	AsOf            string         `json:"as_of"`
	PolicySHA256    string         `json:"policy_sha256"`
	Policy          ManifestPolicy `json:"policy"`
	LedgerHead      ledger.Head    `json:"ledger_head"`
	LedgerVerified  ledger.Head    `json:"ledger_verified"`
	Eligibility     any            `json:"eligibility"`
	Inputs          []FileInfo     `json:"inputs"`
	Outputs         []FileInfo     `json:"outputs"`
	Lineage         *ManifestFile  `json:"lineage,omitempty"`
	Rejects         *FileInfo      `json:"rejects,omitempty"`
	Counts          *Counts        `json:"counts"`
	Registered      bool           `json:"registered"`
	Notrain         string         `json:"notrain_version"`
	DurationSeconds float64        `json:"duration_seconds"`
	Extra           map[string]any `json:"extra,omitempty"`
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
