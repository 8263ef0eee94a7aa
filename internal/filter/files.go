// Package filter turns content exports into training snapshots: every
// record is decided by the eligibility engine, eligible records are copied
// unchanged, every exclusion is counted, and nothing becomes visible under
// its final name until the whole job has succeeded.
package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// FileInfo identifies a file in a manifest.
type FileInfo struct {
	Path   string `json:"path"`
	Format Format `json:"format,omitempty"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Temp is an output written under a temporary name in its final directory
// and renamed into place only by Commit: a failed job leaves nothing behind.
type Temp struct {
	Final string
	f     *os.File
	hash  hash.Hash
	n     int64
	done  bool
}

// CreateTemp starts an output file.
func CreateTemp(final string) (*Temp, error) {
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
	return &Temp{Final: final, f: f, hash: sha256.New()}, nil
}

// Write writes and hashes.
func (t *Temp) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.hash.Write(p[:n])
	t.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", t.Final, err)
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
	return FileInfo{Path: t.Final, Bytes: t.n, SHA256: hex.EncodeToString(t.hash.Sum(nil))}
}

// Commit renames the file into place and makes the rename durable.
func (t *Temp) Commit() error {
	if err := os.Rename(t.f.Name(), t.Final); err != nil {
		return fmt.Errorf("install %s: %w", t.Final, err)
	}
	if d, err := os.Open(filepath.Dir(t.Final)); err == nil {
		d.Sync()
		d.Close()
	}
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
	return FileInfo{Path: path, Format: f, Bytes: h.n.Load(), SHA256: hex.EncodeToString(h.hash.Sum(nil))}, nil
}
