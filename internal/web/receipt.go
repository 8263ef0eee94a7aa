package web

import (
	"net/http"

	"github.com/notrain/notrain/internal/objection"
	"github.com/notrain/notrain/internal/receipt"
)

// receiptDownload serves the receipt of a completed request as a file
// named after its reference. Whoever holds the request id may fetch it,
// as for the confirmation page; anything else gets that page's 404.
func (s *Server) receiptDownload(flow objection.Flow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, ok := s.result(w, r, flow)
		if !ok {
			return
		}
		if out.LedgerSeq < 1 {
			s.notFound(w, r)
			return
		}
		b, err := receipt.Make(r.Context(), s.db.RecentLog(), out.LedgerSeq)
		if err != nil {
			s.log.Error("receipt", "err", err)
			s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+out.Reference+`.tlog-proof"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	}
}
