package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// roundResult is one streamed response of the model.
type roundResult struct {
	// text is the response's text as the model wrote it, markers included.
	text  string
	calls []openai.ToolCall
	// tokens is set once the first text or tool call arrived.
	tokens bool
	finish string
	usage  *openai.Usage
}

// complete sends one request through the endpoint's circuit breaker and
// returns the model's response, retrying with jittered exponential
// back-off while the server responds with 429 or 5xx before the first
// token.
func (t *llmTurn) complete(ctx context.Context, request openai.ChatCompletionRequest) (*roundResult, error) {
	b := t.brain
	for attempt := 0; ; attempt++ {
		done, err := b.breaker.Allow()
		if err != nil {
			b.metrics.request(llmCircuitOpen)
			return nil, &llmError{result: llmCircuitOpen, err: err}
		}

		t.usage.Requests++
		hint := &retryAfter{}
		result, failure := t.stream(context.WithValue(ctx, retryAfterKey{}, hint), request)
		if failure == nil {
			done(nil)
			b.metrics.request(llmOK)
			t.count(request, result)
			return result, nil
		}
		done(failure)
		b.metrics.request(failure.result)

		if !failure.retryable() || attempt >= b.config.MaxRetries || result.tokens {
			return nil, failure
		}
		// A Retry-After above maxRetryAfter is not waited for, so the
		// offline agent replies in this turn instead.
		wait := max(backoff(b.config.RetryBackoff, attempt), hint.wait)
		if hint.wait > maxRetryAfter {
			return nil, failure
		}
		b.logger.WarnContext(ctx, "LLM request failed; retrying", "result", failure.result, "status", failure.status,
			"attempt", attempt+1, "retry_in_ms", wait.Milliseconds())
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, &llmError{result: llmCanceled, err: ctx.Err()}
		}
	}
}

// maxRetryAfter is the longest Retry-After a retry waits for.
const maxRetryAfter = 5 * time.Second

// backoff returns the wait before retry attempt+1: base doubled per
// earlier attempt, with a random half taken off so clients spread out.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << attempt
	return d/2 + rand.N(d/2+1)
}

// count adds a response's usage to the turn's, estimating it when the
// server reported none.
func (t *llmTurn) count(request openai.ChatCompletionRequest, result *roundResult) {
	if u := result.usage; u != nil {
		t.usage.add(u.PromptTokens, u.CompletionTokens, false)
		return
	}
	var written string
	for _, c := range result.calls {
		written += c.Function.Name + c.Function.Arguments
	}
	t.usage.add(estimateTokens(messagesText(request.Messages)), estimateTokens(result.text+written), true)
}

// stream sends one request and reads its streamed response, passing text
// to the marker filter as it arrives. A watchdog cancels the request when
// no text or tool call arrives within FirstTokenTimeout, and after that
// when no chunk arrives within it.
func (t *llmTurn) stream(ctx context.Context, request openai.ChatCompletionRequest) (*roundResult, *llmError) {
	timeout := t.brain.config.FirstTokenTimeout
	attempt, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var started atomic.Bool
	watchdog := time.AfterFunc(timeout, func() {
		if started.Load() {
			cancel(errStreamStalled)
			return
		}
		cancel(errTokenTimeout)
	})
	defer watchdog.Stop()

	result := &roundResult{}
	stream, err := t.brain.client.CreateChatCompletionStream(attempt, request)
	if err != nil {
		return result, classify(ctx, attempt, err)
	}
	defer stream.Close()

	var calls toolCallDeltas
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return result, classify(ctx, attempt, err)
		}
		if result.tokens {
			watchdog.Reset(timeout)
		}
		if chunk.Usage != nil {
			result.usage = chunk.Usage
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue
			}
			content := cleanModelText(choice.Delta.Content)
			// A reasoning model's thinking resets the watchdog too, although
			// none of it is shown to the shopper.
			if content != "" || len(choice.Delta.ToolCalls) > 0 || choice.Delta.ReasoningContent != "" {
				if !result.tokens {
					result.tokens = true
					started.Store(true)
					watchdog.Reset(timeout)
				}
			}
			if content != "" {
				result.text += content
				t.filter.write(content)
			}
			calls.add(choice.Delta.ToolCalls)
			if choice.FinishReason != "" {
				result.finish = string(choice.FinishReason)
			}
		}
		// A reply past maxReplyBytes ends there, as if the model had hit
		// its token limit.
		if len(result.text) > maxReplyBytes {
			result.finish = string(openai.FinishReasonLength)
			break
		}
	}
	if result.finish == "" {
		return result, classify(ctx, attempt, errNoFinish)
	}
	result.calls = calls.list()
	return result, nil
}

// maxReplyBytes bounds the text of one model reply. Above it, the rest of
// the stream is not read: a model that runs on must not fill the shop's
// database or the shopper's screen.
const maxReplyBytes = 16 << 10

// cleanModelText removes the control characters other than tab and line
// breaks from model output. PostgreSQL text cannot hold NUL, and the
// others only garble the widget.
func cleanModelText(s string) string {
	if !strings.ContainsFunc(s, isStrayControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isStrayControl(r) {
			return -1
		}
		return r
	}, s)
}

func isStrayControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
}

// toolCallDeltas joins the parts of streamed tool calls. OpenAI sends a
// call's id and name in its first delta and the arguments in later ones,
// all with the call's index. Some compatible servers send whole calls
// without an index.
type toolCallDeltas struct {
	calls   []openai.ToolCall
	byIndex map[int]int
}

func (d *toolCallDeltas) add(deltas []openai.ToolCall) {
	for _, delta := range deltas {
		call := d.slot(delta)
		if delta.ID != "" {
			call.ID = delta.ID
		}
		if delta.Type != "" {
			call.Type = delta.Type
		}
		// A server that repeats the name in every delta must not double it.
		if delta.Function.Name != call.Function.Name {
			call.Function.Name += delta.Function.Name
		}
		call.Function.Arguments += cleanModelText(delta.Function.Arguments)
	}
}

// slot returns the call a delta continues, adding one for a new call.
func (d *toolCallDeltas) slot(delta openai.ToolCall) *openai.ToolCall {
	if d.byIndex == nil {
		d.byIndex = map[int]int{}
	}
	if delta.Index != nil {
		if i, ok := d.byIndex[*delta.Index]; ok {
			return &d.calls[i]
		}
		d.byIndex[*delta.Index] = len(d.calls)
		d.calls = append(d.calls, openai.ToolCall{})
		return &d.calls[len(d.calls)-1]
	}
	// Without index or id, a delta that names a function after the last
	// call's arguments form a whole JSON value starts the next call.
	last := len(d.calls) - 1
	newCall := len(d.calls) == 0 || delta.ID != "" && delta.ID != d.calls[last].ID ||
		delta.ID == "" && delta.Function.Name != "" && d.calls[last].Function.Name != "" &&
			delta.Function.Name != d.calls[last].Function.Name && json.Valid([]byte(d.calls[last].Function.Arguments))
	if newCall {
		d.calls = append(d.calls, openai.ToolCall{})
	}
	return &d.calls[len(d.calls)-1]
}

// list returns the joined calls, giving an id to calls the server sent
// without one.
func (d *toolCallDeltas) list() []openai.ToolCall {
	for i := range d.calls {
		if d.calls[i].ID == "" {
			d.calls[i].ID = fmt.Sprintf("call_%d", i+1)
		}
		d.calls[i].Type = openai.ToolTypeFunction
		d.calls[i].Index = nil
	}
	return d.calls
}
