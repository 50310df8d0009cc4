package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	openai "github.com/sashabaranov/go-openai"
)

// errTokenTimeout cancels a request whose server sent no token within the
// first-token timeout, or no chunk within it after the first token.
var errTokenTimeout = errors.New("no token within the first-token timeout")

// errStreamStalled cancels a request whose server sent tokens, then no
// chunk within the first-token timeout.
var errStreamStalled = errors.New("the stream stalled: no chunk within the first-token timeout after the first token")

// errReplyTimeout ends the LLM's part of a turn that took longer than
// LLMConfig.ReplyTimeout, as a model that sends a chunk now and then but
// never finishes.
var errReplyTimeout = errors.New("the model's reply took longer than the reply timeout")

// errNoFinish reports a stream that ended without a finish reason, as when
// the connection closed mid-reply.
var errNoFinish = errors.New("stream ended before the model finished")

// llmError is a failed chat completion request, classified by result.
type llmError struct {
	result string
	status int
	err    error
}

// Error describes the failure without the provider's message or body,
// which may quote the shopper's words or the API key back, and are logged.
func (e *llmError) Error() string {
	detail := fmt.Sprint(e.err)
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(e.err, &apiErr):
		detail = fmt.Sprintf("provider error type %q code %v", apiErr.Type, apiErr.Code)
	case errors.As(e.err, &reqErr):
		detail = "provider responded with an error page"
	}
	if e.status != 0 {
		return fmt.Sprintf("chat completion %s (HTTP %d): %s", e.result, e.status, detail)
	}
	return fmt.Sprintf("chat completion %s: %s", e.result, detail)
}

func (e *llmError) Unwrap() error { return e.err }

// retryable reports whether the request may succeed when sent again: the
// server was rate limited or failed.
func (e *llmError) retryable() bool {
	return e.result == llmRateLimited || e.result == llmServerError
}

// endpointFault reports whether the failure counts against the endpoint's
// circuit breaker. A rejected key or request shows nothing about the
// endpoint's health, and a canceled turn is the caller's doing.
func (e *llmError) endpointFault() bool {
	switch e.result {
	case llmUnauthorized, llmClientError, llmCanceled:
		return false
	}
	return true
}

// classify turns an error of a request into an *llmError. parent is the
// turn's context, and attempt the request's, canceled with errTokenTimeout
// by the watchdog.
func classify(parent, attempt context.Context, err error) *llmError {
	var le *llmError
	if errors.As(err, &le) {
		return le
	}
	if cause := context.Cause(attempt); (errors.Is(cause, errTokenTimeout) || errors.Is(cause, errStreamStalled)) && parent.Err() == nil {
		return &llmError{result: llmTimeout, err: cause}
	}
	if parent.Err() != nil {
		return &llmError{result: llmCanceled, err: err}
	}

	status := 0
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errNoFinish):
		return &llmError{result: llmBrokenStream, err: err}
	case errors.As(err, new(*json.SyntaxError)), errors.As(err, new(*json.UnmarshalTypeError)):
		// A chunk that is not the JSON of a completion chunk.
		return &llmError{result: llmBrokenStream, err: err}
	default:
		return &llmError{result: llmNetworkError, err: err}
	}
	switch {
	case status == http.StatusTooManyRequests:
		return &llmError{result: llmRateLimited, status: status, err: err}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &llmError{result: llmUnauthorized, status: status, err: err}
	case status >= 500 || status == 0:
		// An error event inside a stream has no status; the server failed
		// while generating.
		return &llmError{result: llmServerError, status: status, err: err}
	}
	return &llmError{result: llmClientError, status: status, err: err}
}
