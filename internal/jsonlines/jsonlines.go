// Package jsonlines reads line-oriented import files (JSON Lines): one
// record per line, blank lines skipped, a hard limit on a line's length,
// and errors that name the line.
//
// Lines end in LF; a CR before it is JSON whitespace and stays for the
// decoder to skip, so CRLF files need no special case. One byte order mark
// may open the file (strictjson.TrimBOM). Only JSON whitespace makes a line
// blank: a no-break space or any other Unicode space is content, which the
// decoder then refuses.
package jsonlines

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/notrain/notrain/internal/strictjson"
)

// LineError names the line that made an import fail.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Each calls fn with every non-blank line (trimmed of JSON whitespace, the
// file's byte order mark removed from line 1) and its 1-based number,
// stopping at the first error, which it returns as a *LineError. It returns
// the SHA-256 and size of everything it read.
func Each(r io.Reader, maxLine int, fn func(n int, line []byte) error) (sha string, size int64, err error) {
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(r, h), 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br, maxLine)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", size, &LineError{Line: n, Err: err}
		}
		size += int64(len(line))
		if n == 1 {
			line = strictjson.TrimBOM(line)
		}
		if t := bytes.Trim(line, jsonSpace); len(t) > 0 {
			if err := fn(n, t); err != nil {
				return "", size, &LineError{Line: n, Err: err}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

// jsonSpace is the whitespace of RFC 8259 §2; bytes.TrimSpace would also
// take Unicode spaces such as U+00A0 away from the decoder.
const jsonSpace = " \t\r\n"

// readLine returns the next line including its newline, refusing lines
// over max bytes before holding more of them in memory.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > max {
			return nil, fmt.Errorf("line is longer than %d bytes", max)
		}
		switch {
		case err == nil:
			return out, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(out) > 0:
			return out, nil
		default:
			return nil, err
		}
	}
}
