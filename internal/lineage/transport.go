package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Transport delivers one event.
type Transport interface {
	Send(ctx context.Context, body []byte) error
	String() string
}

// Emitter sends each event to every transport. A nil Emitter sends nothing.
type Emitter struct {
	transports []Transport
}

// NewEmitter sends to the given transports.
func NewEmitter(ts ...Transport) *Emitter {
	if len(ts) == 0 {
		return nil
	}
	return &Emitter{transports: ts}
}

// NotDeliveredError says which transports did not take an event.
type NotDeliveredError struct {
	EventType string
	Err       error
}

func (e *NotDeliveredError) Error() string {
	return fmt.Sprintf("lineage %s event not delivered: %v", e.EventType, e.Err)
}

func (e *NotDeliveredError) Unwrap() error { return e.Err }

// Emit encodes ev and sends it to every transport, even when one fails, so
// a broken endpoint does not also cost the file its record.
func (e *Emitter) Emit(ctx context.Context, ev RunEvent) error {
	if e == nil {
		return nil
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return &NotDeliveredError{ev.EventType, err}
	}
	var errs []error
	for _, t := range e.transports {
		if err := t.Send(ctx, body); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
		}
	}
	if len(errs) > 0 {
		return &NotDeliveredError{ev.EventType, errors.Join(errs...)}
	}
	return nil
}

// HTTP posts each event as JSON to URL, as OpenLineage's HTTP transport
// does. An event counts as delivered on a 2xx answer only.
type HTTP struct {
	URL    string
	Client *http.Client // default: a client with a 10 s timeout
	// Attempts is how often a network error or a 5xx/429 answer is retried
	// in all; default 3.
	Attempts int
}

func (h *HTTP) String() string { return h.URL }

// Send posts body, retrying what may be transient.
func (h *HTTP) Send(ctx context.Context, body []byte) error {
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := max(h.Attempts, 1)
	if h.Attempts == 0 {
		attempts = 3
	}
	var last error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(last, ctx.Err())
			case <-time.After(time.Duration(i) * 200 * time.Millisecond):
			}
		}
		retry, err := h.post(ctx, c, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

func (h *HTTP) post(ctx context.Context, c *http.Client, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, fmt.Errorf("HTTP %s", resp.Status)
}

// JSONLines appends each event as one line of JSON to Path, synced before
// Send returns, so several runs accumulate in one file.
type JSONLines struct {
	Path string
}

func (f *JSONLines) String() string { return f.Path }

// Send appends body and a newline in one write.
func (f *JSONLines) Send(ctx context.Context, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fh, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	line := append(append(make([]byte, 0, len(body)+1), body...), '\n')
	if _, err := fh.Write(line); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
