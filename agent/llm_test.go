package agent

import (
	"context"
	"encoding/json"
	openai "github.com/sashabaranov/go-openai"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/openaitest"
)

// llmBundle is a service test bundle whose shop's brain is an LLM brain
// talking to a fake OpenAI server.
type llmBundle struct {
	*bundle
	fake    *openaitest.Server
	metrics *LLMMetrics
}

// setupLLM builds a bundle whose service uses an LLM brain on a fake
// server. configure may change the config before the brains are built.
func setupLLM(t *testing.T, configure func(*LLMConfig)) *llmBundle {
	t.Helper()
	b := setup(t)
	fake := openaitest.New(t)
	fake.APIKey = "sk-test"
	config := LLMConfig{
		BaseURL: fake.BaseURL(), APIKey: "sk-test", Model: "test-model",
		RetryBackoff: time.Millisecond, FirstTokenTimeout: 5 * time.Second,
		PricePerMillionInput: 1, PricePerMillionOutput: 2,
	}
	if configure != nil {
		configure(&config)
	}
	metrics, err := NewLLMMetrics(b.registry)
	if err != nil {
		t.Fatal(err)
	}
	brains, err := NewBrains(config, OfflineBrain{}, LLMOptions{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	b.service.Brains = brains
	return &llmBundle{bundle: b, fake: fake, metrics: metrics}
}

// offlineAnswer returns the offline brain's reply to text in a fresh shop
// with the same catalog and documents.
func offlineAnswer(t *testing.T, text string, page PageContext) string {
	t.Helper()
	return setup(t).say(t, text, page).reply.Body
}

func (lb *llmBundle) requests(result string) float64 {
	return testutil.ToFloat64(lb.metrics.requests.WithLabelValues(result))
}

// toolResult decodes the content of a tool message the brain sent.
func toolResult(t *testing.T, content string) (result string, errMessage string) {
	t.Helper()
	var body struct {
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal([]byte(content), &body); err != nil {
		t.Fatalf("tool message %q is not JSON: %v", content, err)
	}
	return body.Result, body.Error
}

func TestLLMToolCallDeltasRunTool(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.ArgumentsChunk = 2
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		result, called := req.ToolResult("send_size_guide")
		if !called && strings.Contains(req.LastUser(), "size") {
			return []openaitest.Action{openaitest.CallTool("send_size_guide", `{"product": "summit-rain-jacket"}`)}
		}
		var body struct {
			Result string `json:"result"`
		}
		_ = json.Unmarshal([]byte(result), &body)
		first, _, _ := strings.Cut(body.Result, "\n")
		return []openaitest.Action{openaitest.Text("Here is the chart. " + first)}
	})

	got := lb.say(t, "what size should I get?", jacketPage)

	requests := lb.fake.ChatRequests()
	if len(requests) != 2 {
		t.Fatalf("brain made %d chat requests, want 2", len(requests))
	}
	if !requests[0].HasTool("send_size_guide") || !requests[0].HasTool("apply_discount") {
		t.Errorf("first request offers tools %+v, want the registry's", requests[0].Tools)
	}
	if !requests[0].Stream || requests[0].StreamOptions == nil || !requests[0].StreamOptions.IncludeUsage {
		t.Errorf("first request does not stream with usage: %+v", requests[0])
	}
	system := requests[0].System()
	for _, want := range []string{"shopping assistant of Northwind", "Product in view: Summit Rain Jacket [S", "$89.00"} {
		if !strings.Contains(system, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, system)
		}
	}

	second := requests[1].Messages
	call := second[len(second)-2]
	answer := second[len(second)-1]
	if call.Role != "assistant" || len(call.ToolCalls) != 1 || call.ToolCalls[0].Function.Arguments != `{"product": "summit-rain-jacket"}` {
		t.Fatalf("second request's assistant message = %+v, want the joined tool call", call)
	}
	if answer.Role != "tool" || answer.ToolCallID != call.ToolCalls[0].ID {
		t.Fatalf("second request's last message = %+v, want the tool result for call %s", answer, call.ToolCalls[0].ID)
	}
	result, errMessage := toolResult(t, answer.Content)
	if errMessage != "" || !strings.Contains(result, "size guide") {
		t.Errorf("tool result = %q, error %q; want the size guide text", result, errMessage)
	}

	tools := got.stream.ofType(StreamToolCall)
	if len(tools) != 1 || tools[0].Tool.Name != "send_size_guide" || !tools[0].Tool.OK {
		t.Errorf("tool call events = %+v, want one successful send_size_guide", tools)
	}
	if cardOf(got.reply, salesagent.CardSizeGuide) == nil {
		t.Errorf("reply has no size guide card: %+v", got.reply.Cards)
	}
	if !strings.HasPrefix(got.reply.Body, "Here is the chart. ") || got.stream.text() != got.reply.Body {
		t.Errorf("stored body %q, streamed %q; want the model's text in both", got.reply.Body, got.stream.text())
	}
	if !hasCitation(got.reply, salesagent.KindSizeGuide, lb.guideID) {
		t.Errorf("citations %+v lack the size guide %d that the tool returned", got.reply.Citations, lb.guideID)
	}
	if n := countEvents(lb.events(t), salesagent.EventAnswered, `"brain": "llm"`); n != 1 {
		t.Errorf("recorded %d answered events of the llm brain, want 1", n)
	}
}

func TestLLMSeveralToolRounds(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		switch req.Call {
		case 1:
			return []openaitest.Action{
				openaitest.Text("Let me check."),
				openaitest.CallTool("search_products", `{"query": "rain jacket"}`),
				openaitest.CallTool("send_size_guide", `{"product": 5}`),
			}
		case 2:
			return []openaitest.Action{openaitest.CallTool("save_cart", `{"items": [{"sku": "SRJ-BLU-S", "qty": 1}]}`)}
		}
		return []openaitest.Action{openaitest.Text("I saved your cart with the jacket.")}
	})

	got := lb.say(t, "find me a rain jacket and keep it for later", PageContext{})

	if n := len(lb.fake.ChatRequests()); n != 3 {
		t.Fatalf("brain made %d chat requests, want 3", n)
	}
	third := lb.fake.ChatRequests()[2]
	if _, errMessage := toolResult(t, third.Messages[len(third.Messages)-3].Content); !strings.Contains(errMessage, "invalid arguments for send_size_guide") {
		t.Errorf("invalid arguments went back as %q, want the tool's validation error", errMessage)
	}
	var names []string
	for _, e := range got.stream.ofType(StreamToolCall) {
		names = append(names, e.Tool.Name)
	}
	// The call with malformed arguments goes back to the model but is
	// not shown to the shopper.
	if strings.Join(names, ",") != "search_products,save_cart" {
		t.Errorf("tool calls shown = %v, want search_products and save_cart", names)
	}
	if got.reply.Body != "Let me check. I saved your cart with the jacket." {
		t.Errorf("reply = %q, want both rounds' text joined", got.reply.Body)
	}
	if cardOf(got.reply, salesagent.CardCart) == nil || cardOf(got.reply, salesagent.CardProducts) == nil {
		t.Errorf("cards = %+v, want the products and the saved cart", got.reply.Cards)
	}
	if n := countEvents(lb.events(t), salesagent.EventCartSaved, ""); n != 1 {
		t.Errorf("recorded %d cart_saved events, want 1", n)
	}
}

func TestLLMToolRoundsAreBounded(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, func(c *LLMConfig) { c.MaxToolRounds = 2 })
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if len(req.Tools) == 0 {
			return []openaitest.Action{openaitest.Text("Here are the rain jackets I found.")}
		}
		return []openaitest.Action{openaitest.CallTool("search_products", `{"query": "rain jacket"}`)}
	})

	got := lb.say(t, "rain jackets?", PageContext{})

	requests := lb.fake.ChatRequests()
	if len(requests) != 3 || len(requests[2].Tools) != 0 {
		t.Fatalf("brain made %d requests, the last offering %d tools; want 3, the last offering none", len(requests), len(requests[len(requests)-1].Tools))
	}
	if got.reply.Body != "Here are the rain jackets I found." {
		t.Errorf("reply = %q", got.reply.Body)
	}
}

func TestLLMUsageRecorded(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if req.Call == 1 {
			return []openaitest.Action{openaitest.CallTool("search_products", `{"query": "tee"}`), openaitest.ReportUsage(1000, 40)}
		}
		return []openaitest.Action{openaitest.Text("We have the Merino Tee."), openaitest.ReportUsage(1200, 60)}
	})

	got := lb.say(t, "do you sell tees", PageContext{})
	lb.say(t, "thanks", PageContext{})

	usage, err := lb.db.ConversationUsage(context.Background(), lb.shop.ID, lb.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != 2 {
		t.Fatalf("stored usage of %d turns, want 2", len(usage))
	}
	first := usage[0]
	if first.MessageID != got.reply.ID || first.Model != "test-model" || first.Requests != 2 || first.PromptTokens != 2200 || first.CompletionTokens != 100 || first.Estimated {
		t.Errorf("first turn's usage = %+v, want message %d, 2 requests, 2200 + 100 tokens", first, got.reply.ID)
	}
	if want := 2200*1e-6 + 100*2e-6; math.Abs(first.CostUSD-want) > 1e-9 {
		t.Errorf("first turn's cost = %v, want %v", first.CostUSD, want)
	}
	if usage[1].PromptTokens != 1200 || usage[1].Requests != 1 {
		t.Errorf("second turn's usage = %+v, want 1 request of 1200 prompt tokens", usage[1])
	}
	if v := testutil.ToFloat64(lb.metrics.tokens.WithLabelValues("prompt")); v != 3400 {
		t.Errorf("prompt tokens metric = %v, want 3400", v)
	}
	if v := testutil.ToFloat64(lb.metrics.tokens.WithLabelValues("completion")); v != 160 {
		t.Errorf("completion tokens metric = %v, want 160", v)
	}
	if v := lb.requests(llmOK); v != 3 {
		t.Errorf("ok requests metric = %v, want 3", v)
	}
}

func TestLLMRetriesRateLimit(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if req.Call == 1 {
			return []openaitest.Action{openaitest.RateLimited()}
		}
		if req.Call == 2 {
			return []openaitest.Action{openaitest.ServerError()}
		}
		return []openaitest.Action{openaitest.Text("Hello from the model.")}
	})

	got := lb.say(t, "hello", PageContext{})

	if got.reply.Body != "Hello from the model." {
		t.Errorf("reply = %q, want the model's after two retries", got.reply.Body)
	}
	if n := len(lb.fake.ChatRequests()); n != 3 {
		t.Errorf("made %d requests, want 3", n)
	}
	if lb.requests(llmRateLimited) != 1 || lb.requests(llmServerError) != 1 || lb.requests(llmOK) != 1 {
		t.Errorf("request metrics rate_limited %v, server_error %v, ok %v; want 1 each",
			lb.requests(llmRateLimited), lb.requests(llmServerError), lb.requests(llmOK))
	}
	usage, err := lb.db.ConversationUsage(context.Background(), lb.shop.ID, lb.conv.ID)
	if err != nil || len(usage) != 1 || usage[0].Requests != 3 {
		t.Errorf("stored usage = %+v (error %v), want one turn of 3 requests", usage, err)
	}
}

func TestLLMRetriesAreBounded(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.RateLimited()}
	})
	const text = "how much is shipping to Canada"
	want := offlineAnswer(t, text, PageContext{})

	got := lb.say(t, text, PageContext{})

	if n := len(lb.fake.ChatRequests()); n != 3 {
		t.Errorf("made %d requests, want 1 and 2 retries", n)
	}
	if got.reply.Body != want {
		t.Errorf("reply = %q, want the offline agent's %q", got.reply.Body, want)
	}
}

func TestLLMUnauthorizedFallsBackAtOnce(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, func(c *LLMConfig) { c.APIKey = "sk-wrong" })
	const text = "how much is shipping to Canada"
	want := offlineAnswer(t, text, PageContext{})

	got := lb.say(t, text, PageContext{})

	if n := lb.fake.Calls("POST /v1/chat/completions"); n != 1 {
		t.Errorf("made %d requests, want 1: a rejected key is not retried", n)
	}
	if got.reply.Body != want {
		t.Errorf("reply = %q, want the offline agent's %q", got.reply.Body, want)
	}
	if len(got.stream.ofType(StreamReplace)) != 0 || got.stream.text() != want {
		t.Errorf("stream = %+v; nothing was streamed before, so the offline reply streams as deltas", got.stream.events)
	}
	if n := countEvents(lb.events(t), EventBrainFallback, `"reason": "unauthorized"`); n != 1 {
		t.Errorf("recorded %d fallback events for unauthorized, want 1", n)
	}
	if n := countEvents(lb.events(t), salesagent.EventAnswered, `"brain": "offline"`); n != 1 {
		t.Errorf("recorded %d answered events of the offline brain, want 1", n)
	}
}

func TestLLMDiesMidStreamFallsBack(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("Shipping to Canada takes"), openaitest.Die()}
	})
	const text = "how much is shipping to Canada"
	want := offlineAnswer(t, text, PageContext{})

	got := lb.say(t, text, PageContext{})

	if got.reply.Body != want {
		t.Errorf("stored reply = %q, want the offline agent's %q", got.reply.Body, want)
	}
	if !strings.HasPrefix(got.stream.text(), "Shipping to Canada takes") {
		t.Errorf("streamed deltas = %q, want the model's partial text", got.stream.text())
	}
	replaces := got.stream.ofType(StreamReplace)
	if len(replaces) != 1 || replaces[0].Text != want {
		t.Errorf("replace events = %+v, want one with the offline reply", replaces)
	}
	if n := len(lb.fake.ChatRequests()); n != 1 {
		t.Errorf("made %d requests, want 1: text was streamed, so no retry", n)
	}
	if lb.requests(llmBrokenStream) != 1 {
		t.Errorf("broken_stream requests metric = %v, want 1", lb.requests(llmBrokenStream))
	}
}

func TestLLMFirstTokenTimeoutFallsBack(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, func(c *LLMConfig) { c.FirstTokenTimeout = 300 * time.Millisecond })
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if strings.Contains(req.LastUser(), "Canada") {
			return []openaitest.Action{openaitest.Hang()}
		}
		return []openaitest.Action{openaitest.Text("Returns are"), openaitest.Pause(10 * time.Second), openaitest.Text(" free.")}
	})
	const text = "how much is shipping to Canada"
	want := offlineAnswer(t, text, PageContext{})

	start := time.Now()
	got := lb.say(t, text, PageContext{})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("turn took %v, want the 300 ms timeout and an offline reply", elapsed)
	}
	if got.reply.Body != want {
		t.Errorf("reply = %q, want the offline agent's %q", got.reply.Body, want)
	}
	if lb.requests(llmTimeout) != 1 {
		t.Errorf("timeout requests metric = %v, want 1", lb.requests(llmTimeout))
	}

	// A model that stalls after its first token times out too, and the
	// partial text is replaced.
	got = lb.say(t, "can I return worn shoes", PageContext{})
	if strings.Contains(got.reply.Body, "Returns are") || len(got.stream.ofType(StreamReplace)) != 1 {
		t.Errorf("reply %q with %d replace events, want the offline reply replacing the partial text",
			got.reply.Body, len(got.stream.ofType(StreamReplace)))
	}
	if lb.requests(llmTimeout) != 2 {
		t.Errorf("timeout requests metric = %v, want 2", lb.requests(llmTimeout))
	}
}

func TestLLMCircuitOpensAfterFailures(t *testing.T) {
	t.Parallel()
	const cooldown = 1500 * time.Millisecond
	lb := setupLLM(t, func(c *LLMConfig) {
		c.MaxRetries = -1
		c.BreakerCooldown = cooldown
	})
	var healthy atomic.Bool
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if healthy.Load() {
			return []openaitest.Action{openaitest.Text("Back online.")}
		}
		return []openaitest.Action{openaitest.ServerError()}
	})

	var tripped time.Time
	for i := range defaultBreakerFailures {
		got := lb.say(t, "hello", PageContext{})
		if got.reply.Body == "" {
			t.Fatalf("turn %d got no reply", i+1)
		}
		tripped = time.Now()
	}
	if n := len(lb.fake.ChatRequests()); n != defaultBreakerFailures {
		t.Fatalf("made %d requests, want %d", n, defaultBreakerFailures)
	}

	got := lb.say(t, "hello", PageContext{})
	if time.Since(tripped) < cooldown {
		if n := len(lb.fake.ChatRequests()); n != defaultBreakerFailures {
			t.Errorf("made %d requests while the circuit was open, want none after the %d failures", n, defaultBreakerFailures)
		}
		if lb.requests(llmCircuitOpen) != 1 {
			t.Errorf("circuit_open metric = %v, want 1", lb.requests(llmCircuitOpen))
		}
		if n := countEvents(lb.events(t), salesagent.EventAnswered, `"brain": "offline"`); n != defaultBreakerFailures+1 {
			t.Errorf("recorded %d offline answers, want %d", n, defaultBreakerFailures+1)
		}
	} else {
		t.Logf("the open-circuit turn ran after the cool-down, so its checks were skipped; reply %q", got.reply.Body)
	}

	// After the cool-down one trial request goes through and closes the
	// circuit.
	healthy.Store(true)
	time.Sleep(time.Until(tripped.Add(cooldown + 50*time.Millisecond)))
	got = lb.say(t, "hello", PageContext{})
	if got.reply.Body != "Back online." {
		t.Errorf("reply after the cool-down = %q, want the model's", got.reply.Body)
	}
}

func TestGuardReplacesInventedPrice(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("The Summit Rain Jacket costs $59.99 today [S1].")}
	})
	const text = "how much is this jacket"
	want := offlineAnswer(t, text, jacketPage)

	got := lb.say(t, text, jacketPage)

	if got.reply.Body != want {
		t.Errorf("stored reply = %q, want the offline agent's %q", got.reply.Body, want)
	}
	if !strings.Contains(got.stream.text(), "$59.99") {
		t.Errorf("streamed text %q, want the model's text streamed before the check", got.stream.text())
	}
	replaces := got.stream.ofType(StreamReplace)
	if len(replaces) != 1 || replaces[0].Text != want {
		t.Errorf("replace events = %+v, want one with the offline reply", replaces)
	}
	if n := countEvents(lb.events(t), EventGroundingCorrected, `$59.99`); n != 1 {
		t.Errorf("recorded %d grounding_corrected events naming $59.99, want 1: %+v", n, lb.events(t))
	}
}

func TestGuardRemovesUngroundedSentence(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text(
			"The Summit Rain Jacket is a waterproof shell [S1]. It costs $89.00 in most sizes. It ships in 2 days. It packs into its own chest pocket.")}
	})

	got := lb.say(t, "tell me about this jacket", jacketPage)

	want := "The Summit Rain Jacket is a waterproof shell. It costs $89.00 in most sizes. It packs into its own chest pocket."
	if got.reply.Body != want {
		t.Errorf("reply = %q, want %q", got.reply.Body, want)
	}
	replaces := got.stream.ofType(StreamReplace)
	if len(replaces) != 1 || replaces[0].Text != want {
		t.Errorf("replace events = %+v, want one with the corrected text", replaces)
	}
	if n := countEvents(lb.events(t), EventGroundingCorrected, `"removed_sentences"`); n != 1 {
		t.Errorf("recorded %d grounding_corrected events that removed sentences, want 1", n)
	}
	if len(got.reply.Citations) == 0 {
		t.Errorf("reply lost the citation of its first sentence")
	}
}

func TestLLMMarkersBecomeCitations(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.TextChunk = 2
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("You can return unworn items within 30 days [S1]. Worn shoes cannot be returned [S1, S9].")}
	})

	got := lb.say(t, "can I return worn shoes", PageContext{})

	if sources := lb.fake.ChatRequests()[0].System(); !strings.Contains(sources, "[S1] Returns and exchanges") {
		t.Fatalf("S1 is not the returns policy in the prompt:\n%s", sources)
	}
	if want := "You can return unworn items within 30 days. Worn shoes cannot be returned."; got.reply.Body != want || got.stream.text() != want {
		t.Errorf("stored %q, streamed %q; want %q", got.reply.Body, got.stream.text(), want)
	}
	if len(got.reply.Citations) != 1 || !hasCitation(got.reply, salesagent.KindPolicy, lb.returnID) {
		t.Errorf("citations = %+v, want the returns policy alone", got.reply.Citations)
	}
}

func TestLLMAzureEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := openaitest.New(t)
	fake.APIKey = "azure-key"
	brains, err := NewBrains(LLMConfig{Provider: "azure", BaseURL: fake.URL, APIKey: "azure-key", Model: "sales-gpt"}, OfflineBrain{}, LLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.service.Brains = brains
	fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("Hello from Azure.")}
	})

	got := b.say(t, "hi", PageContext{})

	if got.reply.Body != "Hello from Azure." {
		t.Errorf("reply = %q", got.reply.Body)
	}
	req := fake.ChatRequests()[0]
	if req.Deployment != "sales-gpt" || req.APIVersion != defaultAzureAPIVersion {
		t.Errorf("request went to deployment %q with api-version %q, want sales-gpt and %s", req.Deployment, req.APIVersion, defaultAzureAPIVersion)
	}
}

func TestLLMReplyIsCleanedAndBounded(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if strings.Contains(req.LastUser(), "long") {
			return []openaitest.Action{openaitest.Text(strings.Repeat("word ", 10000))}
		}
		return []openaitest.Action{openaitest.Text("Hello\x00 there\x07, how can I help?")}
	})

	got := lb.say(t, "hello", PageContext{})
	if got.reply.Body != "Hello there, how can I help?" {
		t.Errorf("reply = %q, want the model's text without its control characters", got.reply.Body)
	}
	if reqs := lb.fake.ChatRequests(); len(reqs) == 0 || reqs[0].MaxTokens != defaultMaxTokens {
		t.Errorf("requests did not set max_tokens to %d", defaultMaxTokens)
	}

	long := lb.say(t, "tell me something long", PageContext{})
	if n := len(long.reply.Body); n == 0 || n > 2*maxReplyBytes {
		t.Errorf("a 50,000-byte reply was stored with %d bytes, want it cut near %d", n, maxReplyBytes)
	}
}

func TestLLMReplyTimeoutFallsBack(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, func(c *LLMConfig) {
		c.FirstTokenTimeout = 2 * time.Second
		c.ReplyTimeout = 500 * time.Millisecond
	})
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		var trickle []openaitest.Action
		for range 20 {
			trickle = append(trickle, openaitest.Text(" slowly"), openaitest.Pause(200*time.Millisecond))
		}
		return trickle
	})
	const text = "how much is shipping to Canada"
	want := offlineAnswer(t, text, PageContext{})

	start := time.Now()
	got := lb.say(t, text, PageContext{})
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("turn took %v, want the 500 ms reply timeout and an offline reply", elapsed)
	}
	if got.reply.Body != want {
		t.Errorf("reply = %q, want the offline agent's %q", got.reply.Body, want)
	}
	if n := countEvents(lb.events(t), EventBrainFallback, `"reason": "timeout"`); n != 1 {
		t.Errorf("recorded %d fallback events for a timeout, want 1", n)
	}
}

func TestLLMErrorHidesProviderMessage(t *testing.T) {
	t.Parallel()
	err := &llmError{result: llmUnauthorized, status: 401, err: &openai.APIError{
		Type: "invalid_request_error", Code: "invalid_api_key", HTTPStatusCode: 401,
		Message: "Incorrect API key provided: Bearer sk-SHOPKEY-999 for my card number is 4111111111111111",
	}}
	text := err.Error()
	for _, secret := range []string{"sk-SHOPKEY-999", "4111111111111111"} {
		if strings.Contains(text, secret) {
			t.Errorf("error %q shows %q from the provider's message", text, secret)
		}
	}
	if !strings.Contains(text, "invalid_api_key") || !strings.Contains(text, "401") {
		t.Errorf("error %q lacks the status and the error code", text)
	}
}

func TestCleanModelText(t *testing.T) {
	t.Parallel()
	got := cleanModelText("a\x00b\tc\nd\x1fe\x7f")
	if got != "ab\tc\nde" {
		t.Errorf("cleanModelText = %q, want control characters other than tab and newline removed", got)
	}
}

// TestLLMReasoningKeepsWatchdogQuiet streams a reasoning model's thinking
// for longer than the first-token timeout before its text. The stored
// reply must be the model's, not the offline agent's.
func TestLLMReasoningKeepsWatchdogQuiet(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, func(c *LLMConfig) { c.FirstTokenTimeout = 300 * time.Millisecond })
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		var actions []openaitest.Action
		for range 4 {
			actions = append(actions, openaitest.Reasoning("thinking"), openaitest.Pause(200*time.Millisecond))
		}
		return append(actions, openaitest.Text("Hello there, how can I help?"))
	})
	if got := lb.say(t, "hello", PageContext{}).reply.Body; got != "Hello there, how can I help?" {
		t.Errorf("reply = %q, want the reasoning model's answer", got)
	}
}

func TestLLMRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		switch {
		case strings.Contains(req.LastUser(), "later") && req.Call == 1:
			return []openaitest.Action{openaitest.RateLimitedFor(1)}
		case strings.Contains(req.LastUser(), "busy"):
			return []openaitest.Action{openaitest.RateLimitedFor(60)}
		}
		return []openaitest.Action{openaitest.Text("Hello from the model.")}
	})

	start := time.Now()
	got := lb.say(t, "hello later", PageContext{})
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("retried after %v, want the 1 s the server asked for", elapsed)
	}
	if got.reply.Body != "Hello from the model." {
		t.Errorf("reply = %q, want the model's after the retry", got.reply.Body)
	}

	// A wait too long for a shopper is not taken, and the offline agent
	// replies at once.
	calls := lb.fake.Calls("POST /v1/chat/completions")
	start = time.Now()
	lb.say(t, "hello busy", PageContext{})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("turn took %v, want no wait for a 60 s Retry-After", elapsed)
	}
	if n := lb.fake.Calls("POST /v1/chat/completions") - calls; n != 1 {
		t.Errorf("made %d requests after a 60 s Retry-After, want 1", n)
	}
}

func TestParseRetryAfterHeader(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	for value, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Sat, 05 Dec 2026 06:00:10 GMT": 10 * time.Second,
		"Sat, 05 Dec 2026 05:59:00 GMT": 0,
	} {
		if got := parseRetryAfter(value, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", value, got, want)
		}
	}
}

// TestLLMEmptyReplyAfterToolsRelaysTheirOutcome has the model save the
// cart and then return no text. The reply must state the saved cart, not
// the offline agent's "your cart is empty".
func TestLLMEmptyReplyAfterToolsRelaysTheirOutcome(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if _, done := req.ToolResult("save_cart"); done {
			return nil
		}
		return []openaitest.Action{openaitest.CallTool("save_cart", `{"items": [{"sku": "SRJ-BLU-S", "qty": 1}]}`)}
	})

	got := lb.say(t, "please save my cart", PageContext{})
	if cardOf(got.reply, salesagent.CardCart) == nil {
		t.Errorf("reply %q has no cart card", got.reply.Body)
	}
	if strings.Contains(got.reply.Body, "cart is empty") || !strings.Contains(strings.ToLower(got.reply.Body), "cart") {
		t.Errorf("reply = %q, want the saved cart's outcome", got.reply.Body)
	}
	if n := countEvents(lb.events(t), EventBrainFallback, ""); n != 0 {
		t.Errorf("recorded %d fallback events, want none", n)
	}
}

// TestGuardChecksPriceOfTheNamedProduct has the model search for tees,
// so the Merino Tee's $34.00 is in the evidence, and then state it as the
// jacket's price. Only the check against the named product's own prices
// catches that. Both products' right prices in one sentence pass.
func TestGuardChecksPriceOfTheNamedProduct(t *testing.T) {
	t.Parallel()
	lb := setupLLM(t, nil)
	lb.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if _, searched := req.ToolResult("search_products"); !searched {
			return []openaitest.Action{openaitest.CallTool("search_products", `{"query": "merino tee"}`)}
		}
		if strings.Contains(req.LastUser(), "deal") {
			return []openaitest.Action{openaitest.Text("Good news: the Summit Rain Jacket is on sale for $34.00. It packs into its own chest pocket. It is waterproof. It is breathable.")}
		}
		return []openaitest.Action{openaitest.Text("The Summit Rain Jacket is $89.00, and the Merino Tee is $34.00.")}
	})

	got := lb.say(t, "any deal on this jacket?", jacketPage)
	if strings.Contains(got.reply.Body, "$34.00") {
		t.Errorf("reply = %q, want the tee's price removed from the jacket", got.reply.Body)
	}
	if n := countEvents(lb.events(t), EventGroundingCorrected, `$34.00`); n != 1 {
		t.Errorf("recorded %d grounding_corrected events naming $34.00, want 1", n)
	}

	fine := lb.say(t, "how much are they?", jacketPage)
	if fine.reply.Body != "The Summit Rain Jacket is $89.00, and the Merino Tee is $34.00." {
		t.Errorf("reply = %q, want the model's correct prices kept", fine.reply.Body)
	}
}
