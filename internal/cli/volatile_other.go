//go:build !linux

package cli

// volatileFS cannot tell on this system; it assumes a disk.
func volatileFS(string) bool { return false }
