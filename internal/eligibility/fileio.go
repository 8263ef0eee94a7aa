package eligibility

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ReadFile reads a snapshot file (an export, or the store's compact cache)
// and returns it with the file's content hash.
func ReadFile(path string) (*Snapshot, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	snap, sum, err := Read(f)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return snap, sum, err
}

// PendingFile is a snapshot file written and synced under a temporary name
// next to its final one: Install puts it in place, Discard removes it. A run
// that fails thus leaves no new file behind.
type PendingFile struct {
	tmp, final string
}

// CreateFile writes s to a temporary file beside path and returns it with
// the file's content hash.
func CreateFile(s *Snapshot, path string) (*PendingFile, string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, "", err
	}
	sum, err := s.Write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return &PendingFile{tmp: f.Name(), final: path}, sum, nil
}

// Install renames the file into place.
func (p *PendingFile) Install() error {
	if err := os.Rename(p.tmp, p.final); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("install %s: %w", p.final, err)
	}
	return nil
}

// Discard removes the temporary file.
func (p *PendingFile) Discard() { os.Remove(p.tmp) }

// WriteFile writes a snapshot file atomically (temporary name, fsync,
// rename) and returns its content hash.
func WriteFile(s *Snapshot, path string) (string, error) {
	p, sum, err := CreateFile(s, path)
	if err != nil {
		return "", err
	}
	return sum, p.Install()
}
