// Package manifest signs snapshot manifests with the log key and verifies
// them: the signature, that the checkpoint a manifest names is in the log
// (consistent with the log's current checkpoint), and the hashes of the
// files it lists.
//
// A signature is a detached signed note (C2SP signed-note) in
// manifest.json.sig whose text is
//
//	notrain/manifest/v1
//	<SHA-256 of manifest.json, lower-case hex>
//
// signed by the log's key, so the log's verifier key checks it.
package manifest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/translog"
)

const sigHeader = "notrain/manifest/v1"

// SigText is the text a manifest's signature covers.
func SigText(sum [32]byte) string { return sigHeader + "\n" + hex.EncodeToString(sum[:]) + "\n" }

// Sign returns the detached signature of a manifest whose SHA-256 is sum.
func Sign(k *translog.Key, sum [32]byte) ([]byte, error) { return k.Sign(SigText(sum)) }

// CheckSignature checks sig against the manifest's bytes.
func CheckSignature(manifest, sig []byte, v note.Verifier) error {
	n, err := translog.OpenNote(sig, v)
	if err != nil {
		return fmt.Errorf("manifest signature: not signed by the log key given: %w", err)
	}
	sum := sha256.Sum256(manifest)
	if n.Text != SigText(sum) {
		return errors.New("manifest signature: it signs another manifest (the manifest was changed)")
	}
	return nil
}

// Log is the verifiable log a manifest is checked against: the store, or
// a log read over HTTP.
type Log interface {
	// Current returns the log's latest checkpoint, verified with v.
	Current(ctx context.Context, v note.Verifier) (translog.Checkpoint, error)
	// Consistency proves that the tree of size n contains that of size m.
	Consistency(ctx context.Context, cur translog.Checkpoint, m int64) (tlog.TreeProof, error)
}

// Options say what to verify.
type Options struct {
	Manifest string        // path of manifest.json
	Sig      string        // default Manifest + ".sig"
	Verifier note.Verifier // the log's verifier key
	Log      Log           // nil: do not check the checkpoint against a log
	Data     string        // directory holding the inputs and outputs ("" = do not hash files)
}

// Report is what Verify checked.
type Report struct {
	SnapshotID string
	Checkpoint translog.Checkpoint // the one the manifest names
	Current    translog.Checkpoint // the log's, when Options.Log is set
	Files      int                 // files hashed
}

// fields are the parts of a manifest that verification reads.
type fields struct {
	SnapshotID string `json:"snapshot_id"`
	LedgerHead struct {
		Seq int64 `json:"seq"`
	} `json:"ledger_head"`
	Checkpoint *struct {
		Origin string `json:"origin"`
		Size   int64  `json:"size"`
		Root   string `json:"root"`
	} `json:"checkpoint"`
	Digest  string `json:"digest"`
	Inputs  []file `json:"inputs"`
	Outputs []file `json:"outputs"`
	Lineage *file  `json:"lineage"`
	Rejects *file  `json:"rejects"`
}

// file is a file the manifest lists, with its digest under the algorithm
// the manifest names (SHA-256 when it names none: manifests before the
// choice existed).
type file struct {
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	BLAKE3 string `json:"blake3"`
}

// Verify checks a manifest: its signature; that the checkpoint it names
// is the log's tree at the ledger head it was built at and, with a Log,
// consistent with the log's current checkpoint; with Data, the size and
// digest of every file it lists.
func Verify(ctx context.Context, o Options) (Report, error) {
	var r Report
	b, err := os.ReadFile(o.Manifest)
	if err != nil {
		return r, fmt.Errorf("manifest: %w", err)
	}
	sigPath := o.Sig
	if sigPath == "" {
		sigPath = o.Manifest + ".sig"
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return r, fmt.Errorf("manifest signature: %w", err)
	}
	if err := CheckSignature(b, sig, o.Verifier); err != nil {
		return r, err
	}
	var m fields
	if err := json.Unmarshal(b, &m); err != nil {
		return r, fmt.Errorf("manifest: %w", err)
	}
	r.SnapshotID = m.SnapshotID
	if m.Checkpoint == nil {
		return r, errors.New("manifest: it names no checkpoint of the log")
	}
	root, err := base64.StdEncoding.Strict().DecodeString(m.Checkpoint.Root)
	if err != nil || len(root) != tlog.HashSize {
		return r, errors.New("manifest: its checkpoint root is not a base64 SHA-256 hash")
	}
	r.Checkpoint = translog.Checkpoint{Origin: m.Checkpoint.Origin, Size: m.Checkpoint.Size, Root: tlog.Hash(root)}
	if r.Checkpoint.Origin != o.Verifier.Name() {
		return r, fmt.Errorf("manifest: its checkpoint is of the log %q, the key is for %q", r.Checkpoint.Origin, o.Verifier.Name())
	}
	if r.Checkpoint.Size != m.LedgerHead.Seq {
		return r, fmt.Errorf("manifest: its checkpoint has %d entries, its ledger head is entry %d", r.Checkpoint.Size, m.LedgerHead.Seq)
	}
	if o.Log != nil {
		if r.Current, err = o.Log.Current(ctx, o.Verifier); err != nil {
			return r, err
		}
		proof, err := o.Log.Consistency(ctx, r.Current, r.Checkpoint.Size)
		if err != nil {
			return r, err
		}
		if err := translog.CheckGrowth(r.Checkpoint, r.Current, proof); err != nil {
			return r, fmt.Errorf("manifest: its checkpoint is not in the log: %w", err)
		}
	}
	if o.Data != "" {
		alg, err := digest.Parse(m.Digest)
		if err != nil {
			return r, fmt.Errorf("manifest: %w", err)
		}
		files := append(append([]file{}, m.Inputs...), m.Outputs...)
		for _, f := range []*file{m.Lineage, m.Rejects} {
			if f != nil {
				files = append(files, *f)
			}
		}
		for _, f := range files {
			if err := checkFile(o.Data, f, alg); err != nil {
				return r, err
			}
			r.Files++
		}
	}
	return r, nil
}

// checkFile finds f under dir — by its recorded path when that is
// relative, else by its name — and checks its size and its digest under
// the manifest's algorithm.
func checkFile(dir string, f file, alg digest.Algorithm) error {
	want := f.SHA256
	if alg == digest.BLAKE3 {
		want = f.BLAKE3
	}
	if want == "" {
		return fmt.Errorf("manifest: %s is listed without its %s digest", f.Path, alg)
	}
	p := filepath.Join(dir, filepath.Base(f.Path))
	if !filepath.IsAbs(f.Path) && !strings.HasPrefix(filepath.Clean(f.Path), "..") {
		if _, err := os.Stat(filepath.Join(dir, f.Path)); err == nil {
			p = filepath.Join(dir, f.Path)
		}
	}
	in, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("manifest: %s: %w", f.Path, err)
	}
	defer in.Close()
	sum, n, err := alg.Reader(in)
	if err != nil {
		return fmt.Errorf("manifest: %s: %w", p, err)
	}
	if n != f.Bytes || sum != want {
		return fmt.Errorf("manifest: %s differs from the manifest (%d bytes, %s %s; the manifest says %d bytes, %s)", p, n, alg, sum, f.Bytes, want)
	}
	return nil
}
