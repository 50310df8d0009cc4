package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Defaults of OpenAIConfig.
const (
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	// DefaultOpenAIBatchSize keeps a request well under OpenAI's limit of
	// 2,048 inputs per request. Chunks are cut at about 800 bytes, so 96 of
	// them come to an estimated 20,000 tokens.
	DefaultOpenAIBatchSize  = 96
	DefaultOpenAIMaxRetries = 4
	DefaultOpenAITimeout    = 60 * time.Second
	// DefaultOpenAIRetryDelay is the back-off before the first retry. It
	// doubles on each further retry, up to maxOpenAIRetryDelay.
	DefaultOpenAIRetryDelay = 500 * time.Millisecond
	// DefaultAzureAPIVersion is the Azure OpenAI REST API version used when
	// OpenAIConfig.APIVersion is empty.
	DefaultAzureAPIVersion = "2024-02-01"
)

// maxOpenAIRetryDelay caps one back-off, including a server's Retry-After.
const maxOpenAIRetryDelay = 30 * time.Second

// maxVectorDimensions is pgvector's limit for the vector type.
const maxVectorDimensions = 16000

// OpenAIConfig configures an embedder that calls an OpenAI-compatible
// embeddings API: OpenAI, Azure OpenAI, or a self-hosted server such as
// Ollama, vLLM or llama.cpp that serves /v1/embeddings.
type OpenAIConfig struct {
	// BaseURL is the API root that "/embeddings" is appended to, such as
	// "http://localhost:11434/v1" for Ollama. Default DefaultOpenAIBaseURL.
	// For Azure it is the resource endpoint, "https://NAME.openai.azure.com".
	BaseURL string
	// APIKey is sent as a bearer token (as the api-key header for Azure).
	// Self-hosted servers often need none.
	APIKey string
	// Model is the model name, or the deployment name for Azure. Required.
	Model string
	// Dimensions is the vector size. It may be left 0 for OpenAI's
	// text-embedding-3-small, text-embedding-3-large and
	// text-embedding-ada-002, whose sizes are known. For other models set
	// it to the size the model returns.
	Dimensions int
	// SendDimensions sends Dimensions in each request, so that the model
	// shortens its vectors. It is always on for text-embedding-3 models.
	// Turn it on for other models that accept the "dimensions" parameter.
	SendDimensions bool
	// Base64 requests vectors as base64 of little-endian float32 values,
	// about a third of the JSON size. OpenAI's API reference lists it as
	// encoding_format "base64". Servers that implement only part of the API
	// may accept only the default float encoding.
	Base64 bool
	// APIType is "openai" (the default) or "azure".
	APIType string
	// APIVersion is the Azure API version. Default DefaultAzureAPIVersion.
	APIVersion string
	// BatchSize is the most texts sent in one request. Default
	// DefaultOpenAIBatchSize.
	BatchSize int
	// MaxRetries is how often a request is retried after a rate limit
	// (429), a server error (5xx), a timeout or a network error. Default
	// DefaultOpenAIMaxRetries. Set -1 for no retries.
	MaxRetries int
	// RetryDelay is the back-off before the first retry; see
	// DefaultOpenAIRetryDelay.
	RetryDelay time.Duration
	// Timeout limits each request. Default DefaultOpenAITimeout.
	Timeout time.Duration
	// HTTPClient sends the requests. Default a new http.Client.
	HTTPClient *http.Client
	// Logger receives retries at warn level. Nil discards them.
	Logger *slog.Logger
}

// knownModelDimensions are the full vector sizes of OpenAI's embedding
// models.
var knownModelDimensions = map[string]int{
	"text-embedding-3-small": 1536,
	"text-embedding-3-large": 3072,
	"text-embedding-ada-002": 1536,
}

// withDefaults checks c and fills in its defaults.
func (c OpenAIConfig) withDefaults() (OpenAIConfig, error) {
	if strings.TrimSpace(c.Model) == "" {
		return c, errors.New("openai embedder: missing model: set the embedding model name, such as text-embedding-3-small")
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultOpenAIBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("openai embedder: invalid base URL %q: use http(s)://host[:port]/path, such as %s", c.BaseURL, DefaultOpenAIBaseURL)
	}
	if c.Dimensions == 0 {
		c.Dimensions = knownModelDimensions[c.Model]
	}
	if c.Dimensions < 1 || c.Dimensions > maxVectorDimensions {
		return c, fmt.Errorf("openai embedder: invalid dimensions %d for model %q: set the vector size the model returns, 1 to %d",
			c.Dimensions, c.Model, maxVectorDimensions)
	}
	if strings.HasPrefix(c.Model, "text-embedding-3") {
		c.SendDimensions = true
	}

	switch c.APIType {
	case "", "openai":
		c.APIType = "openai"
	case "azure":
		if c.APIVersion == "" {
			c.APIVersion = DefaultAzureAPIVersion
		}
	default:
		return c, fmt.Errorf("openai embedder: invalid API type %q: use openai or azure", c.APIType)
	}

	if c.BatchSize == 0 {
		c.BatchSize = DefaultOpenAIBatchSize
	}
	if c.BatchSize < 1 || c.BatchSize > 2048 {
		return c, fmt.Errorf("openai embedder: invalid batch size %d: use 1 to 2048", c.BatchSize)
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultOpenAIMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultOpenAIRetryDelay
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultOpenAITimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// OpenAIEmbedder embeds texts with an OpenAI-compatible embeddings API. It
// sends up to BatchSize texts per request, retries rate limits and server
// errors with jittered exponential back-off, and checks that every vector
// has the configured size. It is safe for concurrent use.
type OpenAIEmbedder struct {
	cfg    OpenAIConfig
	client *openai.Client
	name   string
}

// NewOpenAIEmbedder checks cfg and returns the embedder. It sends no
// request.
func NewOpenAIEmbedder(cfg OpenAIConfig) (*OpenAIEmbedder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	var clientConfig openai.ClientConfig
	if cfg.APIType == "azure" {
		clientConfig = openai.DefaultAzureConfig(cfg.APIKey, cfg.BaseURL)
		clientConfig.APIVersion = cfg.APIVersion
		// The model name is the deployment name as it is.
		clientConfig.AzureModelMapperFunc = func(model string) string { return model }
	} else {
		clientConfig = openai.DefaultConfig(cfg.APIKey)
		clientConfig.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	clientConfig.HTTPClient = retryAfterRecorder{client: cfg.HTTPClient}

	return &OpenAIEmbedder{
		cfg:    cfg,
		client: openai.NewClientWithConfig(clientConfig),
		name:   OpenAIEmbedderName(cfg.Model, cfg.Dimensions),
	}, nil
}

// OpenAIEmbedderName returns the embedder name for a model and size,
// "openai:<model>:<dimensions>", with every character of the model other
// than letters, digits, '.', '_' and '-' replaced by '-', so that
// "BAAI/bge-m3" becomes "openai:BAAI-bge-m3:1024". The model part is cut
// so that the name stays within 100 characters.
func OpenAIEmbedderName(model string, dimensions int) string {
	suffix := ":" + strconv.Itoa(dimensions)
	var b strings.Builder
	for _, r := range model {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	sanitized := b.String()
	if limit := 100 - len("openai:") - len(suffix); len(sanitized) > limit {
		sanitized = sanitized[:limit]
	}
	return "openai:" + sanitized + suffix
}

// Name returns "openai:<model>:<dimensions>", as OpenAIEmbedderName does.
func (e *OpenAIEmbedder) Name() string { return e.name }

// Dimensions returns the configured vector size.
func (e *OpenAIEmbedder) Dimensions() int { return e.cfg.Dimensions }

// Embed returns one vector per text, in order. Texts that are empty or
// only whitespace get the zero vector without a request, because OpenAI
// rejects empty input; LocalEmbedder does the same for texts without
// words. A batch that still fails after the retries fails the whole call.
func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var pending []int
	for i, text := range texts {
		if strings.TrimSpace(text) == "" {
			out[i] = make([]float32, e.cfg.Dimensions)
			continue
		}
		pending = append(pending, i)
	}

	for start := 0; start < len(pending); start += e.cfg.BatchSize {
		indexes := pending[start:min(start+e.cfg.BatchSize, len(pending))]
		batch := make([]string, len(indexes))
		for j, i := range indexes {
			batch[j] = texts[i]
		}
		vectors, err := e.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		for j, i := range indexes {
			out[i] = vectors[j]
		}
	}
	return out, nil
}

// embedBatch sends one request, retrying what may succeed later.
func (e *OpenAIEmbedder) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	req := openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(e.cfg.Model)}
	if e.cfg.SendDimensions {
		req.Dimensions = e.cfg.Dimensions
	}
	if e.cfg.Base64 {
		req.EncodingFormat = openai.EmbeddingEncodingFormatBase64
	}

	for attempt := 0; ; attempt++ {
		resp, retryAfter, err := e.send(ctx, req)
		if err == nil {
			return e.vectors(resp, len(texts))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), e.name, ctx.Err())
		}
		if !retryable(err) || attempt >= e.cfg.MaxRetries {
			return nil, e.describe(err, len(texts), attempt+1)
		}

		delay := e.backoff(attempt, retryAfter)
		e.cfg.Logger.WarnContext(ctx, "embeddings request failed, retrying", "embedder", e.name,
			"attempt", attempt+1, "delay", delay, "error", err)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), e.name, ctx.Err())
		case <-timer.C:
		}
	}
}

// send makes one request under the configured timeout and returns the
// server's Retry-After, if it sent one.
func (e *OpenAIEmbedder) send(ctx context.Context, req openai.EmbeddingRequestStrings) (openai.EmbeddingResponse, time.Duration, error) {
	var retryAfter time.Duration
	ctx = context.WithValue(ctx, retryAfterKey{}, &retryAfter)
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	resp, err := e.client.CreateEmbeddings(ctx, req)
	return resp, retryAfter, err
}

// vectors checks the response against the request and orders the vectors
// by their index.
func (e *OpenAIEmbedder) vectors(resp openai.EmbeddingResponse, count int) ([][]float32, error) {
	if len(resp.Data) != count {
		return nil, fmt.Errorf("embed with %s: the API returned %d embeddings for %d texts", e.name, len(resp.Data), count)
	}
	out := make([][]float32, count)
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= count || out[d.Index] != nil {
			return nil, fmt.Errorf("embed with %s: the API returned an embedding with invalid or repeated index %d", e.name, d.Index)
		}
		if len(d.Embedding) != e.cfg.Dimensions {
			return nil, fmt.Errorf("embed with %s: the API returned a vector of %d dimensions, expected %d: set the embedding dimensions to the model's size",
				e.name, len(d.Embedding), e.cfg.Dimensions)
		}
		out[d.Index] = d.Embedding
	}
	return out, nil
}

// backoff returns the wait before retry attempt+1: the base delay doubled
// per attempt, then picked at random between half and all of that, or the
// server's Retry-After when that is longer, capped at maxOpenAIRetryDelay.
func (e *OpenAIEmbedder) backoff(attempt int, retryAfter time.Duration) time.Duration {
	delay := e.cfg.RetryDelay << min(attempt, 16)
	delay = min(delay, maxOpenAIRetryDelay)
	delay = delay/2 + rand.N(delay/2+1)
	return min(max(delay, retryAfter), maxOpenAIRetryDelay)
}

// describe wraps a final error with what to check.
func (e *OpenAIEmbedder) describe(err error, count, attempts int) error {
	prefix := fmt.Sprintf("embed %d texts with %s at %s", count, e.name, e.cfg.BaseURL)
	if attempts > 1 {
		prefix += fmt.Sprintf(" (%d attempts)", attempts)
	}
	switch statusCode(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%s: the API rejected the key, check the API key: %w", prefix, err)
	case http.StatusNotFound:
		return fmt.Errorf("%s: not found, check the base URL and the model name: %w", prefix, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// statusCode returns the HTTP status of an API error, or 0.
func statusCode(err error) int {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatusCode
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode
	}
	return 0
}

// retryable reports whether a failed request may succeed when repeated:
// rate limits, server errors, request timeouts and network errors.
func retryable(err error) bool {
	switch code := statusCode(err); {
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code >= 500:
		return true
	case code != 0:
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// retryAfterKey is the context key under which send passes a
// *time.Duration for retryAfterRecorder to fill in.
type retryAfterKey struct{}

// retryAfterRecorder passes requests to client and stores the Retry-After
// of a 429 or 503 response, because go-openai's errors do not carry
// response headers.
type retryAfterRecorder struct {
	client *http.Client
}

func (r retryAfterRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.client.Do(req)
	if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return resp, err
	}
	if target, ok := req.Context().Value(retryAfterKey{}).(*time.Duration); ok {
		*target = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return resp, nil
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date,
// and returns 0 when it is missing or invalid.
func parseRetryAfter(value string, now time.Time) time.Duration {
	if value == "" {
		return 0
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds > 0 {
		return time.Duration(seconds) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
