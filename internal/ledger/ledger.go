// Package ledger defines notrain's append-only, hash-chained decision log:
// its canonical encoding and how a chain is verified. The store writes
// entries in the same transaction as the state they record.
//
// Canonical encoding (version 1). The hash of entry n is
//
//	SHA-256( "notrain/ledger/v1" 0x00
//	       || prev            32 bytes, the raw hash of entry n-1 (all zero for n = 1)
//	       || seq             8 bytes, big-endian, starting at 1
//	       || at              8 bytes, big-endian, Unix time in microseconds, UTC
//	       || len(kind)       4 bytes, big-endian
//	       || kind            UTF-8, e.g. "objection.accepted"
//	       || len(body)       4 bytes, big-endian
//	       || body )          the entry's JSON, exactly as stored
//
// The bytes hashed are the entry's canonical bytes (Canonical). They are
// also the leaf data of the verifiable log (package translog): leaf n is
// entry n+1, its leaf hash SHA-256(0x00 || canonical bytes), as RFC 6962
// has it. A receipt carries them, so it shows the entry it proves.
//
// Hashes are written as lower-case hex. Bodies are JSON objects with sorted
// keys and no insignificant white space (what Body produces), but the verifier
// hashes the stored bytes and never re-encodes them, so an auditor needs only
// SHA-256 and this description. Personal identifiers in bodies are keyed
// pseudonyms, never addresses or account ids.
package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

const domain = "notrain/ledger/v1\x00"

// Genesis is the "previous hash" of the first entry.
var Genesis = strings.Repeat("0", 64)

// Entry kinds.
const (
	KindObjectionAccepted  = "objection.accepted"
	KindObjectionWithdrawn = "objection.withdrawn"
	KindAccountsImported   = "accounts.imported"
	KindObjectionsImported = "objections.imported"
	KindItemsExcluded      = "items.excluded"
	KindSnapshotRegistered = "snapshot.registered"
	KindModelRegistered    = "model.registered"
	// A verified report of items about a person, and the decision on it
	// (an approval lists the items it excludes).
	KindReportReceived = "report.received"
	KindReportDecided  = "report.decided"
	// Consent (policy mode consent), given and withdrawn with a code.
	KindConsentGiven     = "consent.given"
	KindConsentWithdrawn = "consent.withdrawn"
	// The operator console: operators, and their actions that are not
	// decisions (those name the operator in their own entry).
	KindOperatorAdded    = "operator.added"
	KindOperatorReset    = "operator.reset"    // sessions ended, password cleared, a new set-up link
	KindOperatorDisabled = "operator.disabled" // sessions ended, no login any more
	KindEvidenceExported = "evidence.exported"
)

// Entry is one ledger record.
type Entry struct {
	Seq      int64
	At       int64 // Unix microseconds, UTC
	Kind     string
	Body     []byte
	PrevHash string
	Hash     string
}

// Head names the last entry of a chain.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Body encodes v (a typed body such as ObjectionAccepted, or a map)
// canonically: object keys sorted at every level whatever the order of a
// struct's fields, numbers as written, no HTML escaping, no trailing
// newline. A body's hash then depends only on its content.
func Body(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ledger: encode body: %w", err)
	}
	// Decoding into generic values and encoding again sorts the keys of
	// every object; UseNumber keeps numbers exactly as they were.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("ledger: encode body: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, fmt.Errorf("ledger: encode body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Hash computes the hash of an entry given its predecessor's hash: the
// SHA-256 of its canonical bytes.
func Hash(prev string, seq, at int64, kind string, body []byte) (string, error) {
	c, err := Canonical(prev, seq, at, kind, body)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// MaxCanonical bounds an entry's canonical bytes: the verifiable log serves
// entries in bundles with 16-bit length prefixes (C2SP tlog-tiles).
const MaxCanonical = 1<<16 - 1

// Canonical returns an entry's canonical bytes (version 1, described in the
// package comment). They are what the chain hashes and the verifiable
// log's leaf data: a receipt carries them, so whoever holds it can read the
// entry and check it without the store.
func Canonical(prev string, seq, at int64, kind string, body []byte) ([]byte, error) {
	p, err := hex.DecodeString(prev)
	if err != nil || len(p) != sha256.Size {
		return nil, fmt.Errorf("ledger: previous hash %q is not 32 hex bytes", prev)
	}
	b := make([]byte, 0, len(domain)+sha256.Size+24+len(kind)+len(body))
	b = append(b, domain...)
	b = append(b, p...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.BigEndian.AppendUint32(b, uint32(len(kind)))
	b = append(b, kind...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	return b, nil
}

// Canonical returns the entry's canonical bytes.
func (e Entry) Canonical() ([]byte, error) {
	return Canonical(e.PrevHash, e.Seq, e.At, e.Kind, e.Body)
}

// ParseCanonical reads an entry back from its canonical bytes; Hash is
// filled in from them. It refuses anything that Canonical could not have
// produced.
func ParseCanonical(b []byte) (Entry, error) {
	var e Entry
	bad := func(why string) (Entry, error) { return Entry{}, fmt.Errorf("ledger: not a canonical entry: %s", why) }
	if len(b) > MaxCanonical {
		return bad("longer than 65535 bytes")
	}
	rest, ok := bytes.CutPrefix(b, []byte(domain))
	if !ok {
		return bad("does not start with " + strings.TrimSuffix(domain, "\x00"))
	}
	if len(rest) < sha256.Size+20 {
		return bad("too short")
	}
	e.PrevHash = hex.EncodeToString(rest[:sha256.Size])
	rest = rest[sha256.Size:]
	seq, at := binary.BigEndian.Uint64(rest), binary.BigEndian.Uint64(rest[8:])
	if seq == 0 || seq > 1<<62 || at > 1<<62 {
		return bad("sequence number or time out of range")
	}
	e.Seq, e.At = int64(seq), int64(at)
	rest = rest[16:]
	n := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(n)+4 > uint64(len(rest)) {
		return bad("kind runs past the end")
	}
	e.Kind, rest = string(rest[:n]), rest[n:]
	n = binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	if uint64(n) != uint64(len(rest)) {
		return bad("body length does not match")
	}
	e.Body = bytes.Clone(rest)
	if !utf8.ValidString(e.Kind) || e.Kind == "" {
		return bad("kind is not UTF-8 text")
	}
	if !json.Valid(e.Body) {
		return bad("body is not JSON")
	}
	sum := sha256.Sum256(b)
	e.Hash = hex.EncodeToString(sum[:])
	return e, nil
}

// Next fills in Seq, PrevHash and Hash of e as the successor of head.
func Next(head Head, e *Entry) error {
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	h, err := Hash(head.Hash, e.Seq, e.At, e.Kind, e.Body)
	if err != nil {
		return err
	}
	e.Hash = h
	return nil
}

// BadEntryError names the first entry at which a chain fails to verify.
type BadEntryError struct {
	Seq    int64
	Reason string
}

func (e *BadEntryError) Error() string {
	return fmt.Sprintf("ledger entry %d: %s", e.Seq, e.Reason)
}

// Verifier checks a chain entry by entry, in sequence order.
type Verifier struct {
	head Head
	// checkpoints must all be found on the chain, unchanged.
	checkpoints map[int64]string
	found       int
}

// NewVerifier starts a verification; each checkpoint is a head recorded
// earlier (nil ones are ignored) that the chain must still contain unchanged.
func NewVerifier(cps ...*Head) *Verifier {
	v := &Verifier{head: Head{Hash: Genesis}, checkpoints: map[int64]string{}}
	for _, cp := range cps {
		if cp != nil && cp.Seq > 0 {
			v.checkpoints[cp.Seq] = cp.Hash
		}
	}
	return v
}

// ResumeVerifier continues a verification after a head verified earlier;
// extra checkpoints after it must be found too.
func ResumeVerifier(from Head, extra ...*Head) *Verifier {
	v := NewVerifier(extra...)
	for seq := range v.checkpoints {
		if seq <= from.Seq {
			delete(v.checkpoints, seq) // at or before the start: covered by from
		}
	}
	v.head = from
	return v
}

// Add checks the next entry.
func (v *Verifier) Add(e Entry) error {
	want := v.head.Seq + 1
	switch {
	case e.Seq > want:
		return &BadEntryError{Seq: want, Reason: fmt.Sprintf("missing (next entry found is %d)", e.Seq)}
	case e.Seq < want:
		return &BadEntryError{Seq: e.Seq, Reason: "out of order or duplicated"}
	case e.PrevHash != v.head.Hash:
		return &BadEntryError{Seq: e.Seq, Reason: "does not link to the entry before it"}
	}
	h, err := Hash(e.PrevHash, e.Seq, e.At, e.Kind, e.Body)
	if err != nil {
		return &BadEntryError{Seq: e.Seq, Reason: err.Error()}
	}
	if h != e.Hash {
		return &BadEntryError{Seq: e.Seq, Reason: "content does not match its hash (changed)"}
	}
	if !json.Valid(e.Body) {
		return &BadEntryError{Seq: e.Seq, Reason: "body is not valid JSON"}
	}
	if want, ok := v.checkpoints[e.Seq]; ok {
		if e.Hash != want {
			return &BadEntryError{Seq: e.Seq, Reason: "differs from the verified checkpoint"}
		}
		v.found++
	}
	v.head = Head{Seq: e.Seq, Hash: h}
	return nil
}

// Finish checks the end of the chain against the head the store recorded in
// the same transactions as the entries and against the checkpoint. Together
// they catch a cut-off tail, which a hash chain alone cannot see.
func (v *Verifier) Finish(recorded Head) (Head, error) {
	if recorded.Seq != v.head.Seq || recorded.Hash != v.head.Hash {
		if recorded.Seq > v.head.Seq {
			return v.head, &BadEntryError{Seq: v.head.Seq + 1, Reason: fmt.Sprintf("missing: the recorded head is entry %d, the chain ends at %d (entries were cut off)", recorded.Seq, v.head.Seq)}
		}
		return v.head, &BadEntryError{Seq: recorded.Seq, Reason: fmt.Sprintf("the recorded head (%d, %s) does not match the chain's end (%d, %s)", recorded.Seq, short(recorded.Hash), v.head.Seq, short(v.head.Hash))}
	}
	if v.found < len(v.checkpoints) {
		var missing int64
		for seq := range v.checkpoints {
			if seq > v.head.Seq && (missing == 0 || seq < missing) {
				missing = seq
			}
		}
		return v.head, &BadEntryError{Seq: missing, Reason: fmt.Sprintf("missing: a verified checkpoint names entry %d, the chain ends at %d (entries were cut off)", missing, v.head.Seq)}
	}
	return v.head, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ReadCheckpoint reads a checkpoint file; a missing file is no checkpoint.
func ReadCheckpoint(path string) (*Head, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil || h.Seq < 0 || len(h.Hash) != 64 {
		return nil, fmt.Errorf("ledger: checkpoint %s is damaged: refusing to verify without it", path)
	}
	return &h, nil
}

// WriteCheckpoint records a verified head durably (write, fsync, rename).
func WriteCheckpoint(path string, h Head) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("ledger: encode checkpoint: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("ledger: write checkpoint: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("ledger: write checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger: sync checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ledger: close checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ledger: install checkpoint: %w", err)
	}
	return nil
}
