package openaitest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// post sends body to the handler and decodes the JSON response.
func post(t *testing.T, h *EmbeddingsHandler, body string) (int, http.Header, map[string]any) {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux)
	req := httptest.NewRequest(http.MethodPost, "/v1/embeddings", strings.NewReader(body))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, rec.Body.String())
	}
	return rec.Code, rec.Header(), out
}

func TestEmbeddingsResponseShape(t *testing.T) {
	t.Parallel()
	h := NewEmbeddingsHandler()
	code, header, out := post(t, h, `{"model":"text-embedding-3-small","input":["rain jacket","wool socks"],"dimensions":8}`)
	if code != http.StatusOK {
		t.Fatalf("status = %d, want 200: %v", code, out)
	}
	if got := header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if out["object"] != "list" || out["model"] != "text-embedding-3-small" {
		t.Errorf("object, model = %v, %v; want list, text-embedding-3-small", out["object"], out["model"])
	}
	usage, _ := out["usage"].(map[string]any)
	if usage["prompt_tokens"] != float64(4) || usage["total_tokens"] != float64(4) {
		t.Errorf("usage = %v, want 4 prompt and total tokens", usage)
	}
	data, _ := out["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("data has %d items, want 2", len(data))
	}
	for i, item := range data {
		entry := item.(map[string]any)
		if entry["object"] != "embedding" || entry["index"] != float64(i) {
			t.Errorf("data[%d] object, index = %v, %v; want embedding, %d", i, entry["object"], entry["index"], i)
		}
		vec, _ := entry["embedding"].([]any)
		if len(vec) != 8 {
			t.Errorf("data[%d] has %d dimensions, want 8", i, len(vec))
		}
	}
}

func TestEmbeddingsBase64MatchesFloat(t *testing.T) {
	t.Parallel()
	h := NewEmbeddingsHandler()
	_, _, out := post(t, h, `{"model":"nomic-embed-text","input":"waterproof boots","encoding_format":"base64"}`)
	data := out["data"].([]any)
	encoded, ok := data[0].(map[string]any)["embedding"].(string)
	if !ok {
		t.Fatalf("base64 embedding is %T, want a string", data[0].(map[string]any)["embedding"])
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	want := EmbeddingVector("nomic-embed-text", "waterproof boots", DefaultEmbeddingDimensions)
	if len(raw) != 4*len(want) {
		t.Fatalf("decoded %d bytes, want %d", len(raw), 4*len(want))
	}
	for i, w := range want {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != w {
			t.Fatalf("component %d = %v, want %v", i, got, w)
		}
	}
}

func TestEmbeddingsErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		body   string
		status int
		param  any
	}{
		"missing model":          {`{"input":["a"]}`, 400, "model"},
		"empty input":            {`{"model":"m","input":[]}`, 400, "input"},
		"empty string":           {`{"model":"m","input":[""]}`, 400, "input"},
		"token input":            {`{"model":"m","input":[[1,2,3]]}`, 400, "input"},
		"dimensions unsupported": {`{"model":"nomic-embed-text","input":["a"],"dimensions":8}`, 400, "dimensions"},
		"dimensions too large":   {`{"model":"text-embedding-3-small","input":["a"],"dimensions":5000}`, 400, "dimensions"},
		"bad encoding":           {`{"model":"m","input":["a"],"encoding_format":"int8"}`, 400, "encoding_format"},
		"broken JSON":            {`{"model":`, 400, nil},
	}
	for name, c := range cases {
		h := NewEmbeddingsHandler()
		code, _, out := post(t, h, c.body)
		if code != c.status {
			t.Errorf("%s: status = %d, want %d", name, code, c.status)
			continue
		}
		body, ok := out["error"].(map[string]any)
		if !ok {
			t.Errorf("%s: no error object in %v", name, out)
			continue
		}
		if body["type"] != "invalid_request_error" || body["param"] != c.param || body["message"] == "" {
			t.Errorf("%s: error = %v, want invalid_request_error on param %v with a message", name, body, c.param)
		}
	}
}

func TestEmbeddingsInjectedFailures(t *testing.T) {
	t.Parallel()
	h := NewEmbeddingsHandler()
	h.FailNext(1, EmbeddingsFailure{Status: 429, RetryAfter: 2 * time.Second})
	code, header, out := post(t, h, `{"model":"m","input":["a"]}`)
	if code != 429 || header.Get("Retry-After") != "2" {
		t.Errorf("first request: status %d, Retry-After %q; want 429, 2", code, header.Get("Retry-After"))
	}
	if body := out["error"].(map[string]any); body["code"] != "rate_limit_exceeded" {
		t.Errorf("429 error code = %v, want rate_limit_exceeded", body["code"])
	}

	if code, _, _ := post(t, h, `{"model":"m","input":["a"]}`); code != 200 {
		t.Errorf("request after the injected failure: status %d, want 200", code)
	}

	h.FailAll(&EmbeddingsFailure{Status: 503})
	code, _, out = post(t, h, `{"model":"m","input":["a"]}`)
	if code != 503 || out["error"].(map[string]any)["type"] != "server_error" {
		t.Errorf("with FailAll(503): status %d, error %v; want 503 server_error", code, out["error"])
	}
	h.FailAll(nil)
	if code, _, _ := post(t, h, `{"model":"m","input":["a"]}`); code != 200 {
		t.Errorf("after FailAll(nil): status %d, want 200", code)
	}
	if got := len(h.Requests()); got != 4 {
		t.Errorf("recorded %d requests, want 4", got)
	}
}

func TestEmbeddingsAPIKey(t *testing.T) {
	t.Parallel()
	h := NewEmbeddingsHandler()
	h.APIKey = "sk-test"
	code, _, out := post(t, h, `{"model":"m","input":["a"]}`)
	if code != 401 || out["error"].(map[string]any)["code"] != "invalid_api_key" {
		t.Errorf("without a key: status %d, error %v; want 401 invalid_api_key", code, out["error"])
	}
}

func TestEmbeddingVectorSharesWords(t *testing.T) {
	t.Parallel()
	dot := func(a, b []float32) float64 {
		var s float64
		for i := range a {
			s += float64(a[i]) * float64(b[i])
		}
		return s
	}
	jacket := EmbeddingVector("m", "waterproof rain jacket", 64)
	shell := EmbeddingVector("m", "rain jacket for hiking", 64)
	socks := EmbeddingVector("m", "merino wool socks", 64)
	if norm := dot(jacket, jacket); math.Abs(norm-1) > 1e-5 {
		t.Errorf("squared norm = %v, want 1", norm)
	}
	if dot(jacket, shell) <= dot(jacket, socks) {
		t.Errorf("similarity with shared words %.3f is not above unrelated %.3f", dot(jacket, shell), dot(jacket, socks))
	}
	other := EmbeddingVector("other-model", "waterproof rain jacket", 64)
	if dot(jacket, other) > 0.99 {
		t.Errorf("two models gave the same vector")
	}
}
