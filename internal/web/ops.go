package web

import (
	"net/http"
	"time"

	"github.com/notrain/notrain/internal/store"
)

// healthz reports whether the store takes writes and answers reads, with
// the outbox's state.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	// A store that answers reads but refuses every write (a full or
	// read-only disk) is not healthy: every objection would get a 500.
	// After a failure, one write that changes nothing tells whether the
	// store has recovered.
	if since, err := s.db.WriteHealth(); err != nil && s.db.ProbeWrite(r.Context()) != nil {
		s.log.Error("healthz: writes failing", "since", since, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "failing", "store": string(s.db.Dialect()),
			"writes": "failing", "writes_failing_seconds": int(time.Since(since) / time.Second)})
		return
	}
	if err := s.db.Ping(r.Context()); err != nil {
		s.log.Error("healthz", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": "down"})
		return
	}
	st, err := s.db.OutboxStats(r.Context())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": "down"})
		return
	}
	mailMode := "smtp"
	if s.cfg.Dev {
		mailMode = "dev"
	}
	resp := map[string]any{"status": "ok", "store": string(s.db.Dialect()), "mail": mailMode,
		"outbox_queued": st.Queued, "outbox_abandoned": st.Abandoned}
	if !st.OldestQueued.IsZero() {
		resp["outbox_oldest_queued_seconds"] = int(s.now().Sub(st.OldestQueued) / time.Second)
	}
	writeJSON(w, http.StatusOK, resp)
}

// devMails reads the newest mails of the dev mailbox, rendered.
func (s *Server) devMails(r *http.Request, limit int) ([]store.Mail, error) {
	mails, err := s.db.Mails(r.Context(), limit)
	if err != nil || s.cfg.Composer == nil {
		return mails, err
	}
	for i := range mails {
		if mails[i], err = s.cfg.Composer.Render(mails[i]); err != nil {
			return nil, err
		}
	}
	return mails, nil
}

// devMailPage shows the dev mailbox.
func (s *Server) devMailPage(w http.ResponseWriter, r *http.Request) {
	mails, err := s.devMails(r, 100)
	if err != nil {
		s.log.Error("dev mail", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "err_internal")
		return
	}
	s.page(w, r, http.StatusOK, "devmail", "dev_mailbox_link", &pageData{Mails: mails})
}

// devMailJSON is the dev mailbox for scripts and tests, newest first.
func (s *Server) devMailJSON(w http.ResponseWriter, r *http.Request) {
	mails, err := s.devMails(r, 500)
	if err != nil {
		s.log.Error("dev mail", "err", err)
		s.apiError(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	out := make([]map[string]any, len(mails))
	for i, m := range mails {
		var sent any
		if !m.SentAt.IsZero() {
			sent = m.SentAt.Format(time.RFC3339Nano)
		}
		out[i] = map[string]any{"to": m.To, "subject": m.Subject, "text": m.Text, "html": m.HTML, "sent_at": sent,
			"queued_at": m.CreatedAt.Format(time.RFC3339Nano), "kind": m.Kind, "status": m.Status, "message_id": m.MessageID}
	}
	writeJSON(w, http.StatusOK, out)
}
