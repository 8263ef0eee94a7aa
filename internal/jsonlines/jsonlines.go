// Package jsonlines reads line-oriented import files (JSON Lines): one
// record per line, blank lines skipped, a hard limit on a line's length,
// and errors that name the line.
package jsonlines

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// LineError names the line that made an import fail.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Each calls fn with every non-blank line (trimmed) and its 1-based number,
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
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if err := fn(n, t); err != nil {
				return "", size, &LineError{Line: n, Err: err}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

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
