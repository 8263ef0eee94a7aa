package ledger

// The log's entries are public (tile bundles): a report's entries carry
// keyed pseudonyms of its items, never the ids, since "someone asked to
// keep this photo out, it shows them (or their child)" is itself about a
// person. Whoever holds the key (the operator, for an authority) can show
// which items they stand for.

// ReportReceived is the body of a report.received entry: a verified
// report of items about a person. Subject is the keyed pseudonym of the
// reporter's address; neither the address, nor the description, nor what
// the items show is here.
type ReportReceived struct {
	Reference  string   `json:"reference"`
	Subject    string   `json:"subject"`
	Items      []string `json:"items"` // pseudonyms of the item ids, in the report's order
	Channel    string   `json:"channel"`
	ReceivedAt string   `json:"received_at"`
}

// ReportDecided is the body of a report.decided entry: who decided what on
// a report, and its items (pseudonyms; an approval put them on the
// exclusion list). The note the person is told is not here: it may name
// them. Operator is the operator's keyed pseudonym (never the name, the
// log is public); a case closed because the person filed again
// (superseded) names none.
type ReportDecided struct {
	Reference string   `json:"reference"`
	Decision  string   `json:"decision"` // approve | reject | more_info | superseded
	Operator  string   `json:"operator,omitempty"`
	Items     []string `json:"items"`
	DecidedAt string   `json:"decided_at"`
}
