package translog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a log's signed claim about its tree (C2SP tlog-checkpoint):
// its origin, its size and its root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Text is the checkpoint body a signature covers: origin, size in decimal,
// root in base64, each on its own line.
func (c Checkpoint) Text() string {
	return c.Origin + "\n" + strconv.FormatInt(c.Size, 10) + "\n" + c.RootText() + "\n"
}

// RootText is the root hash in base64, as the checkpoint writes it.
func (c Checkpoint) RootText() string { return base64.StdEncoding.EncodeToString(c.Root[:]) }

// SignCheckpoint signs a checkpoint of size and root with k.
func (k *Key) SignCheckpoint(size int64, root tlog.Hash) ([]byte, error) {
	return k.Sign(Checkpoint{Origin: k.Origin(), Size: size, Root: root}.Text())
}

// ParseCheckpoint reads a checkpoint body. Extension lines after the
// third are allowed by the spec and ignored here.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return c, errors.New("translog: a checkpoint has an origin, a size and a root hash, each on a line ending in a newline")
	}
	for i := range lines[:len(lines)-1] {
		lines[i] = strings.TrimSuffix(lines[i], "\n")
		if i < 3 && lines[i] == "" {
			return c, errors.New("translog: checkpoint has an empty line")
		}
	}
	c.Origin = lines[0]
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return c, fmt.Errorf("translog: checkpoint size %q is not a decimal number without leading zeros", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("translog: checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint against the log's verifier
// and returns it: the note must carry a valid signature by that key, and
// its origin must be the key's name.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := OpenNote(msg, v)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("translog: checkpoint signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return c, err
	}
	if c.Origin != v.Name() {
		return c, fmt.Errorf("translog: checkpoint is for log %q, the key is for %q", c.Origin, v.Name())
	}
	return c, nil
}

// OpenNote verifies a signed note against v. Beyond note.Open, every
// signature must be in canonical base64: the decoder note uses ignores the
// unused bits of the last character, so without this a changed byte there
// would still verify, and "any changed byte is refused" would not hold.
func OpenNote(msg []byte, v note.Verifier) (*note.Note, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, explainNote(err)
	}
	_, sigs, _ := strings.Cut(string(msg), "\n\n")
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		i := strings.LastIndexByte(line, ' ')
		if _, err := base64.StdEncoding.Strict().DecodeString(line[i+1:]); err != nil {
			return nil, errors.New("malformed signed note: a signature is not in canonical base64")
		}
	}
	return n, nil
}

// explainNote turns note's errors into what a person can act on.
func explainNote(err error) error {
	var unknown *note.UnknownVerifierError
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("it is not signed by the log key given (signed by %s, key id %08x)", unknown.Name, unknown.KeyHash)
	case errors.As(err, &unverified):
		return errors.New("it carries no signature by the log key given")
	case errors.As(err, &invalid):
		return errors.New("the signature does not match the text (changed)")
	}
	return err
}
