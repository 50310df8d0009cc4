package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// Chunk sizes of a streamed reply, unless a Server sets its own.
const (
	defaultTextChunk      = 4
	defaultArgumentsChunk = 7
)

// replyWriter writes one scripted reply.
type replyWriter struct {
	w       http.ResponseWriter
	r       *http.Request
	server  *Server
	req     *ChatRequest
	id      string
	created int64

	started      bool
	calls        int
	text         string
	toolCalls    []ToolCall
	promptTokens int
	usage        *Usage
	finish       string
}

// chunk is one event of a streamed reply.
type chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint *string       `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage"`
}

type chunkChoice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent string          `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallDelta `json:"tool_calls,omitempty"`
}

type toolCallDelta struct {
	Index    int            `json:"index"`
	ID       string         `json:"id,omitempty"`
	Type     string         `json:"type,omitempty"`
	Function *functionDelta `json:"function,omitempty"`
}

type functionDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// stream writes the reply as server-sent events, ending with data: [DONE].
func (rw *replyWriter) stream(actions []Action) {
	for _, a := range actions {
		switch a.kind {
		case actHang:
			rw.wait(0)
			return
		case actPause:
			if !rw.wait(a.pause) {
				return
			}
		case actDie:
			rw.start()
			// The server closes the connection without ending the
			// response, and net/http logs nothing for this panic value.
			panic(http.ErrAbortHandler)
		case actFail:
			rw.fail(a)
			return
		case actUsage:
			rw.usage = &a.usage
		case actFinish:
			rw.finish = a.text
		case actText:
			rw.start()
			rw.text += a.text
			for _, piece := range splitRunes(a.text, rw.server.TextChunk, defaultTextChunk) {
				rw.send(delta{Content: &piece})
			}
		case actToolCall:
			rw.start()
			rw.sendToolCall(a.call)
		case actReasoning:
			rw.start()
			rw.send(delta{ReasoningContent: a.text})
		}
	}

	rw.start()
	reason := rw.finishReason()
	rw.event(chunk{Choices: []chunkChoice{{Delta: delta{}, FinishReason: &reason}}})
	if rw.req.StreamOptions != nil && rw.req.StreamOptions.IncludeUsage {
		usage := rw.reportedUsage()
		rw.event(chunk{Choices: []chunkChoice{}, Usage: &usage})
	}
	fmt.Fprint(rw.w, "data: [DONE]\n\n")
	rw.flush()
}

// start writes the headers and the first chunk, which names the role,
// unless they were written already.
func (rw *replyWriter) start() {
	if rw.started {
		return
	}
	rw.started = true
	h := rw.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	rw.w.WriteHeader(http.StatusOK)
	empty := ""
	rw.send(delta{Role: "assistant", Content: &empty})
}

func (rw *replyWriter) sendToolCall(call ToolCall) {
	index := len(rw.toolCalls)
	rw.calls++
	if call.ID == "" {
		call.ID = fmt.Sprintf("call_fake%d_%d", rw.req.Call, rw.calls)
	}
	rw.toolCalls = append(rw.toolCalls, call)
	rw.send(delta{ToolCalls: []toolCallDelta{{
		Index: index, ID: call.ID, Type: "function", Function: &functionDelta{Name: call.Function.Name},
	}}})
	for _, piece := range splitRunes(call.Function.Arguments, rw.server.ArgumentsChunk, defaultArgumentsChunk) {
		rw.send(delta{ToolCalls: []toolCallDelta{{Index: index, Function: &functionDelta{Arguments: piece}}}})
	}
}

func (rw *replyWriter) send(d delta) {
	rw.event(chunk{Choices: []chunkChoice{{Delta: d}}})
}

func (rw *replyWriter) event(c chunk) {
	c.ID, c.Object, c.Created, c.Model = rw.id, "chat.completion.chunk", rw.created, rw.req.Model
	raw, _ := json.Marshal(c)
	fmt.Fprintf(rw.w, "data: %s\n\n", raw)
	rw.flush()
}

func (rw *replyWriter) flush() {
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// fail writes an error response, or an error event when the stream has
// started.
func (rw *replyWriter) fail(a Action) {
	if !rw.started {
		if a.retryAfter != "" {
			rw.w.Header().Set("Retry-After", a.retryAfter)
		}
		WriteError(rw.w, a.status, a.apiError)
		return
	}
	raw, _ := json.Marshal(map[string]APIError{"error": a.apiError})
	fmt.Fprintf(rw.w, "data: %s\n\n", raw)
	rw.flush()
}

// wait waits for d, or until the client gives up or the server closes
// when d is 0. It reports whether the reply should go on.
func (rw *replyWriter) wait(d time.Duration) bool {
	var timeout <-chan time.Time
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-timeout:
		return true
	case <-rw.r.Context().Done():
	case <-rw.server.done:
	}
	return false
}

func (rw *replyWriter) finishReason() string {
	switch {
	case rw.finish != "":
		return rw.finish
	case len(rw.toolCalls) > 0:
		return "tool_calls"
	}
	return "stop"
}

func (rw *replyWriter) reportedUsage() Usage {
	u := Usage{PromptTokens: rw.promptTokens}
	if rw.usage != nil {
		u = *rw.usage
	} else {
		n := utf8.RuneCountInString(rw.text)
		for _, c := range rw.toolCalls {
			n += len(c.Function.Name) + len(c.Function.Arguments)
		}
		u.CompletionTokens = n/4 + 1
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// whole writes the reply as one chat.completion object, for requests
// that do not stream.
func (rw *replyWriter) whole(actions []Action) {
	for _, a := range actions {
		switch a.kind {
		case actHang:
			rw.wait(0)
			return
		case actPause:
			if !rw.wait(a.pause) {
				return
			}
		case actDie:
			panic(http.ErrAbortHandler)
		case actFail:
			WriteError(rw.w, a.status, a.apiError)
			return
		case actUsage:
			rw.usage = &a.usage
		case actFinish:
			rw.finish = a.text
		case actText:
			rw.text += a.text
		case actToolCall:
			call := a.call
			rw.calls++
			if call.ID == "" {
				call.ID = fmt.Sprintf("call_fake%d_%d", rw.req.Call, rw.calls)
			}
			rw.toolCalls = append(rw.toolCalls, call)
		}
	}

	message := map[string]any{"role": "assistant", "content": rw.text}
	if rw.text == "" && len(rw.toolCalls) > 0 {
		message["content"] = nil
	}
	if len(rw.toolCalls) > 0 {
		message["tool_calls"] = rw.toolCalls
	}
	body := map[string]any{
		"id": rw.id, "object": "chat.completion", "created": rw.created, "model": rw.req.Model,
		"choices": []any{map[string]any{"index": 0, "message": message, "logprobs": nil, "finish_reason": rw.finishReason()}},
		"usage":   rw.reportedUsage(),
	}
	rw.w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw.w).Encode(body)
}

// splitRunes cuts s into pieces of size runes, or of fallback runes when
// size is 0.
func splitRunes(s string, size, fallback int) []string {
	if size <= 0 {
		size = fallback
	}
	var pieces []string
	runes := []rune(s)
	for len(runes) > 0 {
		n := min(size, len(runes))
		pieces = append(pieces, string(runes[:n]))
		runes = runes[n:]
	}
	return pieces
}
