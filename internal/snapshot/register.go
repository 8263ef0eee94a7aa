package snapshot

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/platform"
	"github.com/notrain/notrain/internal/store"
)

// RegisterOptions describe registering a snapshot built elsewhere (by the
// Beam pipeline) from its manifest.
type RegisterOptions struct {
	Manifest string
	// Data is the directory holding the manifest's outputs and lineage
	// sidecar, found there by their base names (a pipeline may have written
	// them to gs://… and they were copied); "" reads the paths as written.
	Data string
	DB   *store.DB
	// LedgerCheckpoint is the last verified ledger head, as for Build.
	LedgerCheckpoint string
	Now              func() time.Time
	// SignManifest, when set, signs the manifest's SHA-256; the signature
	// is installed as SignaturePath(Manifest), as Build does.
	SignManifest func(sum [32]byte) ([]byte, error)
}

// external is what registering reads of a manifest.
type external struct {
	SnapshotID   string            `json:"snapshot_id"`
	AsOf         string            `json:"as_of"`
	PolicySHA256 string            `json:"policy_sha256"`
	Digest       string            `json:"digest"` // absent before the choice existed: SHA-256
	LedgerHead   ledger.Head       `json:"ledger_head"`
	Outputs      []filter.FileInfo `json:"outputs"`
	Lineage      *struct {
		filter.FileInfo
		Accounts int `json:"accounts"`
	} `json:"lineage"`
	Counts *struct {
		Read     int64            `json:"read"`
		Eligible int64            `json:"eligible"`
		Excluded map[string]int64 `json:"excluded"`
	} `json:"counts"`
	Registered bool   `json:"registered"`
	Reproduces string `json:"reproduces"`
}

// Register registers the snapshot a manifest describes, with the checks
// Build makes: every output and the lineage sidecar have the manifest's
// size and sha256, the eligibility the snapshot was filtered with is on the
// store's verified chain and nothing that changes eligibility happened
// since (nor after the as-of), and the snapshot is not registered yet. The
// signature is installed first and taken back if registering fails.
func Register(ctx context.Context, o RegisterOptions) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DB == nil || o.Manifest == "" {
		return nil, errors.New("snapshot: register needs the manifest and the store")
	}
	body, err := os.ReadFile(o.Manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m external
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", o.Manifest, err)
	}
	switch {
	case m.SnapshotID == "" || m.AsOf == "" || m.PolicySHA256 == "" || len(m.Outputs) == 0 || m.Counts == nil || m.Lineage == nil:
		return nil, fmt.Errorf("manifest %s: not a snapshot manifest (snapshot_id, as_of, policy_sha256, outputs, lineage or counts missing)", o.Manifest)
	case m.Registered:
		return nil, fmt.Errorf("manifest %s: snapshot %s was registered by the run that built it", o.Manifest, m.SnapshotID)
	case m.Reproduces != "":
		return nil, fmt.Errorf("manifest %s: a reproduction of %s, which registers nothing", o.Manifest, m.Reproduces)
	}
	// Every file is listed by the digest the manifest names, as every
	// verifier of it will check them.
	alg, err := digest.Parse(m.Digest)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", o.Manifest, err)
	}
	for _, f := range append(append([]filter.FileInfo(nil), m.Outputs...), m.Lineage.FileInfo) {
		if got, _ := f.Digest(); got != alg {
			return nil, fmt.Errorf("manifest %s: %s is not listed by its %s digest, which the manifest names", o.Manifest, f.Path, alg)
		}
	}
	asOf, err := time.Parse(time.RFC3339Nano, m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: as_of %q is not an RFC 3339 time", o.Manifest, m.AsOf)
	}
	now := o.Now().UTC()
	if err := checkNotFuture(asOf, now); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", o.Manifest, err)
	}
	// The outputs must hold exactly the records the manifest counts as kept:
	// the ledger entry and the signature vouch for those counts.
	var records int64
	for _, f := range m.Outputs {
		n, err := checkOutput(o.dataPath(f.Path), f, alg)
		if err != nil {
			return nil, err
		}
		records += n
	}
	if records != m.Counts.Eligible {
		return nil, fmt.Errorf("manifest %s: the outputs hold %d records, the manifest counts %d kept", o.Manifest, records, m.Counts.Eligible)
	}
	var excluded int64
	for _, n := range m.Counts.Excluded {
		excluded += n
	}
	if m.Counts.Read != m.Counts.Eligible+excluded {
		return nil, fmt.Errorf("manifest %s: %d records read, but %d kept and %d excluded", o.Manifest, m.Counts.Read, m.Counts.Eligible, excluded)
	}
	// The sidecar is read once: the bytes checked are the bytes registered.
	side, err := os.ReadFile(o.dataPath(m.Lineage.Path))
	if err != nil {
		return nil, fmt.Errorf("lineage: %w", err)
	}
	if err := m.Lineage.Check(m.Lineage.Path, int64(len(side)), alg, alg.Sum(side)); err != nil {
		return nil, err
	}
	rows, err := readLineage(m.Lineage.Path, side)
	if err != nil {
		return nil, err
	}
	if len(rows) != m.Lineage.Accounts {
		return nil, fmt.Errorf("lineage %s: %d accounts, the manifest says %d", m.Lineage.Path, len(rows), m.Lineage.Accounts)
	}
	var kept int64
	for _, r := range rows {
		kept += r.Items
	}
	if kept > m.Counts.Eligible {
		return nil, fmt.Errorf("lineage %s: %d records kept, the manifest counts %d", m.Lineage.Path, kept, m.Counts.Eligible)
	}

	db := o.DB
	changed, err := db.ChangedSince(ctx, m.LedgerHead)
	if err != nil {
		return nil, err
	}
	if changed {
		return nil, fmt.Errorf("the snapshot was filtered with eligibility at ledger entry %d; the store has changed eligibility since (or is another store): export a new eligibility snapshot and run again", m.LedgerHead.Seq)
	}
	if t, err := lastChange(ctx, db, nil, now); err != nil {
		return nil, err
	} else if asOf.Before(t) {
		return nil, fmt.Errorf("the snapshot is as of %s, before %s, when eligibility last changed in the store", m.AsOf, t.Format(time.RFC3339Nano))
	}
	var cp *ledger.Head
	if o.LedgerCheckpoint != "" {
		if cp, err = ledger.ReadCheckpoint(o.LedgerCheckpoint); err != nil {
			return nil, err
		}
	}
	verified, err := VerifyLedger(ctx, db, cp, false, &m.LedgerHead)
	if err != nil {
		return nil, fmt.Errorf("%w: refusing to register a snapshot whose objections cannot be proven", err)
	}
	if _, err := db.RegisteredManifest(ctx, m.SnapshotID); err == nil {
		return nil, fmt.Errorf("snapshot %s is registered already", m.SnapshotID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}

	sum := sha256.Sum256(body)
	out := &Result{ManifestSHA256: hex.EncodeToString(sum[:])}
	var inst *filter.Installation
	if o.SignManifest != nil {
		out.Signature = SignaturePath(o.Manifest)
		if err := filter.CheckTarget(out.Signature); err != nil {
			return nil, err
		}
		sig, err := o.SignManifest(sum)
		if err != nil {
			return nil, fmt.Errorf("sign manifest: %w (nothing was registered)", err)
		}
		st, _, err := writeTemp(out.Signature, sig)
		if err != nil {
			return nil, err
		}
		if inst, err = filter.Install(st); err != nil {
			return nil, err
		}
	}
	entry := registrationEntry(m.SnapshotID, m.AsOf, m.PolicySHA256, m.LedgerHead, out.ManifestSHA256, m.Counts.Read, m.Counts.Eligible, m.Outputs)
	t0 := time.Now()
	err = db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		var err error
		out.Entry, err = tx.RegisterSnapshot(ctx, store.SnapshotRecord{
			ID: m.SnapshotID, CreatedAt: now.UnixMicro(), AsOf: asOf.UnixMicro(), PolicySHA256: m.PolicySHA256,
			Eligibility: m.LedgerHead, Read: m.Counts.Read, Kept: m.Counts.Eligible, Manifest: string(body), ManifestSHA256: out.ManifestSHA256,
			Accounts: func(yield func(store.AccountItems) bool) {
				for _, r := range rows {
					if !yield(r) {
						return
					}
				}
			},
		}, entry)
		return err
	})
	if err != nil {
		err = fmt.Errorf("register snapshot: %w (nothing was registered)", err)
		if inst != nil {
			err = errors.Join(err, inst.Undo())
		}
		return nil, err
	}
	out.Register = time.Since(t0)
	if inst != nil {
		inst.Done()
	}
	if o.LedgerCheckpoint != "" && out.Entry.Seq == verified.Seq+1 {
		if err := ledger.WriteCheckpoint(o.LedgerCheckpoint, ledger.Head{Seq: out.Entry.Seq, Hash: out.Entry.Hash}); err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("ledger checkpoint not advanced: %v", err))
		}
	}
	out.Manifest = &filter.Manifest{SnapshotID: m.SnapshotID, AsOf: m.AsOf, PolicySHA256: m.PolicySHA256, LedgerHead: m.LedgerHead, Outputs: m.Outputs, Registered: true}
	return out, nil
}

// dataPath is where a file the manifest names is read.
func (o *RegisterOptions) dataPath(p string) string {
	if o.Data == "" {
		return p
	}
	return filepath.Join(o.Data, p[strings.LastIndex(p, "/")+1:])
}

// registrationEntry is the ledger entry that registers a snapshot, built
// from a manifest's fields: output_sha256 (or output_blake3, by the
// manifest's digest) for one output, outputs_… for shards.
func registrationEntry(id, asOf, policySHA256 string, head ledger.Head, manifestSHA256 string, read, kept int64, outputs []filter.FileInfo) map[string]any {
	entry := map[string]any{
		"snapshot_id": id, "as_of": asOf, "policy_sha256": policySHA256,
		"eligibility_head": map[string]any{"seq": head.Seq, "hash": head.Hash},
		"manifest_sha256":  manifestSHA256, "read": read, "kept": kept,
	}
	if len(outputs) == 1 {
		k, v := outputs[0].Entry("output")
		entry[k] = v
		return entry
	}
	sums := make([]string, len(outputs))
	var k string
	for i, f := range outputs {
		k, sums[i] = f.Entry("outputs")
	}
	entry[k] = sums
	return entry
}

// checkOutput fails unless the file at path has f's size and digest under
// alg, and returns how many records it holds: lines of JSON Lines (every
// kept record ends with a newline), rows of Parquet.
func checkOutput(path string, f filter.FileInfo, alg digest.Algorithm) (int64, error) {
	format, err := filter.FormatOf(path)
	if err != nil || (format != filter.JSONL && format != filter.Parquet) {
		return 0, fmt.Errorf("output %s: registering takes .jsonl or .parquet outputs", f.Path)
	}
	file, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("output %s: %w", f.Path, err)
	}
	defer file.Close()
	h := alg.New()
	var lines int64
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := file.Read(buf)
		h.Write(buf[:k])
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		n += int64(k)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("output %s: %w", path, err)
		}
	}
	if err := f.Check("output "+path, n, alg, hex.EncodeToString(h.Sum(nil))); err != nil {
		return 0, err
	}
	if format == filter.Parquet {
		// The bytes are the ones checked: a file changed since fails above
		// or here, never both unnoticed.
		rows, err := filter.ParquetRows(path)
		if err != nil {
			return 0, fmt.Errorf("output %s: %w", f.Path, err)
		}
		return rows, nil
	}
	return lines, nil
}

// readLineage reads a lineage sidecar (filter.AppendLineageLine's lines):
// each a known product's account, once, with at least one item.
func readLineage(path string, b []byte) ([]store.AccountItems, error) {
	var rows []store.AccountItems
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r struct {
			Product   string `json:"product"`
			AccountID string `json:"account_id"`
			Items     int64  `json:"items"`
		}
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.DisallowUnknownFields()
		if err := d.Decode(&r); err != nil || !platform.IsProduct(r.Product) || r.AccountID == "" || r.Items <= 0 {
			return nil, fmt.Errorf("lineage %s line %d: not an account's count", path, line)
		}
		rows = append(rows, store.AccountItems{Product: r.Product, AccountID: r.AccountID, Items: r.Items})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lineage %s: %w", path, err)
	}
	// An account listed twice would be shown with one of its counts only.
	sorted := slices.Clone(rows)
	slices.SortFunc(sorted, func(a, b store.AccountItems) int {
		return cmp.Or(strings.Compare(a.Product, b.Product), strings.Compare(a.AccountID, b.AccountID))
	})
	for i := 1; i < len(sorted); i++ {
		if a, b := sorted[i-1], sorted[i]; a.Product == b.Product && a.AccountID == b.AccountID {
			return nil, fmt.Errorf("lineage %s: account %s:%s is listed twice", path, a.Product, a.AccountID)
		}
	}
	return rows, nil
}
