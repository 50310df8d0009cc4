package retrieval_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/salesagent/salesagent/internal/openaitest"
	"github.com/salesagent/salesagent/retrieval"
)

// fakeModel is the model the OpenAI tests ask the fake for, shortened to
// fakeDimensions through the "dimensions" parameter.
const (
	fakeModel      = "text-embedding-3-small"
	fakeDimensions = 64
)

// fakeOpenAI starts the fake OpenAI server with its embeddings endpoint
// and returns the endpoint with the base URL for OpenAIConfig. wrap, when
// not nil, wraps the endpoint's handler.
func fakeOpenAI(t testing.TB, wrap func(http.Handler) http.Handler) (*openaitest.EmbeddingsHandler, string) {
	t.Helper()
	fake := openaitest.NewEmbeddingsHandler()
	var handler http.Handler = fake
	if wrap != nil {
		handler = wrap(fake)
	}
	server := openaitest.New(t)
	server.Handle("POST /v1/embeddings", handler)
	return fake, server.BaseURL()
}

// newOpenAIEmbedder returns an embedder of fakeModel at baseURL with fast
// retries; change adjusts the config first.
func newOpenAIEmbedder(t testing.TB, baseURL string, change func(*retrieval.OpenAIConfig)) *retrieval.OpenAIEmbedder {
	t.Helper()
	cfg := retrieval.OpenAIConfig{
		BaseURL:    baseURL,
		APIKey:     "sk-test",
		Model:      fakeModel,
		Dimensions: fakeDimensions,
		RetryDelay: time.Millisecond,
	}
	if change != nil {
		change(&cfg)
	}
	e, err := retrieval.NewOpenAIEmbedder(cfg)
	if err != nil {
		t.Fatalf("NewOpenAIEmbedder: %v", err)
	}
	return e
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("product %d rain jacket size %d", i, i%7)
	}
	return out
}

func TestOpenAIEmbedderBatchesAndOrders(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	e := newOpenAIEmbedder(t, url, nil)
	input := texts(200)

	vectors, err := e.Embed(context.Background(), input)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}

	requests := fake.Requests()
	var sizes []int
	for _, r := range requests {
		sizes = append(sizes, len(r.Input))
		if r.Model != fakeModel || r.Dimensions != fakeDimensions || r.EncodingFormat != "" {
			t.Errorf("request model %q, dimensions %d, encoding %q; want %s, %d, default", r.Model, r.Dimensions, r.EncodingFormat, fakeModel, fakeDimensions)
		}
	}
	if fmt.Sprint(sizes) != "[96 96 8]" {
		t.Errorf("batch sizes = %v, want [96 96 8]", sizes)
	}
	if len(vectors) != len(input) {
		t.Fatalf("got %d vectors for %d texts", len(vectors), len(input))
	}
	for i, text := range input {
		want := openaitest.EmbeddingVector(fakeModel, text, fakeDimensions)
		if fmt.Sprint(vectors[i]) != fmt.Sprint(want) {
			t.Fatalf("vector %d differs from the fake's vector for %q", i, text)
		}
	}
}

func TestOpenAIEmbedderBase64(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	e := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) { c.Base64 = true })

	vectors, err := e.Embed(context.Background(), []string{"merino wool socks"})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if got := fake.Requests()[0].EncodingFormat; got != "base64" {
		t.Errorf("encoding_format = %q, want base64", got)
	}
	want := openaitest.EmbeddingVector(fakeModel, "merino wool socks", fakeDimensions)
	if fmt.Sprint(vectors[0]) != fmt.Sprint(want) {
		t.Errorf("decoded vector = %v, want %v", vectors[0], want)
	}
}

func TestOpenAIEmbedderSelfHostedModel(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	e := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) {
		c.Model = "nomic-embed-text:latest"
		c.Dimensions = openaitest.DefaultEmbeddingDimensions
		c.APIKey = ""
	})
	if got, want := e.Name(), "openai:nomic-embed-text-latest:64"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}

	if _, err := e.Embed(context.Background(), []string{"trail shoes"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if got := fake.Requests()[0].Dimensions; got != 0 {
		t.Errorf("sent dimensions %d to a model without the parameter, want none", got)
	}
}

func TestOpenAIEmbedderWrongDimensions(t *testing.T) {
	t.Parallel()
	_, url := fakeOpenAI(t, nil)
	// The fake's self-hosted model returns 64 dimensions, not 768.
	e := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) {
		c.Model = "nomic-embed-text"
		c.Dimensions = 768
	})
	_, err := e.Embed(context.Background(), []string{"trail shoes"})
	if err == nil || !strings.Contains(err.Error(), "64 dimensions, expected 768") {
		t.Errorf("error = %v, want one naming both sizes", err)
	}
}

func TestOpenAIEmbedderBlankTextsSkipRequest(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	e := newOpenAIEmbedder(t, url, nil)

	vectors, err := e.Embed(context.Background(), []string{"", "rain jacket", "  "})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	requests := fake.Requests()
	if len(requests) != 1 || fmt.Sprint(requests[0].Input) != "[rain jacket]" {
		t.Errorf("requests = %+v, want one with only the non-blank text", requests)
	}
	for _, i := range []int{0, 2} {
		if len(vectors[i]) != fakeDimensions || !allZero(vectors[i]) {
			t.Errorf("vector %d of a blank text is not the %d-dimension zero vector", i, fakeDimensions)
		}
	}
	if allZero(vectors[1]) {
		t.Error("vector of a real text is zero")
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestOpenAIEmbedderRetriesRateLimitAndServerError(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	fake.FailNext(1, openaitest.EmbeddingsFailure{Status: http.StatusTooManyRequests})
	fake.FailNext(1, openaitest.EmbeddingsFailure{Status: http.StatusBadGateway})
	e := newOpenAIEmbedder(t, url, nil)

	vectors, err := e.Embed(context.Background(), []string{"rain jacket"})
	if err != nil {
		t.Fatalf("Embed after two retryable failures: %v", err)
	}
	if len(vectors) != 1 || len(vectors[0]) != fakeDimensions {
		t.Errorf("got %d vectors, want one of %d dimensions", len(vectors), fakeDimensions)
	}
	if got := len(fake.Requests()); got != 3 {
		t.Errorf("sent %d requests, want 3", got)
	}
}

func TestOpenAIEmbedderHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	fake.FailNext(1, openaitest.EmbeddingsFailure{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	e := newOpenAIEmbedder(t, url, nil)

	start := time.Now()
	if _, err := e.Embed(context.Background(), []string{"rain jacket"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("retried after %v, want about the 1 s that Retry-After asked for", elapsed)
	}
}

func TestOpenAIEmbedderGivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	fake.FailAll(&openaitest.EmbeddingsFailure{Status: http.StatusInternalServerError})
	e := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) { c.MaxRetries = 2 })

	_, err := e.Embed(context.Background(), []string{"rain jacket"})
	if err == nil || !strings.Contains(err.Error(), "3 attempts") || !strings.Contains(err.Error(), "500") {
		t.Errorf("error = %v, want one naming 3 attempts and status 500", err)
	}
	if got := len(fake.Requests()); got != 3 {
		t.Errorf("sent %d requests, want 3", got)
	}
}

func TestOpenAIEmbedderDoesNotRetryClientErrors(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	fake.APIKey = "sk-other"
	e := newOpenAIEmbedder(t, url, nil)

	_, err := e.Embed(context.Background(), []string{"rain jacket"})
	if err == nil || !strings.Contains(err.Error(), "check the API key") {
		t.Errorf("error = %v, want one asking to check the API key", err)
	}
	if got := len(fake.Requests()); got != 1 {
		t.Errorf("sent %d requests for a 401, want 1", got)
	}
}

func TestOpenAIEmbedderRetriesTimeout(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	// The first request hangs until the client gives up on it.
	hangFirst := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				// The server notices the client closing the connection
				// only once the body has been read.
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	_, url := fakeOpenAI(t, hangFirst)
	e := newOpenAIEmbedder(t, url, func(c *retrieval.OpenAIConfig) { c.Timeout = 100 * time.Millisecond })

	if _, err := e.Embed(context.Background(), []string{"rain jacket"}); err != nil {
		t.Fatalf("Embed after a timed-out request: %v", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("sent %d requests, want 2", got)
	}
}

func TestOpenAIEmbedderStopsOnCancel(t *testing.T) {
	t.Parallel()
	fake, url := fakeOpenAI(t, nil)
	fake.FailAll(&openaitest.EmbeddingsFailure{Status: http.StatusServiceUnavailable, RetryAfter: 10 * time.Second})
	e := newOpenAIEmbedder(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := e.Embed(ctx, []string{"rain jacket"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want the context's deadline", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("returned after %v, want soon after the 200 ms deadline", elapsed)
	}
}

func TestOpenAIConfigValidation(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		cfg  retrieval.OpenAIConfig
		want string
	}{
		"no model":           {retrieval.OpenAIConfig{}, "missing model"},
		"unknown model size": {retrieval.OpenAIConfig{Model: "bge-m3"}, "invalid dimensions 0"},
		"bad URL":            {retrieval.OpenAIConfig{Model: fakeModel, BaseURL: "localhost:11434"}, "invalid base URL"},
		"bad API type":       {retrieval.OpenAIConfig{Model: fakeModel, APIType: "bedrock"}, "invalid API type"},
		"huge batch":         {retrieval.OpenAIConfig{Model: fakeModel, BatchSize: 5000}, "invalid batch size"},
	}
	for name, c := range cases {
		_, err := retrieval.NewOpenAIEmbedder(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want one containing %q", name, err, c.want)
		}
	}

	e, err := retrieval.NewOpenAIEmbedder(retrieval.OpenAIConfig{Model: "text-embedding-3-large"})
	if err != nil {
		t.Fatalf("known model without dimensions: %v", err)
	}
	if e.Dimensions() != 3072 || e.Name() != "openai:text-embedding-3-large:3072" {
		t.Errorf("known model: dimensions %d, name %q; want 3072, openai:text-embedding-3-large:3072", e.Dimensions(), e.Name())
	}
}

func TestOpenAIEmbedderName(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"text-embedding-3-small":   "openai:text-embedding-3-small:64",
		"BAAI/bge-m3":              "openai:BAAI-bge-m3:64",
		"nomic-embed-text:v1.5":    "openai:nomic-embed-text-v1.5:64",
		"it's; DROP TABLE shops--": "openai:it-s--DROP-TABLE-shops--:64",
	}
	for model, want := range cases {
		if got := retrieval.OpenAIEmbedderName(model, 64); got != want {
			t.Errorf("OpenAIEmbedderName(%q) = %q, want %q", model, got, want)
		}
	}
	long := retrieval.OpenAIEmbedderName(strings.Repeat("x", 300), 1536)
	if len(long) != 100 || !strings.HasSuffix(long, ":1536") {
		t.Errorf("long model name gave %q (%d characters), want 100 ending in :1536", long, len(long))
	}
}
