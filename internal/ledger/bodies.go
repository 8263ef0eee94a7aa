package ledger

// Typed bodies of the entries the objection flows write. Body encodes them
// canonically; times are RFC 3339 strings in UTC, as a verifier reads them.

// ObjectionAccepted is the body of an objection.accepted entry. Accounts
// and Subject are keyed pseudonyms, never account ids or addresses.
type ObjectionAccepted struct {
	Reference   string   `json:"reference"`
	Subject     string   `json:"subject"` // pseudonym of the e-mail hash, "" for objections by account
	Accounts    []string `json:"accounts"`
	Scope       string   `json:"scope"`
	Channel     string   `json:"channel"`
	ReceivedAt  string   `json:"received_at"`
	EffectiveAt string   `json:"effective_at"`
}

// ObjectionWithdrawn is the body of an objection.withdrawn entry.
type ObjectionWithdrawn struct {
	Reference   string   `json:"reference"`
	Subject     string   `json:"subject"`
	Objections  []string `json:"objections"` // references of the objections it ended
	Channel     string   `json:"channel"`
	WithdrawnAt string   `json:"withdrawn_at"`
}

// ModelRegistered is the body of a model.registered entry: a model and the
// snapshots it was trained on.
type ModelRegistered struct {
	Model     string   `json:"model"`
	Name      string   `json:"name"`
	Snapshots []string `json:"snapshots"`
	TrainedAt string   `json:"trained_at"` // "" when not given
}

// ConsentGiven is the body of a consent.given entry: who consented (keyed
// pseudonyms) to training on which accounts, from when.
type ConsentGiven struct {
	Reference string   `json:"reference"`
	Subject   string   `json:"subject"`
	Accounts  []string `json:"accounts"`
	Scope     string   `json:"scope"`
	Channel   string   `json:"channel"`
	GivenAt   string   `json:"given_at"`
	// RemainderOf is the consent this one continues for the accounts a
	// withdrawal for some products left covered ("" for a consent given).
	RemainderOf string `json:"remainder_of,omitempty"`
}

// ConsentWithdrawn is the body of a consent.withdrawn entry.
type ConsentWithdrawn struct {
	Reference   string   `json:"reference"`
	Subject     string   `json:"subject"`
	Consents    []string `json:"consents"` // references of the consents it ended
	Channel     string   `json:"channel"`
	WithdrawnAt string   `json:"withdrawn_at"`
	// Scope is "all" or the products withdrawn; Remainders the consents
	// recorded at the same moment for the other accounts the ended ones
	// covered (each its own consent.given entry).
	Scope      string   `json:"scope,omitempty"`
	Remainders []string `json:"remainders,omitempty"`
}
