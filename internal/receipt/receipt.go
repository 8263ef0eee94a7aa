// Package receipt makes and checks receipts: proof, for a person to keep,
// that a decision they asked for is in the verifiable log. A receipt is a
// C2SP tlog-proof (c2sp.org/tlog-proof@v1) whose extra data is the ledger
// entry's canonical bytes, so the receipt alone shows what was recorded
// (the reference in clear, personal data only as keyed hashes) and, with
// the log's verifier key, proves it is in the log: the leaf hash of the
// extra data, the inclusion proof and the signed checkpoint's root must
// agree. Nothing in it needs the operator's database to check.
package receipt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notrain/notrain/internal/ledger"
	"github.com/notrain/notrain/internal/tlogclient"
	"github.com/notrain/notrain/internal/translog"
)

// header is the first line of every tlog-proof.
const header = "c2sp.org/tlog-proof@v1"

// Receipt is a parsed tlog-proof.
type Receipt struct {
	Extra      []byte // the entry's canonical bytes
	Index      int64  // the leaf index (ledger sequence number - 1)
	Proof      tlog.RecordProof
	Checkpoint []byte // the signed note, verbatim
}

// Format encodes r as a tlog-proof.
func (r Receipt) Format() []byte {
	var b bytes.Buffer
	b.WriteString(header + "\n")
	if len(r.Extra) > 0 {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(r.Extra) + "\n")
	}
	b.WriteString("index " + strconv.FormatInt(r.Index, 10) + "\n")
	for _, h := range r.Proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(r.Checkpoint)
	return b.Bytes()
}

// MaxSize bounds a receipt: 64 KiB of entry, 64 proof hashes and a
// checkpoint with a few signatures.
const MaxSize = 128 << 10

// Parse reads a tlog-proof. It accepts only the spelling Format writes
// (standard base64 without stray bits, decimal without leading zeros), so
// a receipt has one encoding and any changed byte is noticed.
func Parse(b []byte) (Receipt, error) {
	var r Receipt
	if len(b) > MaxSize {
		return r, fmt.Errorf("receipt: larger than %d bytes", MaxSize)
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return r, errors.New("receipt: no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != header {
		return r, fmt.Errorf("receipt: the first line is not %s", header)
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		extra, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil || len(extra) == 0 {
			return r, errors.New("receipt: the extra line is not base64")
		}
		r.Extra, lines = extra, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return r, errors.New("receipt: no index line")
	}
	idx := strings.TrimPrefix(lines[0], "index ")
	n, err := strconv.ParseInt(idx, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != idx {
		return r, fmt.Errorf("receipt: index %q is not a decimal number", idx)
	}
	r.Index = n
	if len(lines[1:]) > 63 {
		return r, errors.New("receipt: the inclusion proof is longer than any tree's")
	}
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != tlog.HashSize {
			return r, fmt.Errorf("receipt: proof line %q is not a base64 SHA-256 hash", l)
		}
		r.Proof = append(r.Proof, tlog.Hash(h))
	}
	r.Checkpoint = cp
	return r, nil
}

// Verified is what a receipt proves.
type Verified struct {
	Entry      ledger.Entry
	Checkpoint translog.Checkpoint
}

// Verify checks a receipt against the log's verifier key: the checkpoint
// is signed by it, the extra data is a ledger entry whose position is the
// index, and the inclusion proof leads from its leaf hash to the signed
// root.
func Verify(b []byte, v note.Verifier) (Verified, error) {
	var out Verified
	r, err := Parse(b)
	if err != nil {
		return out, err
	}
	if out.Checkpoint, err = translog.OpenCheckpoint(r.Checkpoint, v); err != nil {
		return out, fmt.Errorf("receipt: %w", err)
	}
	if len(r.Extra) == 0 {
		return out, errors.New("receipt: it carries no entry (no extra line)")
	}
	if out.Entry, err = ledger.ParseCanonical(r.Extra); err != nil {
		return out, fmt.Errorf("receipt: %w", err)
	}
	if out.Entry.Seq != r.Index+1 {
		return out, fmt.Errorf("receipt: the entry is number %d, the index names leaf %d", out.Entry.Seq, r.Index)
	}
	if r.Index >= out.Checkpoint.Size {
		return out, fmt.Errorf("receipt: leaf %d is not in the checkpoint's tree of %d", r.Index, out.Checkpoint.Size)
	}
	if err := tlog.CheckRecord(r.Proof, out.Checkpoint.Size, out.Checkpoint.Root, r.Index, tlog.RecordHash(r.Extra)); err != nil {
		return out, fmt.Errorf("receipt: the inclusion proof does not lead to the signed root: %w", err)
	}
	return out, nil
}

// Log is what a receipt is made from: the store's verifiable log.
type Log interface {
	LogCheckpoint(ctx context.Context) (int64, []byte, error)
	ProveInclusion(ctx context.Context, n, i int64) (tlog.RecordProof, error)
	LogEntries(ctx context.Context, from int64, n int) ([][]byte, error)
}

// checkpointCovering is a Log that can name a signed checkpoint covering
// entry seq without reading the latest (one it signed itself lately).
type checkpointCovering interface {
	CheckpointCovering(ctx context.Context, seq int64) (int64, []byte, error)
}

// Make builds the receipt of ledger entry seq against the latest signed
// checkpoint. It can be made again at any time; every receipt of an entry
// verifies, whichever checkpoint it names.
func Make(ctx context.Context, log Log, seq int64) ([]byte, error) {
	if seq < 1 {
		return nil, fmt.Errorf("receipt: no ledger entry %d", seq)
	}
	var size int64
	var cp []byte
	var err error
	if c, ok := log.(checkpointCovering); ok {
		size, cp, err = c.CheckpointCovering(ctx, seq)
	} else {
		size, cp, err = log.LogCheckpoint(ctx)
	}
	if err != nil {
		return nil, err
	}
	if size < seq {
		return nil, fmt.Errorf("receipt: entry %d is not yet in a signed checkpoint (size %d)", seq, size)
	}
	entries, err := log.LogEntries(ctx, seq-1, 1)
	if err != nil {
		return nil, err
	}
	proof, err := log.ProveInclusion(ctx, size, seq-1)
	if err != nil {
		return nil, err
	}
	return Receipt{Extra: entries[0], Index: seq - 1, Proof: proof, Checkpoint: cp}.Format(), nil
}

// Maker makes receipts from a log; it is what a confirmation mail's
// composer asks for the receipt of the entry it reports.
type Maker struct{ Log Log }

// Receipt makes the receipt of ledger entry seq (see Make).
func (m Maker) Receipt(ctx context.Context, seq int64) ([]byte, error) { return Make(ctx, m.Log, seq) }

// CheckGrowth proves that the log's current checkpoint, read from its
// published tiles, extends the checkpoint the receipt names: the entry is
// still in the log, and the log only grew since the receipt was made.
func CheckGrowth(ctx context.Context, v Verified, c *tlogclient.Client, verifier note.Verifier) (translog.Checkpoint, error) {
	cur, err := c.Checkpoint(ctx, verifier)
	if err != nil {
		return cur, fmt.Errorf("receipt: the log's current checkpoint: %w", err)
	}
	if cur.Size < v.Checkpoint.Size {
		return cur, fmt.Errorf("receipt: the log has %d entries, fewer than the %d the receipt's checkpoint names", cur.Size, v.Checkpoint.Size)
	}
	var proof tlog.TreeProof
	if v.Checkpoint.Size > 0 {
		if proof, err = tlog.ProveTree(cur.Size, v.Checkpoint.Size, c.HashReader(ctx, cur)); err != nil {
			return cur, fmt.Errorf("receipt: reading the log's tiles: %w", err)
		}
	}
	if err := translog.CheckGrowth(v.Checkpoint, cur, proof); err != nil {
		return cur, fmt.Errorf("receipt: %w", err)
	}
	return cur, nil
}

// Reference is the reference number an entry records, "" if it has none.
func Reference(e ledger.Entry) string {
	var body struct {
		Reference string `json:"reference"`
	}
	if json.Unmarshal(e.Body, &body) != nil {
		return ""
	}
	return body.Reference
}
