package translog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is fixed by C2SP tlog-tiles: tiles are 256 hashes wide.
const TileHeight = 8

// TileWidth is the number of hashes in a full tile, or entries in a full bundle.
const TileWidth = 1 << TileHeight

// Tile names a tile or an entry bundle. L is -1 for an entry bundle.
type Tile struct {
	L int
	N int64
	W int // 1..256; 256 is a full tile
}

// Entries reports whether t is an entry bundle.
func (t Tile) Entries() bool { return t.L < 0 }

// Path is t's path under the log's prefix, as C2SP tlog-tiles spells it:
// tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], N in 3-digit groups,
// all but the last with an x.
func (t Tile) Path() string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.Entries() {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(t.L))
	}
	n := strconv.FormatInt(t.N, 10)
	for len(n)%3 != 0 {
		n = "0" + n
	}
	for i := 0; i < len(n); i += 3 {
		b.WriteByte('/')
		if i+3 < len(n) {
			b.WriteByte('x')
		}
		b.WriteString(n[i : i+3])
	}
	if t.W < TileWidth {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(t.W))
	}
	return b.String()
}

// ErrNoTile is returned for a path that names no tile, or one the tree
// does not (yet) hold.
var ErrNoTile = errors.New("translog: no such tile")

// ParseTilePath reads a tile path. Only the canonical spelling is a tile:
// whatever Path would not produce is refused, so each tile has one URL
// and caches cannot be filled with aliases.
func ParseTilePath(p string) (Tile, error) {
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return Tile{}, ErrNoTile
	}
	level, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return Tile{}, ErrNoTile
	}
	t := Tile{W: TileWidth}
	if level == "entries" {
		t.L = -1
	} else {
		l, err := strconv.Atoi(level)
		if err != nil || l < 0 || l > 63 {
			return Tile{}, ErrNoTile
		}
		t.L = l
	}
	if i := strings.Index(rest, ".p/"); i >= 0 {
		w, err := strconv.Atoi(rest[i+3:])
		if err != nil || w < 1 || w >= TileWidth {
			return Tile{}, ErrNoTile
		}
		t.W, rest = w, rest[:i]
	}
	var n int64
	groups := strings.Split(rest, "/")
	if len(groups) > 7 { // 2^63 has 19 digits
		return Tile{}, ErrNoTile
	}
	for i, g := range groups {
		if i < len(groups)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return Tile{}, ErrNoTile
			}
		}
		if len(g) != 3 || strings.Trim(g, "0123456789") != "" {
			return Tile{}, ErrNoTile
		}
		d, _ := strconv.Atoi(g)
		if n > (1<<62)/1000 {
			return Tile{}, ErrNoTile
		}
		n = n*1000 + int64(d)
	}
	t.N = n
	if t.Path() != p {
		return Tile{}, ErrNoTile
	}
	return t, nil
}

// Within reports whether a tree of the given size holds all of t.
func (t Tile) Within(size int64) bool {
	level := t.L
	if t.Entries() {
		level = 0
	}
	// The tile's last hash covers leaves up to (N*256 + W) * 256^L.
	span := int64(1)
	for range level {
		if span > size {
			return false
		}
		span *= TileWidth
	}
	end := t.N*TileWidth + int64(t.W)
	return end > 0 && end <= size/span
}

// ReadTile returns the hashes of a Merkle tree tile of a tree of the given
// size, read through r.
func ReadTile(t Tile, size int64, r tlog.HashReader) ([]byte, error) {
	if t.Entries() || !t.Within(size) {
		return nil, ErrNoTile
	}
	data, err := tlog.ReadTileData(tlog.Tile{H: TileHeight, L: t.L, N: t.N, W: t.W}, r)
	if err != nil {
		return nil, fmt.Errorf("translog: tile %s: %w", t.Path(), err)
	}
	return data, nil
}

// Bundle encodes entries (leaf data) as an entry bundle: each prefixed by
// its length as a big-endian uint16.
func Bundle(entries [][]byte) ([]byte, error) {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	b := make([]byte, 0, n)
	for _, e := range entries {
		if len(e) > 0xffff {
			return nil, fmt.Errorf("translog: an entry of %d bytes does not fit a bundle", len(e))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b, nil
}
