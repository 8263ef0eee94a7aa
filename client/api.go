package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// ObjectionRequest starts an objection (POST /api/v1/objections). A nil
// Scope covers every account of the address.
type ObjectionRequest struct {
	Email  string   `json:"email"`
	Scope  []string `json:"scope,omitempty"`
	Reason string   `json:"reason,omitempty"`
	Lang   string   `json:"lang,omitempty"`
}

// EmailRequest starts a withdrawal or an access request.
type EmailRequest struct {
	Email string `json:"email"`
	Lang  string `json:"lang,omitempty"`
}

// ConsentRequest starts a consent or its withdrawal (policy mode consent);
// a consent needs a Scope.
type ConsentRequest struct {
	Email string   `json:"email"`
	Scope []string `json:"scope,omitempty"`
	Lang  string   `json:"lang,omitempty"`
}

// ReportRequest reports content that shows the person.
type ReportRequest struct {
	Email       string   `json:"email"`
	Items       []string `json:"items"`
	Relation    string   `json:"relation,omitempty"` // me | my_child | other
	Description string   `json:"description,omitempty"`
	Account     string   `json:"account,omitempty"`
	Follows     string   `json:"follows,omitempty"` // the report this one follows up
	Lang        string   `json:"lang,omitempty"`
}

// Started is a saved code request. It reads the same whether or not the
// address has an account.
type Started struct {
	RequestID   string    `json:"request_id"`
	Status      string    `json:"status"` // code_sent
	ExpiresAt   time.Time `json:"expires_at"`
	ResendAfter time.Time `json:"resend_after"`
	CodeDelayed bool      `json:"code_delayed"` // mails are behind: the code comes late
}

// Account is an account a decision covers.
type Account struct {
	Product string `json:"product"`
	Handle  string `json:"handle"`
}

// Objection is a confirmed objection.
type Objection struct {
	Reference   string    `json:"reference"`
	Status      string    `json:"status"`
	EffectiveAt time.Time `json:"effective_at"`
	Scope       string    `json:"scope"`
	Accounts    []Account `json:"accounts"`
	Receipt     string    `json:"receipt"` // empty when it could not be made right then
}

// Withdrawal is a confirmed withdrawal of objections.
type Withdrawal struct {
	Reference       string    `json:"reference"`
	Status          string    `json:"status"`
	WithdrawnAt     time.Time `json:"withdrawn_at"`
	ObjectionsEnded int       `json:"objections_ended"`
	Receipt         string    `json:"receipt"`
}

// Consent is a confirmed consent.
type Consent struct {
	Reference string    `json:"reference"`
	Status    string    `json:"status"`
	GivenAt   time.Time `json:"given_at"`
	Scope     string    `json:"scope"`
	Accounts  []Account `json:"accounts"`
	Receipt   string    `json:"receipt"`
}

// ConsentWithdrawal is a confirmed withdrawal of consent.
type ConsentWithdrawal struct {
	Reference     string    `json:"reference"`
	Status        string    `json:"status"`
	WithdrawnAt   time.Time `json:"withdrawn_at"`
	ConsentsEnded int       `json:"consents_ended"`
	Scope         string    `json:"scope"`
	ProductsEnded []string  `json:"products_ended"`
	ProductsKept  []string  `json:"products_kept"`
	Receipt       string    `json:"receipt"`
}

// Report is a confirmed report, now in review.
type Report struct {
	Reference  string    `json:"reference"`
	Status     string    `json:"status"`
	Items      []string  `json:"items"`
	ReceivedAt time.Time `json:"received_at"`
	DueAt      time.Time `json:"due_at"`
	Receipt    string    `json:"receipt"`
}

// AccessToken opens GET /api/v1/me until it expires.
type AccessToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Overview is everything the server holds about an address (GDPR Art. 15).
type Overview struct {
	Accounts []struct {
		Product   string `json:"product"`
		AccountID string `json:"account_id"`
	} `json:"accounts"`
	Objections []struct {
		Reference   string     `json:"reference"`
		Status      string     `json:"status"`
		Scope       string     `json:"scope"`
		EffectiveAt *time.Time `json:"effective_at"`
		WithdrawnAt *time.Time `json:"withdrawn_at"`
		Receipt     string     `json:"receipt"`
	} `json:"objections"`
	Withdrawals []struct {
		Reference       string    `json:"reference"`
		WithdrawnAt     time.Time `json:"withdrawn_at"`
		ObjectionsEnded int64     `json:"objections_ended"`
		Receipt         string    `json:"receipt"`
	} `json:"withdrawals"`
	Snapshots []struct {
		SnapshotID       string           `json:"snapshot_id"`
		AsOf             string           `json:"as_of"`
		Items            map[string]int64 `json:"items"` // "<product>:<account_id>" → items kept
		ObjectionInForce bool             `json:"objection_in_force"`
	} `json:"snapshots"`
	Models []struct {
		Name      string   `json:"name"`
		Snapshots []string `json:"snapshots"`
		TrainedAt *string  `json:"trained_at"`
	} `json:"models"`
	Consents []struct {
		Reference   string     `json:"reference"`
		GivenAt     time.Time  `json:"given_at"`
		WithdrawnAt *time.Time `json:"withdrawn_at"`
		Scope       string     `json:"scope"`
		Receipt     string     `json:"receipt"`
	} `json:"consents"`
	Reports []struct {
		Reference  string     `json:"reference"`
		ReceivedAt time.Time  `json:"received_at"`
		Status     string     `json:"status"`
		Items      []string   `json:"items"`
		DecidedAt  *time.Time `json:"decided_at"`
		Receipt    string     `json:"receipt"`
	} `json:"reports"`
}

// ModelRequest registers a model trained on snapshots.
type ModelRequest struct {
	Name      string   `json:"name"`
	Snapshots []string `json:"snapshots"`
	TrainedAt string   `json:"trained_at,omitempty"` // RFC 3339 time
}

// Model is a registered model.
type Model struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Snapshots    []string   `json:"snapshots"`
	TrainedAt    *time.Time `json:"trained_at"`
	RegisteredAt time.Time  `json:"registered_at"`
	LedgerSeq    int64      `json:"ledger_seq"`
}

// Health is the server's state (GET /healthz).
type Health struct {
	Status          string `json:"status"` // ok | failing | unavailable
	Store           string `json:"store"`
	Mail            string `json:"mail"`
	OutboxQueued    int64  `json:"outbox_queued"`
	OutboxAbandoned int64  `json:"outbox_abandoned"`
}

type verifyRequest struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
}

type resendRequest struct {
	RequestID string `json:"request_id"`
}

// start, verify and resend are the three calls of every code flow.
func start[T any](c *Client, ctx context.Context, path string, in T, opts []Option) (Started, error) {
	var st Started
	return st, c.do(ctx, http.MethodPost, path, in, &st, opts)
}

func verify[T any](c *Client, ctx context.Context, path, requestID, code string, opts []Option) (T, error) {
	var out T
	return out, c.do(ctx, http.MethodPost, path+"/verify", verifyRequest{requestID, code}, &out, opts)
}

func (c *Client) resend(ctx context.Context, path, requestID string, opts []Option) (Started, error) {
	var st Started
	return st, c.do(ctx, http.MethodPost, path+"/resend", resendRequest{requestID}, &st, opts)
}

// StartObjection asks for a code to confirm an objection.
func (c *Client) StartObjection(ctx context.Context, in ObjectionRequest, opts ...Option) (Started, error) {
	return start(c, ctx, "/api/v1/objections", in, opts)
}

// VerifyObjection confirms an objection with the mailed code.
func (c *Client) VerifyObjection(ctx context.Context, requestID, code string, opts ...Option) (Objection, error) {
	return verify[Objection](c, ctx, "/api/v1/objections", requestID, code, opts)
}

// ResendObjection mails a new code for a pending objection.
func (c *Client) ResendObjection(ctx context.Context, requestID string, opts ...Option) (Started, error) {
	return c.resend(ctx, "/api/v1/objections", requestID, opts)
}

// StartWithdrawal asks for a code to withdraw every objection of an address.
func (c *Client) StartWithdrawal(ctx context.Context, in EmailRequest, opts ...Option) (Started, error) {
	return start(c, ctx, "/api/v1/withdrawals", in, opts)
}

// VerifyWithdrawal confirms a withdrawal.
func (c *Client) VerifyWithdrawal(ctx context.Context, requestID, code string, opts ...Option) (Withdrawal, error) {
	return verify[Withdrawal](c, ctx, "/api/v1/withdrawals", requestID, code, opts)
}

// ResendWithdrawal mails a new code for a pending withdrawal.
func (c *Client) ResendWithdrawal(ctx context.Context, requestID string, opts ...Option) (Started, error) {
	return c.resend(ctx, "/api/v1/withdrawals", requestID, opts)
}

// StartAccess asks for a code to see the data held about an address.
func (c *Client) StartAccess(ctx context.Context, in EmailRequest, opts ...Option) (Started, error) {
	return start(c, ctx, "/api/v1/access", in, opts)
}

// VerifyAccess exchanges the code for a token of Me. It is not kept for
// Idempotency-Key (the token would be kept in clear).
func (c *Client) VerifyAccess(ctx context.Context, requestID, code string, opts ...Option) (AccessToken, error) {
	return verify[AccessToken](c, ctx, "/api/v1/access", requestID, code, opts)
}

// ResendAccess mails a new code for a pending access request.
func (c *Client) ResendAccess(ctx context.Context, requestID string, opts ...Option) (Started, error) {
	return c.resend(ctx, "/api/v1/access", requestID, opts)
}

// Me reads everything held about the address the token answers for.
func (c *Client) Me(ctx context.Context, token string, opts ...Option) (Overview, error) {
	var ov Overview
	return ov, c.do(ctx, http.MethodGet, "/api/v1/me", nil, &ov, append([]Option{Bearer(token)}, opts...))
}

// StartReport asks for a code to confirm a report (servers with reports).
func (c *Client) StartReport(ctx context.Context, in ReportRequest, opts ...Option) (Started, error) {
	return start(c, ctx, "/api/v1/reports", in, opts)
}

// VerifyReport confirms a report.
func (c *Client) VerifyReport(ctx context.Context, requestID, code string, opts ...Option) (Report, error) {
	return verify[Report](c, ctx, "/api/v1/reports", requestID, code, opts)
}

// ResendReport mails a new code for a pending report.
func (c *Client) ResendReport(ctx context.Context, requestID string, opts ...Option) (Started, error) {
	return c.resend(ctx, "/api/v1/reports", requestID, opts)
}

// StartConsent asks for a code to confirm a consent (policy mode consent).
func (c *Client) StartConsent(ctx context.Context, in ConsentRequest, opts ...Option) (Started, error) {
	return start(c, ctx, "/api/v1/consents", in, opts)
}

// VerifyConsent confirms a consent.
func (c *Client) VerifyConsent(ctx context.Context, requestID, code string, opts ...Option) (Consent, error) {
	return verify[Consent](c, ctx, "/api/v1/consents", requestID, code, opts)
}

// StartConsentWithdrawal asks for a code to withdraw consent.
func (c *Client) StartConsentWithdrawal(ctx context.Context, in ConsentRequest, opts ...Option) (Started, error) {
	return start(c, ctx, "/api/v1/consent-withdrawals", in, opts)
}

// VerifyConsentWithdrawal confirms a withdrawal of consent.
func (c *Client) VerifyConsentWithdrawal(ctx context.Context, requestID, code string, opts ...Option) (ConsentWithdrawal, error) {
	return verify[ConsentWithdrawal](c, ctx, "/api/v1/consent-withdrawals", requestID, code, opts)
}

// RegisterModel registers a model with an operator token of scope models.
func (c *Client) RegisterModel(ctx context.Context, token string, in ModelRequest, opts ...Option) (Model, error) {
	var m Model
	return m, c.do(ctx, http.MethodPost, "/api/v1/models", in, &m, append([]Option{Bearer(token)}, opts...))
}

// Health reads GET /healthz. An unhealthy server is an *Error of status
// 503 beside the Health it reported.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/healthz", nil, &h, nil)
	if e := (*Error)(nil); errors.As(err, &e) && e.Status == http.StatusServiceUnavailable {
		// The answer is a Health, not the error envelope: keep what it says.
		e.Message = "not healthy"
		_ = json.Unmarshal([]byte(e.raw), &h)
	}
	return h, err
}

// LogCheckpoint fetches the log's latest signed checkpoint (a C2SP signed
// note), to verify receipts against.
func (c *Client) LogCheckpoint(ctx context.Context) ([]byte, error) {
	return c.getText(ctx, "/log/checkpoint")
}
