// Package tlogclient reads a transparency log published as C2SP
// tlog-tiles over HTTP, trusting nothing it reads.
package tlogclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/translog"
)

// Client reads a log published per C2SP tlog-tiles: the checkpoint at
// <prefix>/checkpoint and tiles at <prefix>/tile/<L>/<N>[.p/<W>]. It
// trusts nothing it reads: the checkpoint must carry the verifier's
// signature, and every tile is checked against the signed root before a
// hash from it is used.
type Client struct {
	prefix string
	hc     *http.Client
}

// NewClient reads the log under prefix (e.g. https://portal.example/log)
// with hc (nil: a client that gives up after 30 s, so a stalled log cannot
// hang a verification).
func NewClient(prefix string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{prefix: strings.TrimSuffix(prefix, "/"), hc: hc}
}

// Limits on what a log may send: a note with a few signatures, one full
// tile (256 hashes).
const (
	maxNote = 64 << 10
	maxTile = translog.TileWidth * tlog.HashSize
)

// get fetches one resource, refusing anything but a complete 200 within max bytes.
func (c *Client) get(ctx context.Context, path string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.prefix+"/"+path, nil)
	if err != nil {
		return nil, fmt.Errorf("tlogclient: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tlogclient: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tlogclient: GET %s: %s", req.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("tlogclient: GET %s: %w", req.URL, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("tlogclient: GET %s: more than %d bytes", req.URL, max)
	}
	return b, nil
}

// VerifierKey fetches the verifier key the log publishes at <prefix>/key.
// It is only as trustworthy as the server: compare it with one published
// elsewhere.
func (c *Client) VerifierKey(ctx context.Context) (note.Verifier, string, error) {
	b, err := c.get(ctx, "key", maxNote)
	if err != nil {
		return nil, "", err
	}
	v, err := translog.NewVerifier(string(b))
	return v, strings.TrimSpace(string(b)), err
}

// Checkpoint fetches the log's current checkpoint and checks its signature.
func (c *Client) Checkpoint(ctx context.Context, v note.Verifier) (translog.Checkpoint, error) {
	b, err := c.get(ctx, "checkpoint", maxNote)
	if err != nil {
		return translog.Checkpoint{}, err
	}
	return translog.OpenCheckpoint(b, v)
}

// HashReader reads the hashes of cp's tree from the log's tiles; each tile
// is verified against cp's root (tlog.TileHashReader) before use.
func (c *Client) HashReader(ctx context.Context, cp translog.Checkpoint) tlog.HashReader {
	return tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Root}, tileReader{ctx: ctx, c: c})
}

// tileReader is tlog's TileReader over HTTP. C2SP paths have no height
// segment: the height is always 8.
type tileReader struct {
	ctx context.Context
	c   *Client
}

func (r tileReader) Height() int { return translog.TileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != translog.TileHeight || t.L < 0 {
			return nil, errors.New("tlogclient: only hash tiles of height 8 are read")
		}
		b, err := r.c.get(r.ctx, translog.Tile{L: t.L, N: t.N, W: t.W}.Path(), maxTile)
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("tlogclient: tile %s has %d bytes, want %d", translog.Tile{L: t.L, N: t.N, W: t.W}.Path(), len(b), t.W*tlog.HashSize)
		}
		out[i] = b
	}
	return out, nil
}

// SaveTiles keeps nothing: every run reads and checks afresh.
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}
