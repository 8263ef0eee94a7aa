package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/notrain/notrain/internal/store"
)

// idempotencyLease is how long a request holding a key blocks repeats; a
// holder that dies frees the key after it.
const idempotencyLease = time.Minute

// idempotent implements the Idempotency-Key header (IETF httpapi draft) for
// a POST route: the first request with a key is processed and its answer
// stored; a repeat with the same body gets that answer again and writes
// nothing; the same key with another body is refused with 422, and a repeat
// while the first is still being processed with 409. Answers of 5xx are not
// kept, so a retry after a failure on our side is processed.
func (s *Server) idempotent(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			h(w, r)
			return
		}
		if !validIdempotencyKey(key) {
			s.apiError(w, r, http.StatusBadRequest, "idempotency_key_invalid", nil)
			return
		}
		body, err := io.ReadAll(r.Body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.apiError(w, r, http.StatusRequestEntityTooLarge, "body_too_large", nil)
			return
		}
		if err != nil {
			s.apiError(w, r, http.StatusBadRequest, "invalid_request", nil)
			return
		}
		sum := sha256.New()
		sum.Write([]byte(r.Header.Get("Content-Type")))
		sum.Write([]byte{0})
		sum.Write(body)
		// An answer made for one credential is replayed to that credential
		// only: the same key and body with another assertion is a
		// different request. (Only the hash is kept, never the token.)
		if auth := r.Header.Get("Authorization"); auth != "" {
			sum.Write([]byte{0})
			sum.Write([]byte(auth))
		}
		fp := hex.EncodeToString(sum.Sum(nil))
		var outcome string
		var stored store.StoredResponse
		// Claiming the key is a write like the request's own: under a surge
		// it is bounded the same way, and refused the same way.
		err = s.db.WriteWithin(r.Context(), s.svc.SaveTimeout(), func(ctx context.Context, tx *store.Tx) error {
			var err error
			outcome, stored, err = tx.ClaimIdempotencyKey(ctx, key, route, fp, s.now(), idempotencyLease)
			return err
		})
		if errors.Is(err, store.ErrSaturated) {
			s.apiFail(w, r, "", s.svc.Saturated())
			return
		}
		if err != nil {
			s.log.Error("idempotency", "err", err)
			s.apiError(w, r, http.StatusInternalServerError, "internal", nil)
			return
		}
		switch outcome {
		case store.IdemMismatch:
			s.apiError(w, r, http.StatusUnprocessableEntity, "idempotency_key_reused", nil)
			return
		case store.IdemInFlight:
			w.Header().Set("Retry-After", "1")
			s.apiError(w, r, http.StatusConflict, "idempotency_in_flight", nil)
			return
		case store.IdemReplay:
			w.Header().Set("Content-Type", stored.ContentType)
			w.Header().Set("Cache-Control", "no-store")
			if stored.RetryAfter != "" {
				w.Header().Set("Retry-After", stored.RetryAfter)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(stored.Status)
			io.WriteString(w, stored.Body)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{statusWriter: statusWriter{ResponseWriter: w}}
		h(rec, r)
		if rec.status >= 500 {
			// The person has their answer now, not after the key is released
			// (a write that waits its turn under a surge).
			http.NewResponseController(w).Flush()
		}
		// Keep the answer even if the client has gone: its retry must get it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		err = s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
			if rec.status >= 500 {
				return tx.ReleaseIdempotencyKey(ctx, key, route)
			}
			return tx.FinishIdempotencyKey(ctx, key, route, store.StoredResponse{Status: rec.status,
				ContentType: rec.Header().Get("Content-Type"), RetryAfter: rec.Header().Get("Retry-After"), Body: rec.body.String()})
		})
		if err != nil {
			// The answer went out; a repeat will wait for the lease and then
			// be processed again, which the flows handle (a used code says so).
			s.log.Error("idempotency: answer not stored", "err", err)
		}
	}
}

// validIdempotencyKey accepts 1 to 255 visible ASCII characters (UUIDs and
// the like; the draft leaves the format to the server).
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// recorder keeps a copy of the answer while writing it; statusWriter
// tracks the status.
type recorder struct {
	statusWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.statusWriter.Write(b)
}
