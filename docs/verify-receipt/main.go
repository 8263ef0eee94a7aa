// Command verify-receipt checks a notrain receipt with the Go standard
// library only, from the public specs: RFC 6962/9162 (leaf hash, inclusion
// proof) and C2SP tlog-proof, tlog-checkpoint and signed-note (Ed25519).
//
//	go run ./docs/verify-receipt RECEIPT.tlog-proof 'origin+keyid+base64'
//
// The second argument is the log's verifier key, or a file holding it.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fail("usage: verify-receipt RECEIPT KEY")
	}
	receipt, err := os.ReadFile(os.Args[1])
	check(err)
	key := os.Args[2]
	if b, err := os.ReadFile(key); err == nil {
		key = strings.TrimSpace(string(b))
	}

	// The verifier key: name+keyid+base64(0x01 || Ed25519 public key), and
	// key id = the first 4 bytes of SHA-256(name || "\n" || 0x01 || key).
	k := strings.SplitN(key, "+", 3)
	if len(k) != 3 {
		fail("the key is not name+keyid+base64")
	}
	name, kb := k[0], b64(k[2])
	if len(kb) != 33 || kb[0] != 1 {
		fail("the key is not an Ed25519 verifier key")
	}
	id := sha256.Sum256(append([]byte(name+"\n"), kb...))
	if hex.EncodeToString(id[:4]) != k[1] {
		fail("the key id does not match the key")
	}

	// The receipt: header, extra, index, proof hashes, a blank line, then
	// the checkpoint as a signed note.
	head, note, ok := bytes.Cut(receipt, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	if !ok || len(lines) < 3 || lines[0] != "c2sp.org/tlog-proof@v1" ||
		!strings.HasPrefix(lines[1], "extra ") || !strings.HasPrefix(lines[2], "index ") {
		fail("not a tlog-proof with an extra line")
	}
	entry := b64(strings.TrimPrefix(lines[1], "extra "))
	index, err := strconv.ParseUint(strings.TrimPrefix(lines[2], "index "), 10, 64)
	check(err)

	// The note: its text ends at the blank line; each signature line is
	// "— name base64(key id || signature)".
	text, sigs, ok := bytes.Cut(note, []byte("\n\n"))
	if !ok {
		fail("the checkpoint has no signatures")
	}
	text = append(text, '\n')
	signed := false
	for _, l := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		if s, ok := strings.CutPrefix(l, "— "+name+" "); ok {
			sig := b64(s)
			if len(sig) == 68 && bytes.Equal(sig[:4], id[:4]) && ed25519.Verify(kb[1:], text, sig[4:]) {
				signed = true
			}
		}
	}
	if !signed {
		fail("the checkpoint carries no valid signature of " + name)
	}
	cp := strings.Split(string(text), "\n") // origin, size, root, ""
	if len(cp) < 4 || cp[0] != name {
		fail("the checkpoint is not of the log " + name)
	}
	size, err := strconv.ParseUint(cp[1], 10, 64)
	check(err)
	root := b64(cp[2])

	// RFC 9162 2.1.3.2: from the leaf hash SHA-256(0x00 || entry) along the
	// proof to the root of the tree of the checkpoint's size.
	if index >= size {
		fail("the index is outside the checkpoint's tree")
	}
	r := hash([]byte{0}, entry)
	fn, sn := index, size-1
	for _, l := range lines[3:] {
		p := b64(l)
		if sn == 0 {
			fail("the inclusion proof is too long")
		}
		if fn&1 == 1 || fn == sn {
			r = hash([]byte{1}, p, r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = hash([]byte{1}, r, p)
		}
		fn, sn = fn>>1, sn>>1
	}
	if sn != 0 || !bytes.Equal(r, root) {
		fail("the inclusion proof does not lead to the signed root")
	}
	// The entry (ledger canonical bytes): a NUL-ended domain, the previous
	// entry's hash, its number and time (big-endian uint64, µs), then kind
	// and body, each after a big-endian uint32 length.
	_, e, ok := bytes.Cut(entry, []byte{0})
	if !ok || len(e) < 52 || binary.BigEndian.Uint64(e[32:]) != index+1 {
		fail("the entry is not ledger entry number index+1")
	}
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(e[40:])))
	e = e[48:]
	kind := field(&e)
	body := field(&e)
	if len(e) != 0 {
		fail("the entry has trailing bytes")
	}
	fmt.Printf("OK: entry %d of the log %s (checkpoint of %d entries)\n%s at %s\n%s\n",
		index+1, name, size, kind, at.UTC().Format(time.RFC3339Nano), body)
}

// field cuts one uint32-length-prefixed field off b.
func field(b *[]byte) []byte {
	if len(*b) < 4 || uint64(len(*b)-4) < uint64(binary.BigEndian.Uint32(*b)) {
		fail("the entry is cut short")
	}
	n := binary.BigEndian.Uint32(*b)
	f := (*b)[4 : 4+n]
	*b = (*b)[4+n:]
	return f
}

func hash(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func b64(s string) []byte {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	check(err)
	return b
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "verify-receipt:", msg)
	os.Exit(1)
}
