package translog

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Builder recomputes a tree from its leaves in order, keeping only the
// right edge (one hash per level): verifying a log of any length takes
// constant memory.
type Builder struct {
	n    int64
	edge [64]struct {
		idx int64
		h   tlog.Hash
		ok  bool
	}
}

// Size is the number of leaves added.
func (b *Builder) Size() int64 { return b.n }

// ReadHashes serves the hashes tlog asks for while adding a leaf or
// computing the root: always the latest at their level.
func (b *Builder) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		level, _ := tlog.SplitStoredHashIndex(x)
		e := b.edge[level]
		if !e.ok || e.idx != x {
			return nil, fmt.Errorf("translog: hash %d is not on the tree's right edge", x)
		}
		out[i] = e.h
	}
	return out, nil
}

// Add adds the next leaf and returns the stored hashes it creates, in
// stored-index order from tlog.StoredHashIndex(0, Size()-1).
func (b *Builder) Add(data []byte) ([]tlog.Hash, error) {
	hashes, err := tlog.StoredHashes(b.n, data, b)
	if err != nil {
		return nil, err
	}
	first := tlog.StoredHashIndex(0, b.n)
	for i, h := range hashes {
		level, _ := tlog.SplitStoredHashIndex(first + int64(i))
		b.edge[level].idx, b.edge[level].h, b.edge[level].ok = first+int64(i), h, true
	}
	b.n++
	return hashes, nil
}

// Root is the tree hash of the leaves added so far.
func (b *Builder) Root() (tlog.Hash, error) {
	if b.n == 0 {
		return EmptyRoot, nil
	}
	return tlog.TreeHash(b.n, b)
}

// EmptyRoot is the RFC 6962 hash of an empty tree: SHA-256 of nothing.
var EmptyRoot = tlog.Hash{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}
