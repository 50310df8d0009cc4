// Package openaitest runs a fake OpenAI API server for tests. It speaks the
// real wire format of chat completions, streamed as server-sent events or
// not, under the OpenAI path (/v1/chat/completions) and the Azure OpenAI
// path (/openai/deployments/{deployment}/chat/completions?api-version=...).
// Tests script its replies: text, tool calls split across chunks, errors
// in OpenAI's shape, a hang before the first token or a connection that
// dies mid-stream. More endpoints register through HandleFunc.
package openaitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is a fake OpenAI API server on a loopback port, closed when the
// test ends.
type Server struct {
	// URL is the server's root, as Azure OpenAI clients take it. OpenAI
	// clients take BaseURL.
	URL string
	// APIKey, when set, is the key every request must carry, as a bearer
	// token or in Azure's api-key header. Other requests get 401.
	APIKey string
	// TextChunk and ArgumentsChunk are the sizes, in runes, of the pieces
	// that a streamed reply cuts text and tool arguments into. Zero means
	// 4 and 7. Set them before the first request.
	TextChunk      int
	ArgumentsChunk int

	srv  *httptest.Server
	mux  *http.ServeMux
	done chan struct{}

	mu     sync.Mutex
	script ChatScript
	chats  []*ChatRequest
	calls  map[string]int
}

// New starts a Server and closes it when t ends. Without a script it
// replies "OK" to every chat request.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{mux: http.NewServeMux(), done: make(chan struct{}), calls: map[string]int{}}
	s.HandleFunc("POST /v1/chat/completions", s.handleChat)
	s.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.handleAzureChat)
	s.srv = httptest.NewServer(s.mux)
	s.URL = s.srv.URL
	t.Cleanup(func() {
		// Hung handlers return once done is closed, so Close does not
		// wait for the client to give up.
		close(s.done)
		s.srv.Close()
	})
	return s
}

// BaseURL returns the API root that OpenAI clients take, ending in /v1.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Done is closed when the server shuts down. Handlers that wait, as for a
// scripted hang, stop waiting then.
func (s *Server) Done() <-chan struct{} { return s.done }

// HandleFunc registers handler for pattern, a net/http ServeMux pattern
// such as "POST /v1/embeddings". The server checks APIKey and counts the
// request before handler runs.
func (s *Server) HandleFunc(pattern string, handler http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls[pattern]++
		s.mu.Unlock()
		if !s.authorized(r) {
			WriteError(w, http.StatusUnauthorized, APIError{
				Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: "invalid_api_key",
			})
			return
		}
		handler(w, r)
	})
}

// Handle registers handler for pattern, as HandleFunc does, so an
// endpoint such as an *EmbeddingsHandler mounts with
// s.Handle("POST /v1/embeddings", h).
func (s *Server) Handle(pattern string, handler http.Handler) {
	s.HandleFunc(pattern, handler.ServeHTTP)
}

// Calls returns the number of requests made to pattern, as registered
// with HandleFunc, rejected ones included.
func (s *Server) Calls(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[pattern]
}

func (s *Server) authorized(r *http.Request) bool {
	if s.APIKey == "" {
		return true
	}
	if key := r.Header.Get("api-key"); key != "" {
		return key == s.APIKey
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && token == s.APIKey
}

// APIError is the error object of OpenAI's error responses.
type APIError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    any    `json:"code"`
}

// WriteError writes an error response in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
func WriteError(w http.ResponseWriter, status int, e APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]APIError{"error": e})
}
