package openaitest

import (
	"net/http"
	"strconv"
	"time"
)

type actionKind int

const (
	actText actionKind = iota
	actToolCall
	actFail
	actHang
	actPause
	actDie
	actUsage
	actFinish
	actReasoning
)

// Action is one step of a scripted reply.
type Action struct {
	kind     actionKind
	text     string
	call     ToolCall
	status   int
	apiError APIError
	pause    time.Duration
	usage    Usage
	// retryAfter is the Retry-After header of a failure, or "".
	retryAfter string
}

// Usage is the token usage a reply reports.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Reasoning sends text in the reasoning_content field of a delta, as
// reasoning models stream their thinking before their content.
func Reasoning(text string) Action {
	return Action{kind: actReasoning, text: text}
}

// Text sends content. A streamed reply sends it in chunks of
// Server.TextChunk runes, so words and citation markers are split across
// chunks as a real model's tokens split them.
func Text(content string) Action {
	return Action{kind: actText, text: content}
}

// CallTool sends a call of the named tool with arguments, a JSON string
// sent as the model wrote it, valid or not. A streamed reply sends the
// call's id and name in one chunk and the arguments in pieces of
// Server.ArgumentsChunk runes in the chunks after it.
func CallTool(name, arguments string) Action {
	return Action{kind: actToolCall, call: ToolCall{Type: "function", Function: FunctionCall{Name: name, Arguments: arguments}}}
}

// Fail responds with an HTTP error status and an error body in OpenAI's
// shape. After other output of a streamed reply, it sends the error as an
// event of the stream instead and ends the reply.
func Fail(status int, e APIError) Action {
	return Action{kind: actFail, status: status, apiError: e}
}

// RateLimited fails with 429, as OpenAI does when a key exceeds its rate
// limit.
func RateLimited() Action {
	return Fail(http.StatusTooManyRequests, APIError{
		Message: "Rate limit reached for requests. Please try again in 1s.", Type: "requests", Code: "rate_limit_exceeded",
	})
}

// RateLimitedFor fails with 429 and a Retry-After header of the given
// whole seconds.
func RateLimitedFor(seconds int) Action {
	a := RateLimited()
	a.retryAfter = strconv.Itoa(seconds)
	return a
}

// ServerError fails with 500, as OpenAI does when the model's server
// failed.
func ServerError() Action {
	return Fail(http.StatusInternalServerError, APIError{
		Message: "The server had an error while processing your request. Sorry about that!", Type: "server_error",
	})
}

// Hang waits without sending anything until the client gives up or the
// server closes. As the first action it holds back even the response
// headers.
func Hang() Action { return Action{kind: actHang} }

// Pause waits for d, or less when the client gives up first.
func Pause(d time.Duration) Action { return Action{kind: actPause, pause: d} }

// Die closes the connection at once, without finishing the response, as
// a server that crashes mid-stream does.
func Die() Action { return Action{kind: actDie} }

// ReportUsage makes the reply report these token counts in place of the
// server's estimate of a quarter token per byte.
func ReportUsage(promptTokens, completionTokens int) Action {
	return Action{kind: actUsage, usage: Usage{PromptTokens: promptTokens, CompletionTokens: completionTokens}}
}

// Finish sets the reply's finish reason, which is otherwise "tool_calls"
// for a reply that calls tools and "stop" for any other.
func Finish(reason string) Action { return Action{kind: actFinish, text: reason} }
