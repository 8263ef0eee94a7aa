package translog_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/testutil/rfc6962"
	"github.com/notrain/notrain/internal/translog"
)

func TestTilePaths(t *testing.T) {
	for _, c := range []struct {
		tile translog.Tile
		path string
	}{
		{translog.Tile{L: 0, N: 0, W: 256}, "tile/0/000"},
		{translog.Tile{L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{translog.Tile{L: 2, N: 5, W: 17}, "tile/2/005.p/17"},
		{translog.Tile{L: -1, N: 1000, W: 1}, "tile/entries/x001/000.p/1"},
	} {
		if got := c.tile.Path(); got != c.path {
			t.Errorf("%+v.Path() = %q, want %q", c.tile, got, c.path)
		}
		lvl := c.tile.L
		if got := rfc6962.TilePath(lvl, int(c.tile.N), c.tile.W); got != c.path {
			t.Errorf("the independent spelling of %+v is %q, want %q", c.tile, got, c.path)
		}
		got, err := translog.ParseTilePath(c.path)
		if err != nil || got != c.tile {
			t.Errorf("ParseTilePath(%q) = %+v, %v", c.path, got, err)
		}
	}
	for _, bad := range []string{"tile/0/5", "tile/0/x000/005", "tile/0/000.p/256", "tile/0/000.p/0", "tile/0/000.p/05",
		"tile/01/000", "tile/64/000", "tile/8/0/000", "tile/entries/001/000", "tile/0/00a", "tile/0/000/", "tile/data/000", "tile/0/x1234/000", ""} {
		if tl, err := translog.ParseTilePath(bad); err == nil {
			t.Errorf("ParseTilePath(%q) = %+v, want an error", bad, tl)
		}
	}
}

func TestTileWithin(t *testing.T) {
	// A tree of 70,000 (the spec's example): 273 full level-0 tiles and
	// one of width 112, one full level-1 tile and one of width 17, and a
	// level-2 tile of width 1.
	const size = 70000
	for _, c := range []struct {
		t  translog.Tile
		ok bool
	}{
		{translog.Tile{L: 0, N: 272, W: 256}, true},
		{translog.Tile{L: 0, N: 273, W: 112}, true},
		{translog.Tile{L: 0, N: 273, W: 113}, false},
		{translog.Tile{L: 0, N: 273, W: 256}, false},
		{translog.Tile{L: 1, N: 0, W: 256}, true},
		{translog.Tile{L: 1, N: 1, W: 17}, true},
		{translog.Tile{L: 1, N: 1, W: 18}, false},
		{translog.Tile{L: 2, N: 0, W: 1}, true},
		{translog.Tile{L: 2, N: 0, W: 2}, false},
		{translog.Tile{L: 3, N: 0, W: 1}, false},
		{translog.Tile{L: -1, N: 273, W: 112}, true},
	} {
		if got := c.t.Within(size); got != c.ok {
			t.Errorf("%s within %d = %v, want %v", c.t.Path(), size, got, c.ok)
		}
	}
}

// The builder's roots and tiles agree with the RFC's definitions computed
// independently, for every size up to 600 (past two full tiles).
func TestBuilderMatchesRFC6962(t *testing.T) {
	var b translog.Builder
	var leaves [][32]byte
	stored := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := stored[x]
			if !ok {
				return nil, fmt.Errorf("no hash %d", x)
			}
			out[i] = h
		}
		return out, nil
	})
	root, _ := b.Root()
	if root != rfc6962.MTH(nil) {
		t.Fatal("empty root is not SHA-256 of nothing")
	}
	for n := range 600 {
		data := []byte(fmt.Sprintf("entry %d", n))
		hashes, err := b.Add(data)
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hashes {
			stored[tlog.StoredHashIndex(0, int64(n))+int64(i)] = h
		}
		leaves = append(leaves, rfc6962.LeafHash(data))
		root, err := b.Root()
		if err != nil {
			t.Fatal(err)
		}
		if want := rfc6962.MTH(leaves); root != want {
			t.Fatalf("size %d: root %x, RFC 6962 says %x", n+1, root, want)
		}
	}
	// Level-0 tile 1 holds leaf hashes 256…511; the level-1 tile of width
	// 2 holds the roots of the first two full level-0 tiles.
	tile, err := translog.ReadTile(translog.Tile{L: 0, N: 1, W: 256}, 600, reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		if !bytes.Equal(tile[32*i:32*i+32], leaves[256+i][:]) {
			t.Fatalf("tile 0/1 hash %d is not leaf %d", i, 256+i)
		}
	}
	tile, err = translog.ReadTile(translog.Tile{L: 1, N: 0, W: 2}, 600, reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		want := rfc6962.MTH(leaves[256*i : 256*i+256])
		if !bytes.Equal(tile[32*i:32*i+32], want[:]) {
			t.Fatalf("tile 1/0 hash %d is not the root of leaves %d…", i, 256*i)
		}
	}
	if _, err := translog.ReadTile(translog.Tile{L: 1, N: 0, W: 3}, 600, reader); err == nil {
		t.Fatal("a tile beyond the tree was served")
	}
}

func TestKeyAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.key")
	if _, _, err := translog.LoadKey(path, "example.org/notrain", false); err == nil {
		t.Fatal("a missing key file was not an error")
	}
	k, created, err := translog.LoadKey(path, "example.org/notrain", true)
	if err != nil || !created {
		t.Fatalf("LoadKey create: %v, created %v", err, created)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	again, created, err := translog.LoadKey(path, "other.example/x", true)
	if err != nil || created || again.VerifierKey() != k.VerifierKey() || again.Origin() != "example.org/notrain" {
		t.Fatalf("reloaded key differs or took the new origin: %v %v %s", err, created, again.Origin())
	}
	if !strings.HasPrefix(k.VerifierKey(), "example.org/notrain+") {
		t.Errorf("verifier key %q does not start with the origin", k.VerifierKey())
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var root tlog.Hash
	for i := range root {
		root[i] = byte(rng.UintN(256))
	}
	msg, err := k.SignCheckpoint(42, root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rfc6962.OpenCheckpoint(msg, k.VerifierKey())
	if err != nil || c.Size != 42 || c.Root != root || c.Origin != "example.org/notrain" {
		t.Fatalf("independent reader: %+v, %v", c, err)
	}
	got, err := translog.OpenCheckpoint(msg, k.Verifier())
	if err != nil || got.Size != 42 || got.Root != root {
		t.Fatalf("OpenCheckpoint: %+v, %v", got, err)
	}
	for i := range msg {
		bad := bytes.Clone(msg)
		bad[i] ^= 0x01
		if c, err := translog.OpenCheckpoint(bad, k.Verifier()); err == nil && (c.Size != 42 || c.Root != root) {
			t.Fatalf("flipping byte %d changed the checkpoint and it still verified", i)
		} else if err == nil {
			t.Fatalf("flipping byte %d: still verifies", i)
		}
	}
	other, _, _ := translog.LoadKey(filepath.Join(dir, "other.key"), "example.org/notrain", true)
	if _, err := translog.OpenCheckpoint(msg, other.Verifier()); err == nil {
		t.Fatal("a checkpoint verified under another key")
	}
}

func TestParseCheckpointRefuses(t *testing.T) {
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, bad := range []string{"", "o\n1\n", "o\n01\n" + root + "\n", "o\n-1\n" + root + "\n", "o\n1\nAAAA\n", "\n1\n" + root + "\n", "o\n1\n" + root} {
		if _, err := translog.ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) accepted", bad)
		}
	}
	if c, err := translog.ParseCheckpoint("o\n1\n" + root + "\next\n"); err != nil || c.Size != 1 {
		t.Errorf("an extension line was refused: %v", err)
	}
}

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/entries/x001/234.p/5", "tile/63/x999/x999/999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tl, err := translog.ParseTilePath(p)
		if err != nil {
			return
		}
		if tl.Path() != p {
			t.Fatalf("%q parsed to %+v, which spells %q", p, tl, tl.Path())
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add("example.org/notrain\n7\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := translog.ParseCheckpoint(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(s, c.Text()) {
			t.Fatalf("%q parsed to %+v, which prints %q", s, c, c.Text())
		}
	})
}

// A checkpoint of the empty tree must name SHA-256 of nothing; any
// checkpoint may not be followed by a smaller one.
func TestCheckGrowthEdges(t *testing.T) {
	cur := translog.Checkpoint{Origin: "o", Size: 5}
	if err := translog.CheckGrowth(translog.Checkpoint{Origin: "o", Root: translog.EmptyRoot}, cur, nil); err != nil {
		t.Fatalf("the empty tree: %v", err)
	}
	if err := translog.CheckGrowth(translog.Checkpoint{Origin: "o", Root: tlog.Hash{1}}, cur, nil); err == nil {
		t.Fatal("an empty tree with another root was accepted")
	}
	if err := translog.CheckGrowth(translog.Checkpoint{Origin: "o", Size: 6}, cur, nil); err == nil {
		t.Fatal("a log that shrank was accepted")
	}
	if err := translog.CheckGrowth(translog.Checkpoint{Origin: "p", Root: translog.EmptyRoot}, cur, nil); err == nil {
		t.Fatal("checkpoints of two logs were compared")
	}
}
