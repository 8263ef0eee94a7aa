// Package snapshot builds a training snapshot: it loads the policy, reads
// eligibility at a verified ledger head, runs the filter, writes the
// manifest, the lineage sidecar and the rejects, installs them all or none,
// and registers the snapshot with what it kept of each account. The command
// line and the Beam pipeline call the same Build.
package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/digest"
	"github.com/notrain/notrain/internal/eligibility"
	"github.com/notrain/notrain/internal/filter"
	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/policy"
	"github.com/notrain/notrain/internal/store"
)

// Options describe one build. Paths are files; "" leaves an optional one out.
type Options struct {
	Inputs   []string // content exports (.jsonl, .jsonl.gz, .jsonl.zst or .parquet)
	Output   string   // eligible records, in the inputs' format
	Manifest string
	Lineage  string // records kept per account; default LineagePath(Output)
	Rejects  string // malformed records with file and line
	Policy   string // policy file; "" is the built-in policy

	// AsOf is the snapshot moment; zero means now. It may not be in the
	// future, nor before eligibility last changed (unless Reproduce).
	AsOf time.Time
	Now  func() time.Time // the clock; default time.Now

	// DB is the store: eligibility is read from it (unless EligibilityFile
	// is given, which it then must match) and the snapshot registered in it.
	// Without a store the build registers nothing.
	DB *store.DB
	// EligibilityFile is an eligibility snapshot from 'notrain snapshot
	// export', used instead of the store's tables.
	EligibilityFile string
	// EligibilityCache is the compact cache of the store's eligibility,
	// used when it is current and rewritten otherwise.
	EligibilityCache string
	// LedgerCheckpoint is the file holding the last verified ledger head:
	// it must still be on the chain, and is advanced after registering.
	LedgerCheckpoint string

	Workers    int       // default: every CPU
	Progress   io.Writer // progress line; nil for none
	CPUProfile string    // CPU profile of the filter run

	// AllowEmptyDirectory allows a store whose account directory holds no
	// account (every record is then unknown_author); the manifest says so.
	AllowEmptyDirectory bool
	// Reproduce is the manifest of a registered snapshot to re-create, for
	// verification: its as-of and policy are taken, nothing is registered,
	// and the build fails unless the output's sha256 matches.
	Reproduce string
	Version   string // notrain's version, for the manifest

	// Checkpoint, when set, returns the verifiable log's origin and root
	// hash (base64) at the given tree size; the manifest then names that
	// checkpoint at the eligibility ledger head. It runs after every check
	// has passed, so it may load what only a successful build needs.
	Checkpoint func(ctx context.Context, size int64) (origin, root string, err error)
	// SignManifest, when set, signs the manifest's SHA-256; the signature
	// is installed as Manifest + ".sig" together with the other outputs.
	SignManifest func(sum [32]byte) ([]byte, error)
}

// Result is what a build made.
type Result struct {
	Manifest       *filter.Manifest
	ManifestSHA256 string
	Signature      string // path of the manifest's signature; "" when unsigned
	Filter         *filter.Result
	Entry          ledger.Entry // the registration's ledger entry (Seq 0: not registered)
	// Register is how long registering took (the ledger entry, the
	// snapshot row and the lineage rows, committed).
	Register time.Duration
	// Warnings are failures of upkeep after the point of no return (the
	// ledger checkpoint file, the eligibility cache): the snapshot stands.
	Warnings []string
}

// LineagePath puts the sidecar next to the output: snap.jsonl.gz → snap.lineage.jsonl.
func LineagePath(out string) string {
	base := out
	for _, ext := range []string{".gz", ".zst", ".jsonl", ".ndjson", ".parquet"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base + ".lineage.jsonl"
}

// SignaturePath is where the manifest's signature goes.
func SignaturePath(manifest string) string { return manifest + ".sig" }

// Build builds a snapshot. On any error nothing is left behind: no output,
// no registration.
func Build(ctx context.Context, o Options) (*Result, error) {
	started := time.Now()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lineage == "" {
		o.Lineage = LineagePath(o.Output)
	}
	if len(o.Inputs) == 0 || o.Output == "" || o.Manifest == "" {
		return nil, errors.New("snapshot: inputs, output and manifest are needed")
	}
	// The snapshot is built once and read for the whole run; a tight GC
	// target keeps the transient garbage of building it small.
	debug.SetGCPercent(25)
	// Everything that could make the result unprovable is checked before a
	// single record is written: policy, time, store, key, ledger, paths.
	pol, err := policy.Load(o.Policy)
	if err != nil {
		return nil, err
	}
	now := o.Now().UTC()
	asOf := now
	if !o.AsOf.IsZero() {
		asOf = o.AsOf.UTC()
		if err := checkNotFuture(asOf, now); err != nil {
			return nil, err
		}
	}
	db := o.DB
	var repro *reproduction
	if o.Reproduce != "" {
		if db == nil {
			return nil, UsageError{"--reproduce needs the store (--db): only a snapshot registered there can be reproduced"}
		}
		if repro, err = readReproduction(o.Reproduce, pol, o.AsOf); err != nil {
			return nil, err
		}
		asOf = repro.asOf
	}
	sigPath := ""
	if o.SignManifest != nil {
		sigPath = SignaturePath(o.Manifest)
	}
	for _, p := range []string{o.Output, o.Manifest, sigPath, o.Lineage, o.Rejects} {
		if p != "" {
			if err := filter.CheckTarget(p); err != nil {
				return nil, err
			}
		}
	}
	// The tight GC target from the start: loading the snapshot and checking
	// the ledger (all of it on a store's first run) peaked above the run's
	// memory budget before boundMemory set the limit.
	debug.SetGCPercent(25)
	var snap *eligibility.Snapshot
	var from origin
	var cache *eligibility.PendingFile
	var verified ledger.Head
	if o.EligibilityFile != "" {
		var sum string
		if snap, sum, err = eligibility.ReadFile(o.EligibilityFile); err != nil {
			return nil, fmt.Errorf("eligibility snapshot %s: %w", o.EligibilityFile, err)
		}
		from = origin{Source: "file", Path: o.EligibilityFile, SHA256: sum}
		if db != nil {
			changed, err := db.ChangedSince(ctx, snap.Head)
			if err != nil {
				return nil, err
			}
			if changed {
				return nil, fmt.Errorf("eligibility snapshot %s was exported at ledger entry %d; the store has changed eligibility since (or is another store): export a new one", o.EligibilityFile, snap.Head.Seq)
			}
		}
	} else {
		if db == nil {
			return nil, errors.New("snapshot: eligibility needs the store or an eligibility snapshot file")
		}
		if snap, from, cache, err = loadEligibility(ctx, db, o.EligibilityCache); err != nil {
			return nil, err
		}
		if cache != nil {
			defer cache.Discard()
		}
	}
	if snap.Stats.Accounts == 0 && !o.AllowEmptyDirectory {
		return nil, fmt.Errorf("the account directory is empty (no accounts were ever imported): every record would count as an unknown author, and a policy that keeps unknown authors would keep objectors' content; import the accounts first, or give --allow-empty-directory")
	}
	if repro == nil {
		if err := checkAsOf(ctx, db, snap, asOf, now); err != nil {
			return nil, err
		}
	}
	if db != nil {
		var cp *ledger.Head
		if o.LedgerCheckpoint != "" {
			if cp, err = ledger.ReadCheckpoint(o.LedgerCheckpoint); err != nil {
				return nil, err
			}
		}
		verified, err = VerifyLedger(ctx, db, cp, false, &snap.Head)
		if err != nil {
			return nil, fmt.Errorf("%w: refusing to build a snapshot whose objections cannot be proven", err)
		}
		if repro != nil {
			if err := repro.registered(ctx, db); err != nil {
				return nil, err
			}
		}
	}
	var checkpoint *filter.Checkpoint
	if o.Checkpoint != nil {
		// The log's tree at the eligibility head holds exactly the entries
		// up to it: its size is the head's seq.
		origin, root, err := o.Checkpoint(ctx, snap.Head.Seq)
		if err != nil {
			return nil, fmt.Errorf("log checkpoint at %d: %w", snap.Head.Seq, err)
		}
		checkpoint = &filter.Checkpoint{Origin: origin, Size: snap.Head.Seq, Root: root}
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	engine := eligibility.NewEngine(pol, snap, asOf)
	parquet := false
	if f, err := filter.FormatOf(o.Output); err == nil && f == filter.Parquet {
		parquet = true
	}
	boundMemory(snap.Len(), parquet)
	job := filter.Job{Inputs: o.Inputs, Output: o.Output, Lineage: o.Lineage, Rejects: o.Rejects, Engine: engine, Digest: pol.Digest,
		WantText: pol.Compiled.Len() > 0, Workers: o.Workers, Progress: o.Progress}
	res, err := filter.Run(ctx, job)
	if err != nil {
		return nil, fmt.Errorf("filter: %w (nothing was written)", err)
	}
	installed := false
	defer func() {
		if !installed {
			res.Abort()
		}
	}()
	if repro != nil {
		if err := repro.compare(res); err != nil {
			return nil, err
		}
	}
	effective, err := json.Marshal(pol)
	if err != nil {
		return nil, err
	}
	register := db != nil && repro == nil
	m := &filter.Manifest{
		SnapshotID: "snap_" + ids.Random(8), CreatedAt: now.Format(time.RFC3339Nano), AsOf: asOf.Format(time.RFC3339Nano),
		PolicySHA256: pol.SHA256, Digest: pol.Digest,
		Policy:     filter.ManifestPolicy{Source: pol.Source, Name: pol.Name, Mode: pol.Mode, Effective: json.RawMessage(effective)},
		LedgerHead: snap.Head, LedgerVerified: verified, Checkpoint: checkpoint,
		Eligibility: map[string]any{"origin": from, "stats": snap.Stats},
		Inputs:      res.Inputs, Outputs: []filter.FileInfo{res.Output},
		Lineage: &filter.ManifestFile{FileInfo: res.Lineage, Accounts: res.Accounts},
		Rejects: res.Rejects, Counts: &res.Counts, Registered: register, AllowEmptyDirectory: o.AllowEmptyDirectory, Notrain: o.Version,
		DurationSeconds: time.Since(started).Seconds(),
	}
	if repro != nil {
		m.Reproduces = repro.m.SnapshotID
	}
	body, err := m.Encode()
	if err != nil {
		return nil, err
	}
	temps := make([]*filter.Temp, 0, 2)
	defer func() {
		if !installed {
			for _, t := range temps {
				t.Remove()
			}
		}
	}()
	mt, minfo, err := writeTemp(o.Manifest, body)
	if err != nil {
		return nil, err
	}
	temps = append(temps, mt)
	sum := sha256.Sum256(body)
	if o.SignManifest != nil {
		sig, err := o.SignManifest(sum)
		if err != nil {
			return nil, fmt.Errorf("sign manifest: %w (nothing was written)", err)
		}
		st, _, err := writeTemp(sigPath, sig)
		if err != nil {
			return nil, err
		}
		temps = append(temps, st)
	}
	// All or nothing. Every output (data, lineage, rejects, manifest, its
	// signature) is complete and synced under a temporary name by now. They
	// are installed together first, because installing can still fail (a
	// name that became a directory, a full disk) and an install can be
	// taken back, while a ledger entry cannot. Only then is the snapshot
	// registered; if that fails, the installation is undone and the files
	// the outputs replaced are restored. The registration's commit is the
	// point of no return: what follows (the ledger checkpoint, the
	// eligibility cache, deleting replaced files) is upkeep whose failure
	// is reported but changes nothing about the snapshot. A crash between
	// install and commit leaves files whose manifest names a snapshot the
	// ledger does not know, which an audit against the ledger shows; the
	// reverse order would leave a registered snapshot that never existed.
	inst, err := res.Install(temps...)
	if err != nil {
		return nil, fmt.Errorf("%w (nothing was written)", err)
	}
	installed = true
	out := &Result{Manifest: m, ManifestSHA256: minfo.SHA256, Signature: sigPath, Filter: res}
	if register {
		t0 := time.Now()
		entry := registrationEntry(m.SnapshotID, m.AsOf, pol.SHA256, snap.Head, minfo.SHA256, res.Counts.Read, res.Counts.Eligible, m.Outputs)
		err := db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			out.Entry, err = tx.RegisterSnapshot(ctx, store.SnapshotRecord{
				ID: m.SnapshotID, CreatedAt: now.UnixMicro(), AsOf: asOf.UnixMicro(), PolicySHA256: pol.SHA256,
				Eligibility: snap.Head, Read: res.Counts.Read, Kept: res.Counts.Eligible, Manifest: string(body), ManifestSHA256: minfo.SHA256,
				Accounts: keptRows(res),
			}, entry)
			return err
		})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("register snapshot: %w (nothing was written)", err), inst.Undo())
		}
		out.Register = time.Since(t0)
	}
	inst.Done()
	if register {
		// The chain was verified up to its head and this entry extends it:
		// record the new head as the checkpoint a later cut would violate.
		if o.LedgerCheckpoint != "" && out.Entry.Seq == verified.Seq+1 {
			if err := ledger.WriteCheckpoint(o.LedgerCheckpoint, ledger.Head{Seq: out.Entry.Seq, Hash: out.Entry.Hash}); err != nil {
				out.Warnings = append(out.Warnings, fmt.Sprintf("ledger checkpoint not advanced: %v", err))
			}
		}
	}
	if cache != nil {
		if err := cache.Install(); err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("eligibility cache not written: %v", err))
		}
	}
	return out, nil
}

// keptRows is the snapshot's lineage as the store's rows.
func keptRows(res *filter.Result) func(yield func(store.AccountItems) bool) {
	return func(yield func(store.AccountItems) bool) {
		for k, n := range res.Kept() {
			if !yield(store.AccountItems{Product: k.Product, AccountID: k.AccountID, Items: int64(n)}) {
				return
			}
		}
	}
}

// writeTemp writes a small output under a temporary name.
func writeTemp(path string, b []byte) (*filter.Temp, filter.FileInfo, error) {
	// Sidecars the manifest does not list (the manifest itself, its
	// signature): SHA-256, the hash the signature and the registry use.
	t, err := filter.CreateTemp(path, digest.SHA256)
	if err != nil {
		return nil, filter.FileInfo{}, err
	}
	if _, err := t.Write(b); err != nil {
		t.Remove()
		return nil, filter.FileInfo{}, err
	}
	info, err := t.Close()
	if err != nil {
		t.Remove()
		return nil, filter.FileInfo{}, err
	}
	return t, info, nil
}
