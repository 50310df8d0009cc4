package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fakeWords are the words a fake reply cycles through, one per token. They
// state no price, stock level, delivery time or percentage, so the
// grounding guard passes the reply as it is.
var fakeWords = strings.Fields("Thanks for asking. Here is what the shop offers for that, and I can help you choose between the options whenever you like.")

// maxFakeRecords bounds the requests a FakeLLM remembers, so a long run
// cannot grow it without limit.
const maxFakeRecords = 1 << 20

// FakeLLMConfig sets the timing of a FakeLLM's replies.
type FakeLLMConfig struct {
	// TTFT is the wait from a request's arrival to its first token.
	TTFT time.Duration
	// TokensPerSecond is the rate of the tokens after the first.
	TokensPerSecond float64
	// Tokens is the length of every reply in tokens, each one word.
	Tokens int
}

// Validate reports a setting that cannot make a reply.
func (c FakeLLMConfig) Validate() error {
	switch {
	case c.TTFT < 0:
		return fmt.Errorf("invalid fake time to first token %s: use 0 or more, such as 300ms", c.TTFT)
	case c.TokensPerSecond <= 0:
		return fmt.Errorf("invalid fake token rate %g: use a positive number of tokens per second, such as 50", c.TokensPerSecond)
	case c.Tokens < 1:
		return fmt.Errorf("invalid fake reply length %d: use 1 token or more", c.Tokens)
	}
	return nil
}

// FakeRequest is the timing of one chat request that a FakeLLM served.
type FakeRequest struct {
	// Marker is the first TurnMarker found in the request body, or ""
	// when it has none.
	Marker string
	// Received is when the request's body was read, and FirstToken when
	// the first token was flushed to the client. Each is zero when the
	// request failed before it.
	Received, FirstToken time.Time
}

// FakeLLM is an OpenAI-compatible chat completions endpoint on a loopback
// port that streams a fixed reply with a fixed time to first token and
// token rate, and records when each request arrived and got its first
// token. It serves POST /v1/chat/completions only and never calls tools.
type FakeLLM struct {
	// URL is the API root that OpenAI clients take, ending in /v1.
	URL string

	config   FakeLLMConfig
	server   *http.Server
	listener net.Listener

	mu       sync.Mutex
	requests []FakeRequest
	dropped  int
	// connections counts the TCP connections clients opened, which is
	// fewer than the requests when clients keep connections alive.
	connections atomic.Int64
}

// StartFakeLLM starts a FakeLLM on a free port of 127.0.0.1.
func StartFakeLLM(config FakeLLMConfig) (*FakeLLM, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start fake LLM: %w", err)
	}
	f := &FakeLLM{URL: "http://" + listener.Addr().String() + "/v1", config: config, listener: listener}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.handleChat)
	f.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnState: f.countConn}
	go func() { _ = f.server.Serve(listener) }()
	return f, nil
}

// Close stops the server, cutting streams still running.
func (f *FakeLLM) Close() error {
	return f.server.Close()
}

// Connections returns the number of connections clients have opened.
func (f *FakeLLM) Connections() int64 {
	return f.connections.Load()
}

func (f *FakeLLM) countConn(_ net.Conn, state http.ConnState) {
	if state == http.StateNew {
		f.connections.Add(1)
	}
}

// Requests returns the timing of the requests served so far, oldest
// first, and how many more were not recorded because the record was full.
func (f *FakeLLM) Requests() (requests []FakeRequest, dropped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeRequest(nil), f.requests...), f.dropped
}

// chatRequest is the part of a chat completions request the fake reads.
type chatRequest struct {
	Model         string            `json:"model"`
	Stream        bool              `json:"stream"`
	Messages      []json.RawMessage `json:"messages"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (f *FakeLLM) handleChat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	received := time.Now()
	var req chatRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || len(req.Messages) == 0 {
		writeAPIError(w, http.StatusBadRequest, "the fake LLM needs a JSON chat completions request with messages")
		return
	}
	// The record is written before the reply's last event on success, so
	// a client that has read the whole reply finds it, and on return
	// otherwise.
	record := FakeRequest{Marker: string(markerPattern.Find(body)), Received: received}
	recorded := false
	defer func() {
		if !recorded {
			f.record(record)
		}
	}()

	if !req.Stream {
		f.record(record)
		recorded = true
		f.whole(r.Context(), w, req, len(body))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeAPIError(w, http.StatusInternalServerError, "the fake LLM cannot stream on this connection")
		return
	}
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	chunk := newChunkWriter(w, req.Model)
	// Each token is due at a fixed offset from the request's arrival, so
	// a late wake-up does not delay the tokens after it.
	interval := time.Duration(float64(time.Second) / f.config.TokensPerSecond)
	for i := range f.config.Tokens {
		due := received.Add(f.config.TTFT + time.Duration(i)*interval)
		if !sleepUntil(r.Context(), due) {
			return
		}
		word := fakeWords[i%len(fakeWords)]
		if i > 0 {
			word = " " + word
		}
		if chunk.content(word) != nil {
			return
		}
		flusher.Flush()
		if i == 0 {
			record.FirstToken = time.Now()
		}
	}
	_ = chunk.finish()
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		_ = chunk.usage(len(body)/4, f.config.Tokens)
	}
	f.record(record)
	recorded = true
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	flusher.Flush()
}

// whole sends the reply to a request without streaming, after the time the streamed
// reply would take.
func (f *FakeLLM) whole(ctx context.Context, w http.ResponseWriter, req chatRequest, bodyBytes int) {
	interval := time.Duration(float64(time.Second) / f.config.TokensPerSecond)
	if !sleepUntil(ctx, time.Now().Add(f.config.TTFT+time.Duration(f.config.Tokens-1)*interval)) {
		return
	}
	words := make([]string, f.config.Tokens)
	for i := range words {
		words[i] = fakeWords[i%len(fakeWords)]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-bench", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop",
			"message": map[string]string{"role": "assistant", "content": strings.Join(words, " ")}}},
		"usage": map[string]int{"prompt_tokens": bodyBytes / 4, "completion_tokens": f.config.Tokens, "total_tokens": bodyBytes/4 + f.config.Tokens},
	})
}

func (f *FakeLLM) record(r FakeRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) >= maxFakeRecords {
		f.dropped++
		return
	}
	f.requests = append(f.requests, r)
}

// sleepUntil waits until t and reports false when ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// chunkWriter writes the server-sent events of a streamed reply in
// OpenAI's chat.completion.chunk shape.
type chunkWriter struct {
	w       io.Writer
	model   string
	created int64
}

func newChunkWriter(w io.Writer, model string) *chunkWriter {
	return &chunkWriter{w: w, model: model, created: time.Now().Unix()}
}

func (c *chunkWriter) event(choices []map[string]any, usage map[string]int) error {
	chunk := map[string]any{"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": c.created, "model": c.model, "choices": choices}
	if usage != nil {
		chunk["usage"] = usage
	}
	data, err := json.Marshal(chunk)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.w, "data: %s\n\n", data)
	return err
}

func (c *chunkWriter) content(text string) error {
	return c.event([]map[string]any{{"index": 0, "delta": map[string]string{"role": "assistant", "content": text}}}, nil)
}

func (c *chunkWriter) finish() error {
	return c.event([]map[string]any{{"index": 0, "delta": map[string]string{}, "finish_reason": "stop"}}, nil)
}

func (c *chunkWriter) usage(prompt, completion int) error {
	return c.event([]map[string]any{}, map[string]int{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

// writeAPIError writes an error in OpenAI's {"error": {...}} shape.
func writeAPIError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"message": message, "type": "invalid_request_error"}})
}

// markerPattern matches a TurnMarker.
var markerPattern = regexp.MustCompile(`#c\d+t\d+\b`)

// TurnMarker returns the tag that a load test puts in the page URL it
// sends with a shopper message, as the fragment. The agent writes the page
// URL into the system prompt, so the fake LLM finds the tag in the request
// and its record can be matched to the turn. The message text stays
// untouched, so search results do not change.
func TurnMarker(conversation, turn int) string {
	return fmt.Sprintf("#c%dt%d", conversation, turn)
}
