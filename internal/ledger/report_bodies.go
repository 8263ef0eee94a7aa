package ledger

// ReportReceived is the body of a report.received entry: a verified
// report of items about a person. Subject is the keyed pseudonym of the
// reporter's address; neither the address nor the description is here.
type ReportReceived struct {
	Reference  string   `json:"reference"`
	Subject    string   `json:"subject"`
	Items      []string `json:"items"`
	Relation   string   `json:"relation"` // me | my_child | other
	Channel    string   `json:"channel"`
	ReceivedAt string   `json:"received_at"`
}

// ReportDecided is the body of a report.decided entry: who decided what on
// a report. An approval lists the items it added to the exclusion list.
// The note the person is told is not here: it may name them.
type ReportDecided struct {
	Reference string   `json:"reference"`
	Decision  string   `json:"decision"` // approve | reject | more_info
	Operator  string   `json:"operator"`
	Items     []string `json:"items"`
	DecidedAt string   `json:"decided_at"`
}
