// Package eligibility decides, for one record, whether it may go into a
// training snapshot or which exclusion reason applies first (DESIGN.md,
// "Eligibility semantics"). The filter, the Beam pipeline and the status
// pages all call Engine.Decide: the rules live here and nowhere else.
package eligibility

// Reason is why a record is kept out; Keep means it is eligible.
type Reason uint8

// Reasons, in the order DESIGN.md checks them.
const (
	Keep Reason = iota
	Malformed
	NotPublic
	KindExcluded
	ProductExcluded
	UnknownAuthor
	Minor
	Objection
	NoConsent
	ThirdParty
	ItemExcluded
	RuleMatch // Decision.Rule names the rule
	// Creators' reservations on the content itself (internal/signal),
	// after every other reason.
	SignalAIPref
	SignalTDMRep
	SignalC2PA
	numReasons
)

var reasonNames = [numReasons]string{
	Keep: "eligible", Malformed: "malformed", NotPublic: "not_public", KindExcluded: "kind_excluded",
	ProductExcluded: "product_excluded", UnknownAuthor: "unknown_author", Minor: "minor",
	Objection: "objection", NoConsent: "no_consent", ThirdParty: "third_party",
	ItemExcluded: "item_excluded", RuleMatch: "rule",
	SignalAIPref: "signal_aipref", SignalTDMRep: "signal_tdmrep", SignalC2PA: "signal_c2pa",
}

// String is the reason code counted in manifests.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// NumReasons is the number of reasons (for counting arrays).
const NumReasons = int(numReasons)
