// Package evidence makes the evidence export a privacy team hands a
// data-protection authority: for one reference number (an objection, a
// withdrawal, a report, a consent), every ledger entry it touched with its
// receipt, the mails sent about it (times, kind, delivery state; never a
// code, a subject or an address) and the snapshots registered after it
// with what they kept of the accounts it covers, as one JSON document
// signed as a JWS (RFC 7515, flattened JSON serialization) with alg EdDSA
// (RFC 8037) by the log's signing key, so anyone holding the published key
// can check it. Each export is itself a ledger entry naming the operator.
//
// The ledger is public and names operators by keyed pseudonym only; the
// export, which goes to an authority, resolves every pseudonym its entries
// carry to the operator's name (Document.Operators), so "every operator
// action names the operator" holds where it is needed.
package evidence

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/receipt"
	"github.com/notrain/notrain/internal/secret"
	"github.com/notrain/notrain/internal/store"
	"github.com/notrain/notrain/internal/translog"
)

// Format names the payload's layout; it is the JWS's typ too.
const Format = "notrain-evidence+json"

// MaxOperator bounds an operator's name as the ledger records it.
const MaxOperator = 200

// ErrUnknownReference is the export of a reference no ledger entry names.
var ErrUnknownReference = errors.New("evidence: no ledger entry names this reference")

// Service makes evidence exports.
type Service struct {
	db   *store.DB
	keys *secret.Keys
	key  *translog.Key
	now  func() time.Time
}

// New makes a Service that signs with the log's key.
func New(db *store.DB, keys *secret.Keys, key *translog.Key, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, keys: keys, key: key, now: now}
}

// Document is the signed payload.
type Document struct {
	Format     string `json:"format"`
	Reference  string `json:"reference"`
	ExportedAt string `json:"exported_at"`
	Operator   string `json:"operator"` // who exported, by name
	// Operators resolves the operator pseudonyms in Entries and Export
	// (decisions, operators added, exports) to names.
	Operators map[string]string `json:"operators"`
	Log       LogInfo           `json:"log"`
	Entries   []Entry           `json:"entries"`
	Mails     []Mail            `json:"mails"`
	Accounts  []string          `json:"accounts"` // pseudonyms, as the ledger names them
	Snapshots []Snapshot        `json:"snapshots"`
	// Export is this export's own evidence.exported entry, with its receipt.
	Export Entry `json:"export"`
}

// LogInfo names the log whose key signed the document.
type LogInfo struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
}

// Entry is a ledger entry with its receipt (c2sp.org/tlog-proof).
type Entry struct {
	Seq      int64           `json:"seq"`
	At       string          `json:"at"`
	Kind     string          `json:"kind"`
	Body     json.RawMessage `json:"body"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
	Receipt  string          `json:"receipt"`
}

// Mail is a mail sent about the reference: when, what kind, how delivery went.
type Mail struct {
	Kind     string `json:"kind"`
	Request  string `json:"request_id"`
	QueuedAt string `json:"queued_at"`
	Status   string `json:"status"` // queued | sent | abandoned
	Attempts int64  `json:"attempts"`
	SentAt   string `json:"sent_at,omitempty"`
}

// Snapshot is a snapshot registered after the reference's first entry.
type Snapshot struct {
	ID             string         `json:"snapshot_id"`
	RegisteredAt   string         `json:"registered_at"`
	AsOf           string         `json:"as_of"`
	LedgerSeq      int64          `json:"ledger_seq"`
	PolicySHA256   string         `json:"policy_sha256"`
	ManifestSHA256 string         `json:"manifest_sha256"`
	Read           int64          `json:"records_read"`
	Kept           int64          `json:"records_kept"`
	KeptOfAccounts map[string]int `json:"kept_of_accounts"` // account pseudonym → items kept (absent: none)
}

// exported is the body of an evidence.exported entry.
type exported struct {
	Exported   string `json:"exported"` // the reference exported
	Operator   string `json:"operator"` // pseudonym (secret.Keys.OperatorPseudonym)
	ExportedAt string `json:"exported_at"`
	Entries    int    `json:"entries"`
}

// Export builds, records and signs the evidence of a reference. The
// result is a JWS in flattened JSON serialization.
func (s *Service) Export(ctx context.Context, reference, operator string) ([]byte, error) {
	reference = strings.TrimSpace(reference)
	operator = strings.TrimSpace(operator)
	if !plainReference(reference) {
		return nil, fmt.Errorf("evidence: %q is not a reference number", reference)
	}
	if operator == "" || len(operator) > MaxOperator || strings.ContainsFunc(operator, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("evidence: name the operator who exports (plain text, at most 200 bytes)")
	}
	ev, err := s.db.ReadEvidence(ctx, reference)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownReference, reference)
	}
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	doc := Document{Format: Format, Reference: reference, ExportedAt: now.Format(time.RFC3339Nano), Operator: operator,
		Log: LogInfo{Origin: s.key.Origin(), VerifierKey: s.key.VerifierKey()}, Entries: []Entry{}, Mails: []Mail{},
		Accounts: []string{}, Snapshots: []Snapshot{}}
	pseud := map[store.AccountKey]string{}
	for _, k := range ev.Accounts {
		p := s.keys.Pseudonym("account", k.Product+"/"+k.AccountID)
		pseud[k] = p
		doc.Accounts = append(doc.Accounts, p)
	}
	// The export is recorded before it is handed out: the ledger then
	// shows every export, including one whose file was lost.
	var rec ledger.Entry
	op := s.keys.OperatorPseudonym(operator)
	err = s.db.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.NameOperator(ctx, op, operator, now); err != nil {
			return err
		}
		var err error
		rec, err = tx.Append(ctx, now, ledger.KindEvidenceExported, exported{Exported: reference, Operator: op,
			ExportedAt: doc.ExportedAt, Entries: len(ev.Entries)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: record the export: %w", err)
	}
	log := s.db.RecentLog()
	for _, e := range ev.Entries {
		x, err := entry(ctx, log, e)
		if err != nil {
			return nil, err
		}
		doc.Entries = append(doc.Entries, x)
	}
	if doc.Export, err = entry(ctx, log, rec); err != nil {
		return nil, err
	}
	if doc.Operators, err = s.operators(ctx, append(ev.Entries, rec)); err != nil {
		return nil, err
	}
	for _, m := range ev.Mails {
		out := Mail{Kind: m.Kind, Request: m.RequestID, QueuedAt: m.CreatedAt.UTC().Format(time.RFC3339Nano), Status: m.Status, Attempts: m.Attempts}
		if !m.SentAt.IsZero() {
			out.SentAt = m.SentAt.UTC().Format(time.RFC3339Nano)
		}
		doc.Mails = append(doc.Mails, out)
	}
	for _, sn := range ev.Snapshots {
		out := Snapshot{ID: sn.ID, RegisteredAt: sn.CreatedAt.UTC().Format(time.RFC3339Nano), AsOf: sn.AsOf.UTC().Format(time.RFC3339Nano),
			LedgerSeq: sn.LedgerSeq, PolicySHA256: sn.PolicySHA256, ManifestSHA256: sn.ManifestSHA256, Read: sn.Read, Kept: sn.Kept,
			KeptOfAccounts: map[string]int{}}
		doc.Snapshots = append(doc.Snapshots, out)
	}
	if len(ev.Accounts) > 0 && len(doc.Snapshots) > 0 {
		kept, err := s.db.SnapshotsForAccounts(ctx, ev.Accounts)
		if err != nil {
			return nil, err
		}
		idx := map[string]int{}
		for i, sn := range doc.Snapshots {
			idx[sn.ID] = i
		}
		for _, k := range kept {
			i, ok := idx[k.SnapshotID]
			if !ok {
				continue // registered before the reference: not affected
			}
			for _, a := range k.Items {
				doc.Snapshots[i].KeptOfAccounts[pseud[store.AccountKey{Product: a.Product, AccountID: a.AccountID}]] = int(a.Items)
			}
		}
	}
	payload, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("evidence: encode: %w", err)
	}
	return s.sign(payload)
}

// operatorFields are the body fields, per entry kind, that carry an
// operator's pseudonym.
var operatorFields = map[string][]string{
	ledger.KindReportDecided:    {"operator"},
	ledger.KindOperatorAdded:    {"operator", "by"},
	ledger.KindEvidenceExported: {"operator"},
}

// operators resolves the operator pseudonyms the entries carry to names.
// A pseudonym without a recorded name (an entry written before names were
// kept) stays unresolved rather than guessed.
func (s *Service) operators(ctx context.Context, entries []ledger.Entry) (map[string]string, error) {
	var ps []string
	for _, e := range entries {
		fields := operatorFields[e.Kind]
		if len(fields) == 0 {
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(e.Body, &body); err != nil {
			return nil, fmt.Errorf("evidence: body of entry %d: %w", e.Seq, err)
		}
		for _, f := range fields {
			if p, ok := body[f].(string); ok && p != "" {
				ps = append(ps, p)
			}
		}
	}
	names, err := s.db.OperatorNames(ctx, ps)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return names, nil
}

// entry is a ledger entry with a receipt made now.
func entry(ctx context.Context, log receipt.Log, e ledger.Entry) (Entry, error) {
	rc, err := receipt.Make(ctx, log, e.Seq)
	if err != nil {
		return Entry{}, fmt.Errorf("evidence: receipt of entry %d: %w", e.Seq, err)
	}
	return Entry{Seq: e.Seq, At: time.UnixMicro(e.At).UTC().Format(time.RFC3339Nano), Kind: e.Kind, Body: json.RawMessage(e.Body),
		PrevHash: e.PrevHash, Hash: e.Hash, Receipt: string(rc)}, nil
}

// header is the JWS protected header.
type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// jws is the flattened JSON serialization (RFC 7515 §7.2.2).
type jws struct {
	Protected string `json:"protected"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// sign wraps payload as a flattened JWS signed EdDSA (Ed25519) over
// ASCII(BASE64URL(protected) || '.' || BASE64URL(payload)).
func (s *Service) sign(payload []byte) ([]byte, error) {
	h, err := json.Marshal(header{Alg: "EdDSA", Typ: Format, Kid: s.key.VerifierKey()})
	if err != nil {
		return nil, fmt.Errorf("evidence: header: %w", err)
	}
	enc := base64.RawURLEncoding
	prot, pl := enc.EncodeToString(h), enc.EncodeToString(payload)
	sig := s.key.SignEd25519([]byte(prot + "." + pl))
	out, err := json.MarshalIndent(jws{Protected: prot, Payload: pl, Signature: enc.EncodeToString(sig)}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence: encode: %w", err)
	}
	return append(out, '\n'), nil
}

// plainReference reports whether s has a reference number's shape: a
// prefix of capitals and groups of digits and capitals, hyphenated.
func plainReference(s string) bool {
	if len(s) < 3 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' || !strings.Contains(s, "-") {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
