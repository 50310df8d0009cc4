package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ChatRequest is a chat completions request as the server decoded it.
type ChatRequest struct {
	Model         string         `json:"model"`
	Messages      []Message      `json:"messages"`
	Tools         []Tool         `json:"tools,omitempty"`
	ToolChoice    any            `json:"tool_choice,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`

	// Call numbers the server's chat requests from 1, rejected ones
	// included, so a script can fail the first call and reply to the next.
	Call int `json:"-"`
	// Deployment and APIVersion are set for requests on the Azure path.
	Deployment string      `json:"-"`
	APIVersion string      `json:"-"`
	Header     http.Header `json:"-"`
}

// StreamOptions are the options of a streamed request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one message of a request.
type Message struct {
	Role string `json:"role"`
	// Content is the message's text. Content sent as an array of parts is
	// joined from the text parts.
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Name       string     `json:"name,omitempty"`
}

// UnmarshalJSON decodes a message whose content is a string, null or an
// array of content parts.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var wire struct {
		plain
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	*m = Message(wire.plain)
	if len(wire.Content) == 0 || string(wire.Content) == "null" {
		return nil
	}
	if err := json.Unmarshal(wire.Content, &m.Content); err == nil {
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(wire.Content, &parts); err != nil {
		return fmt.Errorf("message content is neither a string nor an array of parts: %w", err)
	}
	for _, p := range parts {
		m.Content += p.Text
	}
	return nil
}

// ToolCall is a tool call of an assistant message.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function a tool call names, with its arguments as
// a JSON string.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is a tool offered to the model.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`
}

// Function describes a function tool.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// LastUser returns the content of the request's last user message.
func (r *ChatRequest) LastUser() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// System returns the content of the request's first system message.
func (r *ChatRequest) System() string {
	for _, m := range r.Messages {
		if m.Role == "system" {
			return m.Content
		}
	}
	return ""
}

// ToolResult returns the content of the last tool message that carries
// the result of a call of the named tool after the last user message.
func (r *ChatRequest) ToolResult(name string) (string, bool) {
	names := map[string]string{}
	result, found := "", false
	for _, m := range r.Messages {
		switch m.Role {
		case "user":
			result, found = "", false
		case "assistant":
			for _, c := range m.ToolCalls {
				names[c.ID] = c.Function.Name
			}
		case "tool":
			if names[m.ToolCallID] == name {
				result, found = m.Content, true
			}
		}
	}
	return result, found
}

// HasTool reports whether the request offers the named tool.
func (r *ChatRequest) HasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Function.Name == name {
			return true
		}
	}
	return false
}

// ChatScript returns the actions that make up the reply to a request.
// It runs on the server's goroutine for the request.
type ChatScript func(req *ChatRequest) []Action

// Chat sets the script for the chat requests that follow.
func (s *Server) Chat(script ChatScript) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = script
}

// ChatRequests returns the chat requests received so far, oldest first.
func (s *Server) ChatRequests() []*ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*ChatRequest(nil), s.chats...)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	s.serveChat(w, r, "", "")
}

func (s *Server) handleAzureChat(w http.ResponseWriter, r *http.Request) {
	version := r.URL.Query().Get("api-version")
	if version == "" {
		// Azure OpenAI responds so to a request without api-version.
		WriteError(w, http.StatusNotFound, APIError{Message: "Resource not found", Code: "404"})
		return
	}
	s.serveChat(w, r, r.PathValue("deployment"), version)
}

func (s *Server) serveChat(w http.ResponseWriter, r *http.Request, deployment, apiVersion string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		WriteError(w, http.StatusBadRequest, APIError{Message: "could not read the request body", Type: "invalid_request_error"})
		return
	}
	req := &ChatRequest{}
	if err := json.Unmarshal(body, req); err != nil {
		WriteError(w, http.StatusBadRequest, APIError{
			Message: fmt.Sprintf("We could not parse the JSON body of your request: %v", err), Type: "invalid_request_error",
		})
		return
	}
	if len(req.Messages) == 0 {
		WriteError(w, http.StatusBadRequest, APIError{Message: "[] is too short - 'messages'", Type: "invalid_request_error", Param: "messages"})
		return
	}
	req.Deployment, req.APIVersion, req.Header = deployment, apiVersion, r.Header.Clone()

	s.mu.Lock()
	s.chats = append(s.chats, req)
	req.Call = len(s.chats)
	script := s.script
	s.mu.Unlock()

	actions := []Action{Text("OK")}
	if script != nil {
		actions = script(req)
	}
	reply := &replyWriter{
		w: w, r: r, server: s, req: req,
		id: fmt.Sprintf("chatcmpl-fake%d", req.Call), created: time.Now().Unix(),
		promptTokens: len(body) / 4,
	}
	if req.Stream {
		reply.stream(actions)
		return
	}
	reply.whole(actions)
}
