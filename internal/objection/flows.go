package objection

import (
	"context"
	"time"

	"github.com/notrain/notrain/internal/mail"
	"github.com/notrain/notrain/internal/store"
)

// FlowHandler finishes a code flow another package owns — a report, a
// consent. The code machinery (validation of the address, limits, the code,
// its mail, attempts, the overload bound) stays here, so every flow follows
// the same rules; what a confirmed code records is the handler's.
type FlowHandler struct {
	// AnyAddress gives every address the code, whether or not an account
	// uses it: a person without an account may report content about them.
	// Without it, an address no account uses gets the "no account" notice,
	// as for an objection.
	AnyAddress bool
	// Finish records what the confirmed request asked for (req.Data holds
	// what the start carried), in the transaction that uses its code. It
	// may queue mails with Service.QueueMail. Outcome.Reference becomes the
	// request's result.
	Finish func(ctx context.Context, tx *store.Tx, req store.CodeRequest, now time.Time) (Outcome, error)
	// Result reads the outcome of a completed request again (req.ResultRef
	// is Finish's reference), for its confirmation page and its receipt;
	// nil: the flow's outcomes are not shown again.
	Result func(ctx context.Context, req store.CodeRequest) (Outcome, error)
}

// Handle registers the handler of a flow. It must be called before the
// service takes requests (Handle is not safe alongside them), and never
// for the flows this package runs itself.
func (s *Service) Handle(flow Flow, h FlowHandler) {
	switch flow {
	case FlowObjection, FlowWithdrawal, FlowAccess:
		panic("objection: flow " + string(flow) + " is built in")
	}
	if h.Finish == nil {
		panic("objection: flow " + string(flow) + " has no Finish")
	}
	if s.flows == nil {
		s.flows = map[Flow]FlowHandler{}
	}
	s.flows[flow] = h
}

// Runs reports whether the service runs flow (built in or registered).
func (s *Service) Runs(flow Flow) bool {
	switch flow {
	case FlowObjection, FlowWithdrawal, FlowAccess:
		return true
	}
	_, ok := s.flows[flow]
	return ok
}

// anyAddress reports whether every address gets flow's code.
func (s *Service) anyAddress(flow Flow) bool {
	return flow == FlowAccess || s.flows[flow].AnyAddress
}

// QueueMail queues a mail about req in tx's outbox, rendered when it is
// sent: for handlers' confirmation mails.
func (s *Service) QueueMail(ctx context.Context, tx *store.Tx, kind string, req store.CodeRequest, now time.Time, d mail.Data) error {
	return s.queue(ctx, tx, kind, req, now, d)
}
