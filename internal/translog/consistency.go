package translog

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// CheckGrowth checks that the tree of checkpoint newer contains the tree
// of checkpoint older, given an RFC 6962 consistency proof between them:
// the log only grew.
func CheckGrowth(older, newer Checkpoint, proof tlog.TreeProof) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("translog: the checkpoints are of two logs (%q, %q)", older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("translog: the log shrank from %d to %d entries", older.Size, newer.Size)
	}
	if older.Size == 0 {
		if older.Root != EmptyRoot {
			return errors.New("translog: a checkpoint of the empty tree names a root other than SHA-256 of nothing")
		}
		return nil // the empty tree is a prefix of every tree
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return fmt.Errorf("translog: the tree of %d entries does not extend the one of %d: %w", newer.Size, older.Size, err)
	}
	return nil
}
