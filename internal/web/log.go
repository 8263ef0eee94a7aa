package web

import (
	"compress/gzip"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/notrain/notrain/internal/translog"
)

// The verifiable log's public read API, as C2SP tlog-tiles specifies it
// under the prefix /log: the checkpoint, the tiles of the Merkle tree and
// the entry bundles. Anyone may mirror and audit it, from any origin.

func logHeaders(w http.ResponseWriter, immutable bool) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Mutable: the spec asks that it not be cached beyond a few seconds.
		h.Set("Cache-Control", "public, max-age=2")
	}
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) {
	_, note, err := s.db.LogCheckpoint(r.Context())
	if err != nil {
		s.logError(w, r, err)
		return
	}
	if note == nil {
		http.Error(w, "the log has no checkpoint yet", http.StatusServiceUnavailable)
		return
	}
	logHeaders(w, false)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(note)
}

func (s *Server) logVerifierKey(w http.ResponseWriter, r *http.Request) {
	logHeaders(w, false)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(s.cfg.LogKey.VerifierKey() + "\n"))
}

func (s *Server) logTile(w http.ResponseWriter, r *http.Request) {
	t, err := translog.ParseTilePath("tile/" + r.PathValue("path"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	// Only what a published checkpoint covers is served: a tile of the
	// tree before it is signed would be a claim nobody signed.
	size, _, err := s.db.LogCheckpoint(r.Context())
	if err != nil {
		s.logError(w, r, err)
		return
	}
	if !t.Within(size) {
		http.NotFound(w, r)
		return
	}
	var body []byte
	if t.Entries() {
		var entries [][]byte
		if entries, err = s.db.LogEntries(r.Context(), t.N*translog.TileWidth, t.W); err == nil {
			body, err = translog.Bundle(entries)
		}
	} else {
		body, err = translog.ReadTile(t, size, s.db.LogHashes(r.Context()))
	}
	if errors.Is(err, translog.ErrNoTile) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.logError(w, r, err)
		return
	}
	logHeaders(w, true)
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.Entries() && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		zw := gzip.NewWriter(w)
		zw.Write(body)
		zw.Close()
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func (s *Server) logError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "log read failed", "path", r.URL.Path, "err", err)
	http.Error(w, "the log cannot be read right now", http.StatusServiceUnavailable)
}
