package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// streamServer is an OpenAI-compatible server whose chat completions
// stream one chunk and "data: [DONE]", then run end before the response
// ends. It counts the connections clients open.
type streamServer struct {
	*httptest.Server
	connections atomic.Int64
}

func newStreamServer(t *testing.T, end func()) *streamServer {
	t.Helper()
	s := &streamServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`+"\n\n")
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
		w.(http.Flusher).Flush()
		end()
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.connections.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// streamOnce reads one streamed reply to its "[DONE]" event and closes it,
// as the LLM brain does.
func streamOnce(t *testing.T, client *openai.Client) {
	t.Helper()
	stream, err := client.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
		Model: "test-model", Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Hello"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLLMStreamsReuseConnection(t *testing.T) {
	t.Parallel()
	// The pause makes the end of the response arrive after the client
	// has read "[DONE]", the case the draining is for.
	server := newStreamServer(t, func() { time.Sleep(20 * time.Millisecond) })
	client := LLMConfig{BaseURL: server.URL, APIKey: "sk-test", Model: "test-model"}.WithDefaults().newClient()

	for range 3 {
		streamOnce(t, client)
	}
	if n := server.connections.Load(); n != 1 {
		t.Errorf("3 streams opened %d connections, want 1", n)
	}
}

func TestLLMStreamCloseSkipsOpenResponse(t *testing.T) {
	t.Parallel()
	// The server keeps each response open until the test ends.
	release := make(chan struct{})
	server := newStreamServer(t, func() { <-release })
	t.Cleanup(func() { close(release) })
	client := LLMConfig{BaseURL: server.URL, APIKey: "sk-test", Model: "test-model"}.WithDefaults().newClient()

	streamOnce(t, client)
	streamOnce(t, client)
	if n := server.connections.Load(); n != 2 {
		t.Errorf("2 streams of responses left open opened %d connections, want 2", n)
	}
}
