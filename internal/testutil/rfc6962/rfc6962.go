// Package rfc6962 is an independent, deliberately naive implementation of
// RFC 6962 section 2.1 (Merkle tree hash, audit paths, consistency proofs)
// and of the C2SP checkpoint and signed-note formats, written from the
// specifications and sharing no code with the server. Tests check the
// server's tree, proofs, tiles and notes against it.
package rfc6962

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LeafHash is SHA-256(0x00 || data).
func LeafHash(data []byte) [32]byte { return sha256.Sum256(append([]byte{0}, data...)) }

// NodeHash is SHA-256(0x01 || left || right).
func NodeHash(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// split is the largest power of two smaller than n.
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// MTH is the Merkle Tree Hash of leaf hashes (RFC 6962 2.1).
func MTH(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return NodeHash(MTH(leaves[:k]), MTH(leaves[k:]))
}

// RootFromPath recomputes the root from a leaf hash, its index, the tree
// size and its audit path (RFC 9162 2.1.3.2).
func RootFromPath(leaf [32]byte, index, size int, path [][32]byte) ([32]byte, error) {
	if index >= size {
		return leaf, errors.New("index beyond the tree")
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return r, errors.New("path too long")
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = NodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return r, errors.New("path too short")
	}
	return r, nil
}

// VerifyConsistency checks a consistency proof from a tree of size m with
// root r1 to one of size n with root r2 (RFC 9162 2.1.4.2).
func VerifyConsistency(m, n int, r1, r2 [32]byte, proof [][32]byte) error {
	if m == n {
		if len(proof) != 0 || r1 != r2 {
			return errors.New("equal sizes need an empty proof and equal roots")
		}
		return nil
	}
	if m == 0 || m > n {
		return errors.New("bad sizes")
	}
	if m&(m-1) == 0 { // a power of two: the old root is the first node
		proof = append([][32]byte{r1}, proof...)
	}
	if len(proof) == 0 {
		return errors.New("empty proof")
	}
	fn, sn := m-1, n-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return errors.New("proof too long")
		}
		if fn&1 == 1 || fn == sn {
			fr = NodeHash(c, fr)
			sr = NodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || fr != r1 || sr != r2 {
		return errors.New("consistency proof does not verify")
	}
	return nil
}

// Checkpoint is a parsed, verified C2SP checkpoint.
type Checkpoint struct {
	Origin string
	Size   int
	Root   [32]byte
}

// OpenNote verifies a signed note against a verifier key
// "name+keyid(8 hex)+base64(0x01||pub)" and returns its text.
func OpenNote(msg []byte, vkey string) (string, error) {
	parts := strings.SplitN(vkey, "+", 3) // base64 may hold a +
	if len(parts) != 3 {
		return "", errors.New("verifier key: want name+keyid+key")
	}
	name := parts[0]
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return "", errors.New("verifier key: not Ed25519")
	}
	pub := ed25519.PublicKey(raw[1:])
	id := sha256.Sum256(append([]byte(name+"\n"), raw...))
	if fmt.Sprintf("%08x", id[:4]) != parts[1] {
		return "", errors.New("verifier key: key id does not match")
	}
	text, sigs, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return "", errors.New("note: no blank line")
	}
	text = append(text, '\n')
	for _, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "— "+name+" ")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(sig) != 4+ed25519.SignatureSize || !bytes.Equal(sig[:4], id[:4]) {
			continue
		}
		if ed25519.Verify(pub, text, sig[4:]) {
			return string(text), nil
		}
	}
	return "", errors.New("note: no valid signature by the key")
}

// OpenCheckpoint verifies and parses a signed checkpoint.
func OpenCheckpoint(msg []byte, vkey string) (Checkpoint, error) {
	text, err := OpenNote(msg, vkey)
	if err != nil {
		return Checkpoint{}, err
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: too few lines")
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin != strings.SplitN(vkey, "+", 2)[0] {
		return c, errors.New("checkpoint: origin is not the key's name")
	}
	if c.Size, err = strconv.Atoi(lines[1]); err != nil {
		return c, err
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return c, errors.New("checkpoint: bad root")
	}
	copy(c.Root[:], root)
	return c, nil
}

// TilePath spells a tile path per C2SP tlog-tiles; level -1 is the entry
// bundle.
func TilePath(level, n, width int) string {
	l := strconv.Itoa(level)
	if level < 0 {
		l = "entries"
	}
	digits := fmt.Sprintf("%03d", n)
	for len(digits)%3 != 0 {
		digits = "0" + digits
	}
	var groups []string
	for i := 0; i < len(digits); i += 3 {
		g := digits[i : i+3]
		if i+3 < len(digits) {
			g = "x" + g
		}
		groups = append(groups, g)
	}
	p := "tile/" + l + "/" + strings.Join(groups, "/")
	if width < 256 {
		p += ".p/" + strconv.Itoa(width)
	}
	return p
}

// SplitBundle reads an entry bundle: big-endian uint16 length-prefixed entries.
func SplitBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("bundle: truncated length")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("bundle: truncated entry")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}
