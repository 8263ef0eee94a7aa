package mail

import (
	"errors"
	"net/textproto"
	"strings"
)

// SMTP PIPELINING (RFC 2920): a server that offers it takes MAIL FROM,
// RCPT TO and DATA in one write and answers them in order, so a mail costs
// two round trips (envelope, then message) instead of four. Once the
// message's end is accepted the transaction is over (RFC 5321 4.1.1.4);
// the next mail starts with MAIL FROM, no RSET between them.

// errLineBreak refuses an envelope address that would end the command.
var errLineBreak = errors.New("mail: line break in an envelope address")

// mailCommand is the MAIL FROM line, with the parameters net/smtp sends
// to the same server, so both paths say the same.
func (ss *session) mailCommand(from string) string {
	return "MAIL FROM:<" + from + ">" + ss.mailParams
}

// pipeline writes the commands in one go and reads a reply to each, in
// order. It returns the first refusal (a *textproto.Error) and which
// command it answered; the replies after it are still read, so the session
// stays in step. An error that is not a reply (the connection broke) ends
// the reading at once.
func (ss *session) pipeline(cmds []string, want []int) (failed int, err error) {
	for _, c := range cmds {
		if strings.ContainsAny(c, "\r\n") {
			return 0, errLineBreak
		}
	}
	tp := ss.c.Text
	for _, c := range cmds {
		tp.W.WriteString(c)
		tp.W.WriteString("\r\n")
	}
	if err := tp.W.Flush(); err != nil {
		return 0, err
	}
	failed = -1
	for i := range cmds {
		_, _, rerr := tp.ReadResponse(want[i])
		if rerr == nil {
			continue
		}
		var reply *textproto.Error
		if !errors.As(rerr, &reply) {
			if err != nil { // a refusal, then the server hung up: the refusal counts
				return failed, err
			}
			return i, rerr
		}
		if failed < 0 {
			failed, err = i, rerr
		}
	}
	return failed, err
}

// writeMessage sends msg as DATA content and its end marker, and flushes.
// Build's messages have CRLF line ends and no line starting with a dot
// (quoted-printable and base64 bodies), so they go out as they are, in
// one write; any other message takes net/textproto's dot-stuffing writer,
// which produces the same bytes for these one byte at a time.
func writeMessage(tp *textproto.Conn, msg []byte) error {
	if !plainData(msg) {
		dw := tp.DotWriter()
		if _, err := dw.Write(msg); err != nil {
			return err
		}
		return dw.Close()
	}
	tp.W.Write(msg)
	tp.W.WriteString(".\r\n")
	return tp.W.Flush()
}

// plainData reports whether msg goes out unchanged as DATA content: it
// ends with CRLF, every CR and LF are a CRLF pair, and no line starts with
// a dot.
func plainData(msg []byte) bool {
	n := len(msg)
	if n < 2 || msg[0] == '.' || msg[n-2] != '\r' || msg[n-1] != '\n' {
		return false
	}
	for i := 0; i < n; i++ {
		switch msg[i] {
		case '\r':
			if i+1 >= n || msg[i+1] != '\n' {
				return false
			}
			i++
			if i+1 < n && msg[i+1] == '.' {
				return false
			}
		case '\n':
			return false
		}
	}
	return true
}
