package agent

import (
	"strings"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/salesagent/salesagent"
)

func TestLLMConfigValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		config LLMConfig
		want   string
	}{
		{LLMConfig{APIKey: "sk"}, ""},
		{LLMConfig{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.1"}, ""},
		{LLMConfig{Provider: "Azure", BaseURL: "https://shop.openai.azure.com", APIKey: "k", Model: "gpt"}, ""},
		{LLMConfig{Provider: "anthropic", APIKey: "sk"}, `invalid LLM provider "anthropic"`},
		{LLMConfig{BaseURL: "127.0.0.1:11434", Model: "m"}, "use an http or https URL"},
		{LLMConfig{BaseURL: "http://user:secret@host/v1", Model: "m"}, "not in the URL"},
		{LLMConfig{BaseURL: "http://host/v1"}, "missing LLM model"},
		{LLMConfig{Provider: "azure", APIKey: "k", Model: "m"}, "missing LLM base URL for Azure"},
		{LLMConfig{APIKey: "sk", FirstTokenTimeout: -time.Second}, "first token timeout"},
		{LLMConfig{APIKey: "sk", PricePerMillionInput: -1}, "invalid LLM prices"},
	}
	for _, tc := range cases {
		err := tc.config.WithDefaults().Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v, want nil", tc.config, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.config, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the URL's password", err)
		}
	}
}

func TestLLMConfigDefaults(t *testing.T) {
	t.Parallel()
	c := LLMConfig{APIKey: "sk"}.WithDefaults()
	if c.Provider != ProviderOpenAI || c.Model != defaultOpenAIModel || c.ConnectTimeout != 5*time.Second ||
		c.FirstTokenTimeout != 20*time.Second || c.MaxToolRounds != 4 || c.MaxRetries != 2 ||
		c.BreakerFailures != 5 || c.BreakerCooldown != 30*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if c := (LLMConfig{BaseURL: "http://h/v1"}).WithDefaults(); c.Model != "" {
		t.Errorf("a custom base URL got the default model %q; it must name its own", c.Model)
	}
	if c := (LLMConfig{APIKey: "sk", MaxRetries: -1}).WithDefaults(); c.MaxRetries != 0 {
		t.Errorf("MaxRetries -1 became %d, want 0", c.MaxRetries)
	}
}

func TestLLMConfigForShop(t *testing.T) {
	t.Parallel()
	global := LLMConfig{APIKey: "sk-server", Model: "gpt-4o-mini", PricePerMillionInput: 0.15}
	shop := func(s *salesagent.LLMSettings) *salesagent.Shop {
		return &salesagent.Shop{Settings: salesagent.ShopSettings{LLM: s}}
	}

	if c, ok := global.ForShop(shop(nil)); !ok || c.APIKey != "sk-server" {
		t.Errorf("shop without settings: %v %+v, want the server's config", ok, c)
	}
	if _, ok := (LLMConfig{}).ForShop(shop(nil)); ok {
		t.Errorf("no key and no base URL anywhere, yet the LLM is enabled")
	}
	if _, ok := global.ForShop(shop(&salesagent.LLMSettings{Disabled: true})); ok {
		t.Errorf("a shop that disabled the LLM still gets one")
	}
	c, ok := global.ForShop(shop(&salesagent.LLMSettings{Model: "gpt-4o", PricePerMillionOutput: 10}))
	if !ok || c.APIKey != "sk-server" || c.Model != "gpt-4o" || c.PricePerMillionInput != 0 || c.PricePerMillionOutput != 10 {
		t.Errorf("shop choosing a model: %+v, want the server's key with the shop's model and prices", c)
	}
	c, ok = global.ForShop(shop(&salesagent.LLMSettings{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.1"}))
	if !ok || c.APIKey != "" || c.BaseURL != "http://127.0.0.1:11434/v1" {
		t.Errorf("shop with its own base URL: %+v, want its URL without the server's key", c)
	}
	azure := LLMConfig{Provider: "azure", BaseURL: "https://a.openai.azure.com", APIKey: "az", Model: "dep"}
	c, _ = azure.ForShop(shop(&salesagent.LLMSettings{Provider: "openai", APIKey: "sk-shop"}))
	if c.BaseURL != "" || c.APIKey != "sk-shop" || c.Model != "" {
		t.Errorf("shop switching provider: %+v, want none of the server's endpoint, key or model", c)
	}
	if err := c.WithDefaults().Validate(); err != nil || c.WithDefaults().Model != defaultOpenAIModel {
		t.Errorf("shop on OpenAI with its own key: %v, model %q", err, c.WithDefaults().Model)
	}
}

func TestNewBrainsSelectsPerShop(t *testing.T) {
	t.Parallel()
	if _, err := NewBrains(LLMConfig{BaseURL: "ftp://x"}, OfflineBrain{}, LLMOptions{}); err == nil {
		t.Errorf("NewBrains accepted an invalid server config")
	}

	brains, err := NewBrains(LLMConfig{}, OfflineBrain{}, LLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain := &salesagent.Shop{ID: 1}
	if b := brains(plain); b != nil {
		t.Errorf("without any LLM config the shop got %v, want nil for the offline brain", b)
	}
	own := &salesagent.Shop{ID: 2, Settings: salesagent.ShopSettings{LLM: &salesagent.LLMSettings{BaseURL: "http://127.0.0.1:8000/v1", Model: "qwen"}}}
	first := brains(own)
	if first == nil || first.Name() != "llm" {
		t.Fatalf("shop with its own vLLM server got %v, want the llm brain", first)
	}
	if again := brains(own); again != first {
		t.Errorf("the same settings built a second brain")
	}
	broken := &salesagent.Shop{ID: 3, Settings: salesagent.ShopSettings{LLM: &salesagent.LLMSettings{BaseURL: "http://127.0.0.1:8000/v1"}}}
	if b := brains(broken); b != nil {
		t.Errorf("shop with settings missing the model got %v, want nil", b)
	}
}

func TestToolCallDeltasJoin(t *testing.T) {
	t.Parallel()
	index := func(i int) *int { return &i }
	call := func(i *int, id, name, args string) openai.ToolCall {
		return openai.ToolCall{Index: i, ID: id, Function: openai.FunctionCall{Name: name, Arguments: args}}
	}

	var split toolCallDeltas
	split.add([]openai.ToolCall{call(index(0), "call_a", "search_products", "")})
	split.add([]openai.ToolCall{call(index(0), "", "", `{"que`), call(index(1), "call_b", "save_cart", "")})
	split.add([]openai.ToolCall{call(index(1), "", "", `{}`), call(index(0), "", "", `ry": "tee"}`)})
	got := split.list()
	if len(got) != 2 || got[0].Function.Arguments != `{"query": "tee"}` || got[1].Function.Name != "save_cart" || got[1].ID != "call_b" {
		t.Errorf("interleaved deltas joined to %+v", got)
	}

	// Some servers send whole calls without an index or an id.
	var whole toolCallDeltas
	whole.add([]openai.ToolCall{call(nil, "", "send_size_guide", `{}`)})
	whole.add([]openai.ToolCall{call(nil, "x", "escalate_to_human", `{"reason": "refund"}`)})
	got = whole.list()
	if len(got) != 2 || got[0].ID != "call_1" || got[1].ID != "x" || got[1].Function.Name != "escalate_to_human" || got[0].Type != openai.ToolTypeFunction {
		t.Errorf("whole calls joined to %+v", got)
	}

	// Whole calls with neither index nor id stay apart too.
	var bare toolCallDeltas
	bare.add([]openai.ToolCall{call(nil, "", "search_products", `{"query": "tee"}`)})
	bare.add([]openai.ToolCall{call(nil, "", "send_size_guide", `{"product": "tee"}`)})
	got = bare.list()
	if len(got) != 2 || got[0].Function.Name != "search_products" || got[1].Function.Name != "send_size_guide" || got[1].Function.Arguments != `{"product": "tee"}` {
		t.Errorf("bare whole calls joined to %+v", got)
	}
	// A server that repeats the name in each argument piece still makes one call.
	var repeated toolCallDeltas
	repeated.add([]openai.ToolCall{call(nil, "", "search_products", `{"que`)})
	repeated.add([]openai.ToolCall{call(nil, "", "search_products", `ry": "tee"}`)})
	if got := repeated.list(); len(got) != 1 || got[0].Function.Arguments != `{"query": "tee"}` {
		t.Errorf("repeated-name deltas joined to %+v", got)
	}
}

func TestEstimateTokensAndHistoryBudget(t *testing.T) {
	t.Parallel()
	if n := estimateTokens("abcdefgh"); n != 2 {
		t.Errorf("estimateTokens of 8 runes = %d, want 2", n)
	}
	if n := estimateTokens("ääääa"); n != 2 {
		t.Errorf("estimateTokens of 5 runes = %d, want 2: runes, not bytes", n)
	}
	history := []salesagent.Message{
		{Role: salesagent.RoleShopper, Body: strings.Repeat("old ", 100)},
		{Role: salesagent.RoleAgent, Body: "short answer"},
		{Role: salesagent.RoleSystem, Body: "conversation handed over"},
		{Role: salesagent.RoleOperator, Body: "Hi, Sam here."},
		{Role: salesagent.RoleShopper, Body: "newest"},
	}
	got := historyMessages(history, 30)
	var roles []string
	for _, m := range got {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "assistant,assistant,user" {
		t.Errorf("history within 30 tokens has roles %v, want the three newest of agent, operator and shopper", roles)
	}
	if !strings.Contains(got[1].Content, "person from the shop's team") {
		t.Errorf("operator message = %q, want it marked as a person's", got[1].Content)
	}
}
