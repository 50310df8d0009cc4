package openaitest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// maxEmbeddingInputs is the most inputs OpenAI accepts in one embeddings
// request.
const maxEmbeddingInputs = 2048

// DefaultEmbeddingDimensions is the vector size the fake returns for a
// model it does not know, standing in for a self-hosted model such as one
// served by Ollama or vLLM.
const DefaultEmbeddingDimensions = 64

// EmbeddingsRequest is one request the fake received, decoded.
type EmbeddingsRequest struct {
	Model          string
	Input          []string
	EncodingFormat string
	// Dimensions is 0 when the request did not set it.
	Dimensions int
}

// EmbeddingsFailure describes an error response of the fake.
type EmbeddingsFailure struct {
	// Status is the HTTP status, such as 429 or 500.
	Status int
	// RetryAfter, when positive, is sent in the Retry-After header in whole
	// seconds.
	RetryAfter time.Duration
}

// EmbeddingsHandler is a fake of OpenAI's POST /v1/embeddings. It responds
// in OpenAI's response shape with deterministic vectors (see
// EmbeddingVector), in float or base64 encoding as requested, honours
// "dimensions" for the text-embedding-3 models, and returns OpenAI's error
// bodies for invalid requests and for failures a test injects. It is safe
// for concurrent use.
type EmbeddingsHandler struct {
	// APIKey, when set, is the bearer token that requests must carry.
	APIKey string

	mu       sync.Mutex
	requests []EmbeddingsRequest
	failNext []EmbeddingsFailure
	failAll  *EmbeddingsFailure
}

// NewEmbeddingsHandler returns a fake embeddings endpoint that accepts any
// API key.
func NewEmbeddingsHandler() *EmbeddingsHandler { return &EmbeddingsHandler{} }

// Register mounts the handler at POST /v1/embeddings of mux, the path that
// a client with base URL "<server>/v1" calls. On a Server, mount it with
// s.Handle("POST /v1/embeddings", h) instead.
func (h *EmbeddingsHandler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/embeddings", h)
}

// FailNext makes the next n requests fail with f, before any other check.
func (h *EmbeddingsHandler) FailNext(n int, f EmbeddingsFailure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range n {
		h.failNext = append(h.failNext, f)
	}
}

// FailAll makes every request fail with f until FailAll(nil) is called.
func (h *EmbeddingsHandler) FailAll(f *EmbeddingsFailure) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failAll = f
}

// Requests returns a copy of the requests received so far, including those
// that got an error response.
func (h *EmbeddingsHandler) Requests() []EmbeddingsRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]EmbeddingsRequest, len(h.requests))
	copy(out, h.requests)
	return out
}

// embeddingsBody is the JSON request body. Input is raw because OpenAI
// accepts a string, an array of strings or arrays of token ids.
type embeddingsBody struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

// ServeHTTP handles one embeddings request.
func (h *EmbeddingsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeEmbeddingsError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", "",
			fmt.Sprintf("Invalid method for URL (%s %s)", r.Method, r.URL.Path))
		return
	}

	var body embeddingsBody
	decodeErr := json.NewDecoder(http.MaxBytesReader(w, r.Body, 32<<20)).Decode(&body)
	input, inputErr := decodeEmbeddingsInput(body.Input)
	req := EmbeddingsRequest{Model: body.Model, Input: input, EncodingFormat: body.EncodingFormat}
	if body.Dimensions != nil {
		req.Dimensions = *body.Dimensions
	}

	failure := h.record(req)
	if failure != nil {
		writeEmbeddingsFailure(w, *failure)
		return
	}
	if h.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+h.APIKey {
		writeEmbeddingsError(w, http.StatusUnauthorized, "invalid_request_error", "", "invalid_api_key",
			"Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
		return
	}

	switch {
	case decodeErr != nil:
		writeEmbeddingsError(w, http.StatusBadRequest, "invalid_request_error", "", "",
			"We could not parse the JSON body of your request: "+decodeErr.Error())
		return
	case body.Model == "":
		writeEmbeddingsError(w, http.StatusBadRequest, "invalid_request_error", "model", "",
			"you must provide a model parameter")
		return
	case inputErr != nil:
		writeEmbeddingsError(w, http.StatusBadRequest, "invalid_request_error", "input", "", inputErr.Error())
		return
	}

	dims, msg := h.dimensions(body.Model, body.Dimensions)
	if msg != "" {
		writeEmbeddingsError(w, http.StatusBadRequest, "invalid_request_error", "dimensions", "", msg)
		return
	}
	format := body.EncodingFormat
	if format == "" {
		format = "float"
	}
	if format != "float" && format != "base64" {
		writeEmbeddingsError(w, http.StatusBadRequest, "invalid_request_error", "encoding_format", "",
			fmt.Sprintf("%q is not one of ['float', 'base64'] - 'encoding_format'", body.EncodingFormat))
		return
	}

	writeEmbeddingsJSON(w, http.StatusOK, embeddingsResponse(body.Model, input, dims, format))
}

// record stores req and returns the failure to respond with, if any.
func (h *EmbeddingsHandler) record(req EmbeddingsRequest) *EmbeddingsFailure {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, req)
	if len(h.failNext) > 0 {
		f := h.failNext[0]
		h.failNext = h.failNext[1:]
		return &f
	}
	return h.failAll
}

// dimensions returns the vector size for model, or OpenAI's error message
// when the request's dimensions are not allowed.
func (h *EmbeddingsHandler) dimensions(model string, requested *int) (int, string) {
	full := ModelDimensions(model)
	if requested == nil {
		return full, ""
	}
	if !strings.HasPrefix(model, "text-embedding-3") {
		return 0, "This model does not support specifying dimensions."
	}
	if *requested < 1 || *requested > full {
		return 0, fmt.Sprintf("Invalid value for 'dimensions' = %d. Must be between 1 and %d.", *requested, full)
	}
	return *requested, ""
}

// ModelDimensions returns the full vector size of OpenAI's embedding
// models, and DefaultEmbeddingDimensions for any other model.
func ModelDimensions(model string) int {
	switch model {
	case "text-embedding-3-large":
		return 3072
	case "text-embedding-3-small", "text-embedding-ada-002":
		return 1536
	}
	return DefaultEmbeddingDimensions
}

// errInvalidInput is OpenAI's message for malformed input.
var errInvalidInput = errors.New("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")

// decodeEmbeddingsInput accepts a string or an array of strings. Token-id input is
// rejected, because the fake embeds words.
func decodeEmbeddingsInput(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("'input' is a required property")
	}
	var single string
	if err := json.Unmarshal(raw, &single); err == nil {
		raw, _ = json.Marshal([]string{single})
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errInvalidInput
	}
	if len(many) == 0 || len(many) > maxEmbeddingInputs {
		return nil, fmt.Errorf("'$.input' must contain 1 to %d items, got %d", maxEmbeddingInputs, len(many))
	}
	for _, s := range many {
		if s == "" {
			return nil, errInvalidInput
		}
	}
	return many, nil
}

// EmbeddingVector returns the fake's vector for text: a unit vector of
// dims components to which every lowercase word of text adds ±1 at a
// position picked by a hash of the model and the word. Texts that share
// words are therefore near each other, and the same text gets a different
// vector from another model. A text without words is hashed whole.
func EmbeddingVector(model, text string, dims int) []float32 {
	vec := make([]float32, dims)
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) == 0 {
		words = []string{text}
	}
	for _, w := range words {
		h := embeddingHash(model + "\x00" + w)
		value := float32(1)
		if h>>63 == 1 {
			value = -1
		}
		vec[h%uint64(dims)] += value
	}

	var sum float64
	for _, v := range vec {
		sum += float64(v) * float64(v)
	}
	if sum == 0 {
		// Every word cancelled out; any fixed unit vector will do.
		vec[0] = 1
		return vec
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range vec {
		vec[i] *= inv
	}
	return vec
}

func embeddingHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	// Mix so that the low bits, which pick the position, depend on every
	// byte.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// embeddingsResponse builds OpenAI's response body. With format "base64",
// each embedding is the base64 of its little-endian float32 values.
func embeddingsResponse(model string, input []string, dims int, format string) map[string]any {
	data := make([]map[string]any, len(input))
	tokens := 0
	for i, text := range input {
		vec := EmbeddingVector(model, text, dims)
		var embedding any = vec
		if format == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, v := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			embedding = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": embedding}
		tokens += max(1, len(strings.Fields(text)))
	}
	return map[string]any{
		"object": "list",
		"data":   data,
		"model":  model,
		"usage":  map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	}
}

// writeEmbeddingsFailure writes OpenAI's error body for f's status.
func writeEmbeddingsFailure(w http.ResponseWriter, f EmbeddingsFailure) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	switch {
	case f.Status == http.StatusTooManyRequests:
		writeEmbeddingsError(w, f.Status, "requests", "", "rate_limit_exceeded",
			"Rate limit reached for requests. Please try again in a moment.")
	case f.Status >= 500:
		writeEmbeddingsError(w, f.Status, "server_error", "", "",
			"The server had an error while processing your request. Sorry about that!")
	default:
		writeEmbeddingsError(w, f.Status, "invalid_request_error", "", "", http.StatusText(f.Status))
	}
}

// writeEmbeddingsError writes an error in OpenAI's shape. Empty param and
// code are sent as null.
func writeEmbeddingsError(w http.ResponseWriter, status int, kind, param, code, message string) {
	e := APIError{Message: message, Type: kind}
	if param != "" {
		e.Param = param
	}
	if code != "" {
		e.Code = code
	}
	WriteError(w, status, e)
}

func writeEmbeddingsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
