package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPIDoc is the API document as served, with its entity tag.
type openAPIDoc struct {
	body []byte
	etag string
}

func newOpenAPIDoc(body []byte) openAPIDoc {
	sum := sha256.Sum256(body)
	return openAPIDoc{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// openAPI serves the embedded API document. It changes only with a new
// release, so caches may keep it an hour and revalidate with the ETag.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", s.apiDoc.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.apiDoc.body))
}
