package openaitest_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/salesagent/salesagent/internal/openaitest"
)

func client(s *openaitest.Server) *openai.Client {
	config := openai.DefaultConfig("sk-test")
	config.BaseURL = s.BaseURL()
	return openai.NewClientWithConfig(config)
}

func streamRequest() openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model:         "gpt-test",
		Messages:      []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "what size?"}},
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	}
}

// collect reads a whole stream and returns its text, its tool calls joined
// by index, its finish reason and its usage.
func collect(t *testing.T, stream *openai.ChatCompletionStream) (string, map[int]*openai.ToolCall, string, *openai.Usage, int) {
	t.Helper()
	defer stream.Close()
	var text strings.Builder
	calls := map[int]*openai.ToolCall{}
	var finish string
	var usage *openai.Usage
	chunks := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return text.String(), calls, finish, usage, chunks
		}
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		chunks++
		if resp.Usage != nil {
			usage = resp.Usage
		}
		for _, c := range resp.Choices {
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = string(c.FinishReason)
			}
			for _, d := range c.Delta.ToolCalls {
				call, ok := calls[*d.Index]
				if !ok {
					call = &openai.ToolCall{}
					calls[*d.Index] = call
				}
				if d.ID != "" {
					call.ID = d.ID
				}
				call.Function.Name += d.Function.Name
				call.Function.Arguments += d.Function.Arguments
			}
		}
	}
}

func TestStreamTextAndUsage(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("Take a medium [S1]."), openaitest.ReportUsage(120, 9)}
	})
	stream, err := client(s).CreateChatCompletionStream(context.Background(), streamRequest())
	if err != nil {
		t.Fatal(err)
	}
	text, calls, finish, usage, chunks := collect(t, stream)
	if text != "Take a medium [S1]." {
		t.Errorf("text = %q", text)
	}
	if len(calls) != 0 || finish != "stop" {
		t.Errorf("calls = %v, finish = %q; want none and stop", calls, finish)
	}
	if usage == nil || usage.PromptTokens != 120 || usage.CompletionTokens != 9 || usage.TotalTokens != 129 {
		t.Errorf("usage = %+v, want 120 + 9 = 129", usage)
	}
	// A role chunk, 5 text chunks of 4 runes, a finish chunk, a usage chunk.
	if chunks != 8 {
		t.Errorf("read %d chunks, want 8", chunks)
	}
	reqs := s.ChatRequests()
	if len(reqs) != 1 || reqs[0].LastUser() != "what size?" || !reqs[0].Stream || reqs[0].Call != 1 {
		t.Errorf("recorded requests = %+v", reqs)
	}
}

func TestStreamToolCallsSplitAcrossChunks(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.ArgumentsChunk = 3
	s.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{
			openaitest.CallTool("send_size_guide", `{"product":"summit-rain-jacket"}`),
			openaitest.CallTool("search_products", `{"query":"wool socks ü"}`),
		}
	})
	stream, err := client(s).CreateChatCompletionStream(context.Background(), streamRequest())
	if err != nil {
		t.Fatal(err)
	}
	_, calls, finish, _, chunks := collect(t, stream)
	if finish != "tool_calls" {
		t.Errorf("finish = %q, want tool_calls", finish)
	}
	if len(calls) != 2 {
		t.Fatalf("calls = %v, want 2", calls)
	}
	if c := calls[0]; c.Function.Name != "send_size_guide" || c.Function.Arguments != `{"product":"summit-rain-jacket"}` || c.ID == "" {
		t.Errorf("call 0 = %+v", c)
	}
	if c := calls[1]; c.Function.Name != "search_products" || c.Function.Arguments != `{"query":"wool socks ü"}` || c.ID == calls[0].ID {
		t.Errorf("call 1 = %+v", c)
	}
	if chunks < 20 {
		t.Errorf("read %d chunks; the arguments should be split into many", chunks)
	}
}

func TestErrorsHaveOpenAIShape(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.RateLimited()}
	})
	_, err := client(s).CreateChatCompletionStream(context.Background(), streamRequest())
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want an *openai.APIError", err)
	}
	if apiErr.HTTPStatusCode != http.StatusTooManyRequests || apiErr.Code != "rate_limit_exceeded" || apiErr.Type != "requests" {
		t.Errorf("error = %+v, want 429 rate_limit_exceeded", apiErr)
	}

	s.APIKey = "sk-right"
	_, err = client(s).CreateChatCompletionStream(context.Background(), streamRequest())
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
		t.Errorf("request without the key: error = %v, want 401 invalid_api_key", err)
	}
	if n := s.Calls("POST /v1/chat/completions"); n != 2 {
		t.Errorf("Calls = %d, want 2", n)
	}
}

func TestDieEndsStreamEarly(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("The jacket"), openaitest.Die()}
	})
	stream, err := client(s).CreateChatCompletionStream(context.Background(), streamRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var text strings.Builder
	var finish string
	for {
		resp, err := stream.Recv()
		if err != nil {
			break
		}
		for _, c := range resp.Choices {
			text.WriteString(c.Delta.Content)
			finish += string(c.FinishReason)
		}
	}
	if text.String() != "The jacket" || finish != "" {
		t.Errorf("text %q, finish %q; want the text before the connection died and no finish reason", text.String(), finish)
	}
}

func TestHangHoldsHeaders(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Hang()}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client(s).CreateChatCompletionStream(ctx, streamRequest())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the context's deadline", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("hang lasted %v after the client gave up", elapsed)
	}
}

func TestAzurePath(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.APIKey = "azure-key"
	config := openai.DefaultAzureConfig("azure-key", s.URL)
	config.APIVersion = "2024-10-21"
	config.AzureModelMapperFunc = func(model string) string { return model }
	stream, err := openai.NewClientWithConfig(config).CreateChatCompletionStream(context.Background(), streamRequest())
	if err != nil {
		t.Fatal(err)
	}
	text, _, _, _, _ := collect(t, stream)
	if text != "OK" {
		t.Errorf("text = %q, want the default OK", text)
	}
	req := s.ChatRequests()[0]
	if req.Deployment != "gpt-test" || req.APIVersion != "2024-10-21" || req.Header.Get("api-key") != "azure-key" {
		t.Errorf("deployment %q, api-version %q, api-key %q", req.Deployment, req.APIVersion, req.Header.Get("api-key"))
	}

	resp, err := http.Post(s.URL+"/openai/deployments/gpt-test/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("request without api-key: status %d, want 401", resp.StatusCode)
	}
}

func TestWholeReplyWithoutStream(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.CallTool("escalate_to_human", `{"reason":"refund"}`)}
	})
	req := streamRequest()
	req.StreamOptions = nil
	resp, err := client(s).CreateChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || len(resp.Choices[0].Message.ToolCalls) != 1 || resp.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("response = %+v", resp)
	}
	if call := resp.Choices[0].Message.ToolCalls[0]; call.Function.Name != "escalate_to_human" || call.Function.Arguments != `{"reason":"refund"}` {
		t.Errorf("tool call = %+v", call)
	}
	if resp.Usage.PromptTokens == 0 {
		t.Errorf("usage = %+v, want an estimate", resp.Usage)
	}
}

func TestStreamWireFormat(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	body := `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`
	resp, err := http.Post(s.BaseURL()+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type = %q, want text/event-stream", ct)
	}
	var lines []string
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
	}
	if len(lines) < 4 || lines[len(lines)-2] != "data: [DONE]" || lines[len(lines)-1] != "" {
		t.Fatalf("stream does not end with data: [DONE] and a blank line: %q", lines)
	}
	usage := lines[len(lines)-4]
	if !strings.Contains(usage, `"choices":[]`) || !strings.Contains(usage, `"usage":{"prompt_tokens"`) {
		t.Errorf("last chunk before [DONE] = %s, want empty choices and usage", usage)
	}
	if first := lines[0]; !strings.Contains(first, `"delta":{"role":"assistant","content":""}`) || !strings.Contains(first, `"object":"chat.completion.chunk"`) {
		t.Errorf("first chunk = %s, want the role chunk", first)
	}
	if got := s.ChatRequests()[0].LastUser(); got != "hi" {
		t.Errorf("content parts decoded as %q, want hi", got)
	}
}

func TestHandleMountsEmbeddings(t *testing.T) {
	t.Parallel()
	s := openaitest.New(t)
	s.Handle("POST /v1/embeddings", openaitest.NewEmbeddingsHandler())
	config := openai.DefaultConfig("sk-test")
	config.BaseURL = s.BaseURL()
	resp, err := openai.NewClientWithConfig(config).CreateEmbeddings(context.Background(), openai.EmbeddingRequestStrings{
		Input: []string{"rain jacket"}, Model: "nomic-embed-text",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Embedding) == 0 {
		t.Errorf("embeddings response = %+v, want one vector", resp)
	}
	if n := s.Calls("POST /v1/embeddings"); n != 1 {
		t.Errorf("Calls = %d, want 1", n)
	}
}
