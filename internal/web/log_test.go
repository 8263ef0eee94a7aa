package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/testutil/rfc6962"
	"github.com/notrain/notrain/internal/web"
)

func getRaw(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// A bare transport: it neither asks for nor undoes gzip by itself.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// The log's tiles and entry bundles, read by a client written from the
// C2SP specs alone (rfc6962), rebuild the signed checkpoint's tree.
func TestLogTilesMirrorTheLog(t *testing.T) {
	e := newEnv(t, web.Config{})
	for i := range 600 {
		if err := e.DB.Write(context.Background(), func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Append(ctx, time.Unix(1_700_000_000, 0), "test.entry", map[string]any{"n": i, "pad": strings.Repeat("x", i%50)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	resp, vkey := getRaw(t, e.URL+"/log/key")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/log/key: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, note := getRaw(t, e.URL+"/log/checkpoint")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("/log/checkpoint: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("the checkpoint is cacheable for long: %s", cc)
	}
	cp, err := rfc6962.OpenCheckpoint(note, strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size < 600 {
		t.Fatalf("checkpoint size %d, want at least 600", cp.Size)
	}
	var leaves [][32]byte
	for n := 0; n*256 < cp.Size; n++ {
		w := min(256, cp.Size-n*256)
		resp, b := getRaw(t, e.URL+"/log/"+rfc6962.TilePath(-1, n, w), "Accept-Encoding", "gzip")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("bundle %d: %d %s", n, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("bundle %d is not cacheable: %s", n, cc)
		}
		entries, err := rfc6962.SplitBundle(b)
		if err != nil || len(entries) != w {
			t.Fatalf("bundle %d: %d entries, %v; want %d", n, len(entries), err, w)
		}
		resp, tile := getRaw(t, e.URL+"/log/"+rfc6962.TilePath(0, n, w))
		if resp.StatusCode != 200 || len(tile) != 32*w {
			t.Fatalf("tile 0/%d: %d, %d bytes", n, resp.StatusCode, len(tile))
		}
		for i, entry := range entries {
			h := rfc6962.LeafHash(entry)
			if !bytes.Equal(tile[32*i:32*i+32], h[:]) {
				t.Fatalf("entry %d of bundle %d does not hash to its tile's hash", i, n)
			}
			leaves = append(leaves, h)
		}
	}
	if rfc6962.MTH(leaves) != cp.Root {
		t.Fatal("the entries served do not make the signed root")
	}
	full := cp.Size / 256
	resp, l1 := getRaw(t, e.URL+"/log/"+rfc6962.TilePath(1, 0, full))
	if resp.StatusCode != 200 || len(l1) != 32*full {
		t.Fatalf("level-1 tile: %d, %d bytes", resp.StatusCode, len(l1))
	}
	for i := range full {
		want := rfc6962.MTH(leaves[256*i : 256*i+256])
		if !bytes.Equal(l1[32*i:32*i+32], want[:]) {
			t.Fatalf("level-1 hash %d is not the root of tile 0/%d", i, i)
		}
	}
	for _, p := range []string{
		rfc6962.TilePath(0, full, cp.Size%256+1), // beyond the checkpoint
		rfc6962.TilePath(0, full+1, 1),
		rfc6962.TilePath(1, 0, full+1),
		rfc6962.TilePath(2, 0, 1),
		"tile/0/x000/000", "tile/0/0", "tile/8/0/000",
	} {
		if resp, _ := getRaw(t, e.URL+"/log/"+p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}
