// Package mailload fills an outbox with mails as the objection service
// queues them (template data, rendered when sent), for measuring the
// dispatcher on its own: the go test benchmark and bench/dispatch share it.
package mailload

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/notrain/notrain/internal/ids"
	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/store"
)

// Load is what to queue.
type Load struct {
	Codes         int    // code mails (urgent)
	Confirmations int    // objection confirmations (not urgent)
	Confirmation  string // template data of a confirmation; default one without a receipt
	BaseURL       string // default http://notrain.test
	MailDomain    string // Message-ID domain; default notrain.test
	Lang          string // default en
}

// Queue adds the load to db in bulk transactions; each mail is addressed to
// personN@example.de. Codes and confirmations are interleaved, as a surge
// queues them.
func Queue(ctx context.Context, db *store.DB, l Load, now time.Time) error {
	if l.BaseURL == "" {
		l.BaseURL = "http://notrain.test"
	}
	if l.MailDomain == "" {
		l.MailDomain = "notrain.test"
	}
	if l.Lang == "" {
		l.Lang = "en"
	}
	if l.Confirmation == "" {
		b, err := json.Marshal(mail.Data{Flow: "objection", Reference: "NT-0000-0000-0000", At: now,
			Accounts: []mail.AccountLine{{Product: "facebook", Handle: "person"}}, BaseURL: l.BaseURL})
		if err != nil {
			return fmt.Errorf("mailload: %w", err)
		}
		l.Confirmation = string(b)
	}
	total := l.Codes + l.Confirmations
	const chunk = 2000
	for start := 0; start < total; start += chunk {
		err := db.Bulk(ctx, func(ctx context.Context, tx *store.Tx) error {
			for i := start; i < min(start+chunk, total); i++ {
				m, err := l.mail(i, total, now)
				if err != nil {
					return err
				}
				if err := tx.QueueMail(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("mailload: %w", err)
		}
	}
	return nil
}

// mail is the i-th of total mails: confirmations spread evenly among codes.
func (l Load) mail(i, total int, now time.Time) (store.Mail, error) {
	id := ids.Ordered()
	m := store.Mail{ID: id, MessageID: id + "@" + l.MailDomain, RequestID: ids.Request(), To: fmt.Sprintf("person%d@example.de", i),
		Lang: l.Lang, CreatedAt: now}
	if l.Confirmations > 0 && i*l.Confirmations/total != (i+1)*l.Confirmations/total {
		m.Kind, m.Data = mail.KindObjectionConfirmed, l.Confirmation
		return m, nil
	}
	data, err := json.Marshal(mail.Data{Flow: "objection", Code: fmt.Sprintf("%06d", i%1000000), ExpiresAt: now.Add(15 * time.Minute), BaseURL: l.BaseURL})
	if err != nil {
		return m, fmt.Errorf("mailload: %w", err)
	}
	m.Kind, m.Data, m.Urgent = mail.KindCode, string(data), true
	return m, nil
}
