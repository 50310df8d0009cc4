package agent

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// Limits on reading the rest of a response body before closing it.
const (
	// maxDrainBytes is more than the end of a finished stream: a blank
	// line and the chunked encoding's last chunk.
	maxDrainBytes = 4 << 10
	// drainTimeout bounds the wait for a server that leaves the response
	// open after its last event.
	drainTimeout = 100 * time.Millisecond
)

// drainingTransport reads the rest of each response body when it is
// closed, so that net/http can reuse the connection for the next request.
// go-openai (v1.43.0) closes a stream's body as soon as it reads the
// "data: [DONE]" event, before the body's end, and net/http closes a
// connection whose response body was not read to the end.
type drainingTransport struct {
	base http.RoundTripper
}

func (t drainingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if hint, ok := req.Context().Value(retryAfterKey{}).(*retryAfter); ok {
		hint.wait = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	resp.Body = &drainingBody{ReadCloser: resp.Body}
	return resp, nil
}

// retryAfterKey is the context key of a request's *retryAfter.
type retryAfterKey struct{}

// retryAfter holds the wait of a response's Retry-After header, which
// go-openai does not pass on.
type retryAfter struct {
	wait time.Duration
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
// It returns 0 for an absent or malformed header.
func parseRetryAfter(value string, now time.Time) time.Duration {
	if value == "" {
		return 0
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// drainingBody is a response body that reads up to maxDrainBytes of what
// is left, for at most drainTimeout, before it closes.
type drainingBody struct {
	io.ReadCloser
}

func (b *drainingBody) Close() error {
	// Closing the body from the timer ends a read that waits on a server
	// which keeps the response open. net/http then drops the connection.
	timer := time.AfterFunc(drainTimeout, func() { _ = b.ReadCloser.Close() })
	_, _ = io.CopyN(io.Discard, b.ReadCloser, maxDrainBytes)
	timer.Stop()
	return b.ReadCloser.Close()
}
