package bench

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

func startFake(t *testing.T, config FakeLLMConfig) *FakeLLM {
	t.Helper()
	fake, err := StartFakeLLM(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	return fake
}

func fakeClient(fake *FakeLLM) *openai.Client {
	config := openai.DefaultConfig("bench")
	config.BaseURL = fake.URL
	return openai.NewClientWithConfig(config)
}

func TestFakeLLMStreams(t *testing.T) {
	const ttft = 30 * time.Millisecond
	fake := startFake(t, FakeLLMConfig{TTFT: ttft, TokensPerSecond: 500, Tokens: 6})
	request := openai.ChatCompletionRequest{
		Model: "bench-fake",
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "Page: http://127.0.0.1/shop/x" + TurnMarker(4, 2)},
			{Role: openai.ChatMessageRoleUser, Content: "Do you have rain jackets?"},
		},
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	}
	stream, err := fakeClient(fake).CreateChatCompletionStream(context.Background(), request)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()

	var text strings.Builder
	var finish openai.FinishReason
	var usage *openai.Usage
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		for _, c := range chunk.Choices {
			text.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}

	if got := strings.Fields(text.String()); len(got) != 6 || got[0] != fakeWords[0] {
		t.Errorf("reply %q, want the first 6 fake words", text.String())
	}
	if finish != openai.FinishReasonStop {
		t.Errorf("finish reason %q, want stop", finish)
	}
	if usage == nil || usage.CompletionTokens != 6 {
		t.Errorf("usage = %+v, want 6 completion tokens", usage)
	}

	requests, dropped := fake.Requests()
	if len(requests) != 1 || dropped != 0 {
		t.Fatalf("%d requests recorded and %d dropped, want 1 and 0", len(requests), dropped)
	}
	r := requests[0]
	if r.Marker != "#c4t2" {
		t.Errorf("marker = %q, want #c4t2", r.Marker)
	}
	if own := r.FirstToken.Sub(r.Received); own < ttft {
		t.Errorf("first token %v after the request, before the %v TTFT", own, ttft)
	}
}

func TestFakeLLMWholeReply(t *testing.T) {
	fake := startFake(t, FakeLLMConfig{TokensPerSecond: 1000, Tokens: 3})
	resp, err := fakeClient(fake).CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{
		Model:    "bench-fake",
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "hello"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || len(strings.Fields(resp.Choices[0].Message.Content)) != 3 {
		t.Errorf("choices = %+v, want one reply of 3 words", resp.Choices)
	}
	requests, _ := fake.Requests()
	if len(requests) != 1 || requests[0].Marker != "" {
		t.Errorf("requests = %+v, want one without a marker", requests)
	}
}

func TestFakeLLMRejectsBadRequest(t *testing.T) {
	fake := startFake(t, FakeLLMConfig{TokensPerSecond: 10, Tokens: 1})
	_, err := fakeClient(fake).CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{Model: "bench-fake"})
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 400 {
		t.Errorf("request without messages: error %v, want a 400 API error", err)
	}
}

func TestFakeLLMConfigValidate(t *testing.T) {
	for name, config := range map[string]FakeLLMConfig{
		"negative ttft": {TTFT: -time.Second, TokensPerSecond: 1, Tokens: 1},
		"zero rate":     {TokensPerSecond: 0, Tokens: 1},
		"no tokens":     {TokensPerSecond: 1, Tokens: 0},
	} {
		if err := config.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
