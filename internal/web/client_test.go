package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/notrain/notrain/client"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/tokens"
	"github.com/notrain/notrain/internal/web"
)

// refusal asserts that err is a refusal of the given status and code.
func refusal(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code || e.Message == "" {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
	return e
}

// TestClientObjectionWithdrawalAndAccess drives the objection, withdrawal
// and access flows, my data and model registration through the client
// package, against a real server whose every answer is checked against the
// API document.
func TestClientObjectionWithdrawalAndAccess(t *testing.T) {
	e := newEnv(t, web.Config{})
	ctx := context.Background()
	c := client.NewClient(e.URL+"/", nil)

	if h, err := c.Health(ctx); err != nil || h.Status != "ok" || h.Store == "" {
		t.Fatalf("health: %+v %v", h, err)
	}
	e2 := refusal(t, nil2(c.StartObjection(ctx, client.ObjectionRequest{Email: "anna@example.de", Scope: []string{"myspace"}})), 400, "scope_invalid")
	if e2.Field != "scope" {
		t.Fatalf("field %q", e2.Field)
	}
	en := refusal(t, nil2(c.StartObjection(ctx, client.ObjectionRequest{Email: "not an address"})), 400, "email_invalid")
	de := refusal(t, nil2(c.StartObjection(ctx, client.ObjectionRequest{Email: "not an address"}, client.AcceptLanguage("de"))), 400, "email_invalid")
	if en.Message == de.Message {
		t.Fatalf("Accept-Language ignored: %q", de.Message)
	}

	// A retried start with the same key is the same request.
	req := client.ObjectionRequest{Email: "anna@example.de", Scope: []string{"facebook"}, Reason: "my photos", Lang: "en"}
	st, err := c.StartObjection(ctx, req, client.IdempotencyKey("obj-1"))
	if err != nil || st.Status != "code_sent" || st.RequestID == "" || !st.ExpiresAt.After(e.Clock.Now()) {
		t.Fatalf("start: %+v %v", st, err)
	}
	again, err := c.StartObjection(ctx, req, client.IdempotencyKey("obj-1"))
	if err != nil || again != st {
		t.Fatalf("replay: %+v %v, first %+v", again, err, st)
	}
	if len(e.MailsTo(t, "anna@example.de")) != 1 {
		t.Fatal("a replayed start mailed again")
	}
	tooSoon := refusal(t, nil2(c.ResendObjection(ctx, st.RequestID)), 429, "resend_too_soon")
	if tooSoon.RetryAfter <= 0 {
		t.Fatalf("no Retry-After: %+v", tooSoon)
	}
	e.Clock.Advance(2 * time.Minute)
	re, err := c.ResendObjection(ctx, st.RequestID)
	if err != nil || re.RequestID != st.RequestID {
		t.Fatalf("resend: %+v %v", re, err)
	}
	wrong := refusal(t, nil2(c.VerifyObjection(ctx, st.RequestID, "000000")), 400, "code_invalid")
	if wrong.AttemptsRemaining == nil || *wrong.AttemptsRemaining < 1 {
		t.Fatalf("attempts remaining: %+v", wrong)
	}
	obj, err := c.VerifyObjection(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil || obj.Reference == "" || obj.Scope != "facebook" || len(obj.Accounts) != 1 || obj.Accounts[0].Product != "facebook" || obj.Receipt == "" {
		t.Fatalf("verify: %+v %v", obj, err)
	}
	refusal(t, nil2(c.VerifyObjection(ctx, st.RequestID, e.CodeFor(t, st.RequestID))), 409, "code_used")
	if cp, err := c.LogCheckpoint(ctx); err != nil || !strings.Contains(string(cp), "\n\n— ") {
		t.Fatalf("checkpoint: %q %v", cp, err)
	}

	e.Clock.Advance(61 * time.Minute) // past the hourly limit of codes per address
	st, err = c.StartWithdrawal(ctx, client.EmailRequest{Email: "anna@example.de"})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Minute)
	if _, err := c.ResendWithdrawal(ctx, st.RequestID); err != nil {
		t.Fatal(err)
	}
	wd, err := c.VerifyWithdrawal(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil || wd.ObjectionsEnded != 1 || wd.WithdrawnAt.IsZero() {
		t.Fatalf("withdrawal: %+v %v", wd, err)
	}

	e.Clock.Advance(61 * time.Minute) // past the hourly limit of codes per address
	st, err = c.StartAccess(ctx, client.EmailRequest{Email: "anna@example.de", Lang: "de"})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Minute)
	if _, err := c.ResendAccess(ctx, st.RequestID); err != nil {
		t.Fatal(err)
	}
	tok, err := c.VerifyAccess(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil || tok.Token == "" {
		t.Fatalf("access: %+v %v", tok, err)
	}
	ov, err := c.Me(ctx, tok.Token)
	if err != nil || len(ov.Objections) != 1 || ov.Objections[0].Status != "withdrawn" || ov.Objections[0].Reference != obj.Reference ||
		len(ov.Withdrawals) != 1 || ov.Withdrawals[0].Reference != wd.Reference || len(ov.Accounts) != 3 {
		t.Fatalf("me: %+v %v", ov, err)
	}
	refusal(t, nil2(c.Me(ctx, tok.Token+"x")), 401, "unauthorized")

	// A model, with an operator token.
	register(t, e.DB, "snap_a", e.Clock.Now().Add(-time.Hour), store.AccountItems{Product: "facebook", AccountID: "u1", Items: 3})
	op, err := tokens.Create(ctx, e.DB, e.Keys, tokens.ScopeModels, "trainer", e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.RegisterModel(ctx, op, client.ModelRequest{Name: "lm-1", Snapshots: []string{"snap_a"}, TrainedAt: "2026-05-01T00:00:00Z"})
	if err != nil || m.ID == "" || m.TrainedAt == nil || m.LedgerSeq == 0 {
		t.Fatalf("model: %+v %v", m, err)
	}
	unknown := refusal(t, nil2(c.RegisterModel(ctx, op, client.ModelRequest{Name: "lm-2", Snapshots: []string{"snap_a", "snap_x"}})), 422, "snapshot_unknown")
	if len(unknown.Snapshots) != 1 || unknown.Snapshots[0] != "snap_x" {
		t.Fatalf("missing snapshots: %+v", unknown)
	}
	refusal(t, nil2(c.RegisterModel(ctx, tok.Token, client.ModelRequest{Name: "lm-3", Snapshots: []string{"snap_a"}})), 401, "unauthorized")
}

// TestClientReportAndConsentFlows drives the report and consent flows
// through the client package.
func TestClientReportAndConsentFlows(t *testing.T) {
	ctx := context.Background()
	e, _ := reportEnv(t)
	c := client.NewClient(e.URL, &http.Client{Timeout: 10 * time.Second})
	refusal(t, nil2(c.StartReport(ctx, client.ReportRequest{Email: "anna@example.de", Relation: "me"})), 400, "items_required")
	st, err := c.StartReport(ctx, client.ReportRequest{Email: "anna@example.de", Items: []string{"fb:1001"}, Relation: "me", Description: "a photo of me"})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Minute)
	if _, err := c.ResendReport(ctx, st.RequestID); err != nil {
		t.Fatal(err)
	}
	rp, err := c.VerifyReport(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil || rp.Reference == "" || rp.Status != "in_review" || !rp.DueAt.After(rp.ReceivedAt) {
		t.Fatalf("report: %+v %v", rp, err)
	}

	e = newConsentEnv(t)
	c = client.NewClient(e.URL, nil)
	refusal(t, nil2(c.StartConsent(ctx, client.ConsentRequest{Email: "anna@example.de"})), 400, "scope_required")
	st, err = c.StartConsent(ctx, client.ConsentRequest{Email: "anna@example.de", Scope: []string{"facebook", "instagram"}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := c.VerifyConsent(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil || cs.Scope != "facebook,instagram" || len(cs.Accounts) != 2 {
		t.Fatalf("consent: %+v %v", cs, err)
	}
	e.Clock.Advance(61 * time.Minute) // past the hourly limit of codes per address
	st, err = c.StartConsentWithdrawal(ctx, client.ConsentRequest{Email: "anna@example.de", Scope: []string{"instagram"}})
	if err != nil {
		t.Fatal(err)
	}
	cw, err := c.VerifyConsentWithdrawal(ctx, st.RequestID, e.CodeFor(t, st.RequestID))
	if err != nil || cw.ConsentsEnded != 1 || len(cw.ProductsEnded) != 1 || cw.ProductsEnded[0] != "instagram" {
		t.Fatalf("consent withdrawal: %+v %v", cw, err)
	}
}

// nil2 keeps the error of a call whose answer a refusal test ignores.
func nil2[T any](_ T, err error) error { return err }
