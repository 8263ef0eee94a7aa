// Package filter turns content exports into training snapshots: every
// record is decided by the eligibility engine, eligible records are copied
// unchanged, every exclusion is counted, and nothing becomes visible under
// its final name until the whole job has succeeded.
package filter

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/notrain/notrain/internal/digest"
)

// Format is a file format, chosen by extension.
type Format string

// Formats.
const (
	JSONL     Format = "jsonl"
	JSONLGzip Format = "jsonl.gz"
	JSONLZstd Format = "jsonl.zst"
	Parquet   Format = "parquet"
)

// FormatOf returns the format of a path by its extension.
func FormatOf(path string) (Format, error) {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".jsonl.gz"), strings.HasSuffix(p, ".ndjson.gz"):
		return JSONLGzip, nil
	case strings.HasSuffix(p, ".jsonl.zst"), strings.HasSuffix(p, ".ndjson.zst"):
		return JSONLZstd, nil
	case strings.HasSuffix(p, ".jsonl"), strings.HasSuffix(p, ".ndjson"):
		return JSONL, nil
	case strings.HasSuffix(p, ".parquet"):
		return Parquet, nil
	}
	return "", fmt.Errorf("%s: unknown format (use .jsonl, .jsonl.gz, .jsonl.zst or .parquet)", path)
}

// IsJSONL reports whether f is JSON Lines, compressed or not.
func (f Format) IsJSONL() bool { return f != Parquet }

// FileInfo identifies a file in a manifest: its size and its digest under
// the algorithm the manifest names (exactly one of SHA256 and BLAKE3 is set).
type FileInfo struct {
	Path   string `json:"path"`
	Format Format `json:"format,omitempty"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
	BLAKE3 string `json:"blake3,omitempty"`
}

// NewFileInfo is the identity of a file whose digest under alg is sum.
func NewFileInfo(path string, f Format, n int64, alg digest.Algorithm, sum []byte) FileInfo {
	info := FileInfo{Path: path, Format: f, Bytes: n}
	if alg == digest.BLAKE3 {
		info.BLAKE3 = hex.EncodeToString(sum)
	} else {
		info.SHA256 = hex.EncodeToString(sum)
	}
	return info
}

// Digest returns the file's digest and the algorithm that made it. A file
// listed with both or neither gives an empty algorithm: no check accepts it.
func (f FileInfo) Digest() (digest.Algorithm, string) {
	switch {
	case f.SHA256 != "" && f.BLAKE3 == "":
		return digest.SHA256, f.SHA256
	case f.BLAKE3 != "" && f.SHA256 == "":
		return digest.BLAKE3, f.BLAKE3
	}
	return "", ""
}

// Entry is the key and value a ledger entry records the digest under:
// name_sha256 or name_blake3.
func (f FileInfo) Entry(name string) (string, string) {
	alg, sum := f.Digest()
	return name + "_" + string(alg), sum
}

// Check fails unless a file of n bytes with digest sum (hex, under alg) is
// the file f lists.
func (f FileInfo) Check(name string, n int64, alg digest.Algorithm, sum string) error {
	want, wantSum := f.Digest()
	if want == "" {
		return fmt.Errorf("%s: the manifest lists it without exactly one digest (sha256 or blake3)", name)
	}
	if n != f.Bytes || alg != want || sum != wantSum {
		return fmt.Errorf("%s has %d bytes with %s %s; the manifest lists %d bytes with %s %s", name, n, alg, sum, f.Bytes, want, wantSum)
	}
	return nil
}

// Temp is an output written under a temporary name in its final directory
// and renamed into place only by Commit: a failed job leaves nothing behind.
type Temp struct {
	Final string
	f     *os.File
	alg   digest.Algorithm
	hash  hash.Hash
	n     int64
	// flushed: bytes handed to the kernel's writeback so far (see Write).
	flushed int64
	done    bool
}

// writebackEvery is how much is written before the kernel is asked to
// write it to disk. Left to itself, the kernel kept the whole output (0.8
// GB on the benchmark set) in memory until Close's fsync, which then
// waited 0.29 s for the disk with nothing else to do.
const writebackEvery = 8 << 20

// CreateTemp starts an output file.
func CreateTemp(final string, alg digest.Algorithm) (*Temp, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	// CreateTemp makes 0600 files; a snapshot is an ordinary data file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", final, err)
	}
	return &Temp{Final: final, f: f, alg: alg, hash: alg.New()}, nil
}

// Write writes and hashes.
func (t *Temp) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.hash.Write(p[:n])
	t.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", t.Final, err)
	}
	if t.n-t.flushed >= writebackEvery {
		startWriteback(t.f, t.flushed, t.n-t.flushed)
		t.flushed = t.n
	}
	return n, nil
}

// Close flushes the file to disk and returns what it holds.
func (t *Temp) Close() (FileInfo, error) {
	if t.done {
		return t.info(), nil
	}
	t.done = true
	if err := t.f.Sync(); err != nil {
		t.f.Close()
		return FileInfo{}, fmt.Errorf("sync %s: %w", t.Final, err)
	}
	if err := t.f.Close(); err != nil {
		return FileInfo{}, fmt.Errorf("close %s: %w", t.Final, err)
	}
	return t.info(), nil
}

func (t *Temp) info() FileInfo {
	return NewFileInfo(t.Final, "", t.n, t.alg, t.hash.Sum(nil))
}

// Commit renames the file into place and makes the rename durable.
func (t *Temp) Commit() error {
	in, err := Install(t)
	if err != nil {
		return err
	}
	in.Done()
	return nil
}

// Remove deletes the temporary file.
func (t *Temp) Remove() {
	if !t.done {
		t.f.Close()
		t.done = true
	}
	os.Remove(t.f.Name())
}

// hashingReader counts and hashes what passes through it. The count is
// atomic because the progress line reads it from another goroutine.
type hashingReader struct {
	r    io.Reader
	alg  digest.Algorithm
	hash hash.Hash
	n    atomic.Int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.hash.Write(p[:n])
	h.n.Add(int64(n))
	return n, err
}

// finish reads whatever the decompressor left unread (so the hash covers
// the whole file) and returns the file's identity.
func (h *hashingReader) finish(path string, f Format) (FileInfo, error) {
	if _, err := io.Copy(io.Discard, h); err != nil {
		return FileInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return NewFileInfo(path, f, h.n.Load(), h.alg, h.hash.Sum(nil)), nil
}

// CheckTarget refuses an output path that names a directory (or anything
// but a regular file): renaming a finished output onto it would fail only
// after the snapshot was complete.
func CheckTarget(path string) error {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output %s: %w", path, err)
	case st.IsDir():
		return fmt.Errorf("output %s is a directory", path)
	case !st.Mode().IsRegular():
		return fmt.Errorf("output %s is not a regular file (%v)", path, st.Mode().Type())
	}
	return nil
}

// Installation is a set of outputs put in place together. Until Done, Undo
// restores what the final names held before.
type Installation struct {
	steps []installStep
}

type installStep struct {
	final  string
	backup string // the file final held before, "" if none
}

// Install renames every temp onto its final name. Either all are in place
// afterwards or, on error, none is: the outputs installed so far are taken
// back, files they replaced are restored, and every temp is removed.
func Install(temps ...*Temp) (*Installation, error) {
	in := &Installation{}
	fail := func(err error) (*Installation, error) {
		err = errors.Join(err, in.Undo())
		for _, t := range temps {
			t.Remove()
		}
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range temps {
		if !t.done {
			return fail(fmt.Errorf("install %s: not closed", t.Final))
		}
		abs, err := filepath.Abs(t.Final)
		if err != nil {
			return fail(fmt.Errorf("install %s: %w", t.Final, err))
		}
		if seen[abs] {
			return fail(fmt.Errorf("install: %s is named by two outputs", t.Final))
		}
		seen[abs] = true
		if err := CheckTarget(t.Final); err != nil {
			return fail(err)
		}
	}
	for _, t := range temps {
		step := installStep{final: t.Final}
		if _, err := os.Lstat(t.Final); err == nil {
			b, err := backup(t.Final)
			if err != nil {
				return fail(fmt.Errorf("install %s: %w", t.Final, err))
			}
			step.backup = b
		}
		if err := os.Rename(t.f.Name(), t.Final); err != nil {
			if step.backup != "" {
				restore(step)
			}
			return fail(fmt.Errorf("install %s: %w", t.Final, err))
		}
		in.steps = append(in.steps, step)
	}
	syncDirs(in.steps)
	return in, nil
}

// backup keeps the file at path under a temporary name in its directory:
// a hard link, so the final name never goes missing, or a rename where the
// file system has no links.
func backup(path string) (string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".old-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	if err := os.Link(path, name); err == nil {
		return name, nil
	}
	if err := os.Rename(path, name); err != nil {
		return "", err
	}
	return name, nil
}

func restore(s installStep) error {
	if s.backup == "" {
		if err := os.Remove(s.final); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.Rename(s.backup, s.final)
}

// Undo takes the installed outputs back, newest first, restoring the files
// they replaced.
func (in *Installation) Undo() error {
	var errs []error
	for i := len(in.steps) - 1; i >= 0; i-- {
		if err := restore(in.steps[i]); err != nil {
			errs = append(errs, fmt.Errorf("roll back %s: %w", in.steps[i].final, err))
		}
	}
	syncDirs(in.steps)
	in.steps = nil
	return errors.Join(errs...)
}

// Done makes the installation final: the replaced files are deleted.
func (in *Installation) Done() {
	for _, s := range in.steps {
		if s.backup != "" {
			os.Remove(s.backup)
		}
	}
	in.steps = nil
}

// syncDirs makes renames durable, once per directory.
func syncDirs(steps []installStep) {
	seen := map[string]bool{}
	for _, s := range steps {
		dir := filepath.Dir(s.final)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
}
