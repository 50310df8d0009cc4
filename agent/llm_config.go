package agent

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/salesagent/salesagent"
)

// LLM providers.
const (
	// ProviderOpenAI is the OpenAI API and any server compatible with it,
	// such as Ollama, vLLM or the llama.cpp server.
	ProviderOpenAI = "openai"
	// ProviderAzure is Azure OpenAI, whose model is a deployment name.
	ProviderAzure = "azure"
)

// Defaults of an LLMConfig.
const (
	defaultOpenAIModel       = "gpt-4o-mini"
	defaultAzureAPIVersion   = "2024-10-21"
	defaultConnectTimeout    = 5 * time.Second
	defaultFirstTokenTimeout = 20 * time.Second
	defaultMaxToolRounds     = 4
	defaultMaxRetries        = 2
	defaultRetryBackoff      = 500 * time.Millisecond
	defaultHistoryTokens     = 1500
	defaultSourceTokens      = 3000
	defaultMaxTokens         = 800
	defaultReplyTimeout      = 60 * time.Second
	defaultBreakerFailures   = 5
	defaultBreakerCooldown   = 30 * time.Second
)

// LLMConfig configures the LLM-backed brain. The server reads one from its
// environment, and a shop's LLMSettings override it field by field.
type LLMConfig struct {
	// Provider is ProviderOpenAI (the default) or ProviderAzure.
	Provider string
	APIKey   string
	// BaseURL is the API root. Empty means OpenAI's, for ProviderOpenAI.
	// For Ollama it is "http://HOST:11434/v1", for vLLM and the llama.cpp
	// server "http://HOST:PORT/v1", for Azure "https://NAME.openai.azure.com".
	BaseURL string
	// Model is the chat model, or the deployment name on Azure. It
	// defaults to gpt-4o-mini on OpenAI's own API and is required
	// elsewhere.
	Model string
	// EmbeddingModel is the model that retrieval embeds with, kept here so
	// one configuration names both.
	EmbeddingModel string
	// APIVersion is Azure's api-version, by default 2024-10-21.
	APIVersion string

	// ConnectTimeout bounds the TCP and TLS handshakes; 0 means 5 s.
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds the wait for the first text or tool call of
	// a response, and then for each later chunk; 0 means 20 s.
	FirstTokenTimeout time.Duration
	// ReplyTimeout bounds the LLM's whole part of a turn, every round and
	// retry included; 0 means 60 s. After it, the offline agent replies.
	ReplyTimeout time.Duration
	// MaxTokens is the most completion tokens one response may use; 0
	// means 800.
	MaxTokens int
	// MaxToolRounds limits the requests in one turn that may call tools;
	// 0 means 4. The request after the last such round offers no tools.
	MaxToolRounds int
	// MaxRetries is the number of retries of a request that got 429 or a
	// 5xx status; 0 means 2, and a negative value means none.
	MaxRetries int
	// RetryBackoff is the wait before the first retry, doubled for each
	// later one and jittered; 0 means 500 ms.
	RetryBackoff time.Duration
	// HistoryTokens and SourceTokens are the estimated token budgets of
	// the earlier messages and of the retrieved sources in a request; 0
	// means 1500 and 3000. Tokens are estimated as runes / 4.
	HistoryTokens int
	SourceTokens  int

	// PricePerMillionInput and PricePerMillionOutput are US dollars per
	// million prompt and completion tokens, for the cost of a turn.
	PricePerMillionInput  float64
	PricePerMillionOutput float64

	// BreakerFailures is the number of consecutive failed requests to one
	// endpoint (base URL and model) after which its shops go offline for
	// BreakerCooldown; 0 means 5 and 30 s. The server's values apply to
	// every endpoint.
	BreakerFailures int
	BreakerCooldown time.Duration
}

// Enabled reports whether the config names an LLM to use: an API key or a
// base URL is set.
func (c LLMConfig) Enabled() bool {
	return c.APIKey != "" || c.BaseURL != ""
}

// LogValue describes the config for logs, without the API key.
func (c LLMConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("provider", c.Provider), slog.String("base_url", c.BaseURL),
		slog.String("model", c.Model), slog.Bool("api_key_set", c.APIKey != ""),
	)
}

// WithDefaults returns the config with every unset field at its default.
func (c LLMConfig) WithDefaults() LLMConfig {
	if c.Provider == "" {
		c.Provider = ProviderOpenAI
	}
	c.Provider = strings.ToLower(c.Provider)
	if c.Provider == ProviderOpenAI && c.BaseURL == "" && c.Model == "" {
		c.Model = defaultOpenAIModel
	}
	if c.Provider == ProviderAzure && c.APIVersion == "" {
		c.APIVersion = defaultAzureAPIVersion
	}
	setDefault(&c.ConnectTimeout, defaultConnectTimeout)
	setDefault(&c.FirstTokenTimeout, defaultFirstTokenTimeout)
	setDefault(&c.ReplyTimeout, defaultReplyTimeout)
	setDefault(&c.MaxTokens, defaultMaxTokens)
	setDefault(&c.MaxToolRounds, defaultMaxToolRounds)
	setDefault(&c.MaxRetries, defaultMaxRetries)
	c.MaxRetries = max(c.MaxRetries, 0)
	setDefault(&c.RetryBackoff, defaultRetryBackoff)
	setDefault(&c.HistoryTokens, defaultHistoryTokens)
	setDefault(&c.SourceTokens, defaultSourceTokens)
	setDefault(&c.BreakerFailures, defaultBreakerFailures)
	setDefault(&c.BreakerCooldown, defaultBreakerCooldown)
	return c
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports the first invalid field of a config with defaults
// applied, naming the value and the fix.
func (c LLMConfig) Validate() error {
	switch c.Provider {
	case ProviderOpenAI, ProviderAzure:
	default:
		return fmt.Errorf("invalid LLM provider %q: use %q or %q", c.Provider, ProviderOpenAI, ProviderAzure)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid LLM base URL %q: use an http or https URL such as http://127.0.0.1:11434/v1", c.BaseURL)
		}
		if u.User != nil {
			return fmt.Errorf("invalid LLM base URL %q: put the API key in the API key setting, not in the URL", redactURL(u))
		}
	}
	if c.Provider == ProviderAzure && c.BaseURL == "" {
		return fmt.Errorf("missing LLM base URL for Azure OpenAI: set it to https://NAME.openai.azure.com")
	}
	if c.Model == "" {
		return fmt.Errorf("missing LLM model for %s: set the model name that the server serves (the deployment name on Azure)", c.BaseURL)
	}
	for name, v := range map[string]time.Duration{
		"connect timeout": c.ConnectTimeout, "first token timeout": c.FirstTokenTimeout,
		"retry back-off": c.RetryBackoff, "breaker cool-down": c.BreakerCooldown,
	} {
		if v < 0 {
			return fmt.Errorf("invalid LLM %s %v: use a positive duration such as 5s", name, v)
		}
	}
	if c.MaxToolRounds < 0 || c.HistoryTokens < 0 || c.SourceTokens < 0 || c.BreakerFailures < 0 {
		return fmt.Errorf("invalid LLM limits (max tool rounds %d, history tokens %d, source tokens %d, breaker failures %d): use positive numbers",
			c.MaxToolRounds, c.HistoryTokens, c.SourceTokens, c.BreakerFailures)
	}
	if c.PricePerMillionInput < 0 || c.PricePerMillionOutput < 0 {
		return fmt.Errorf("invalid LLM prices %v and %v per million tokens: use zero or more US dollars", c.PricePerMillionInput, c.PricePerMillionOutput)
	}
	return nil
}

func redactURL(u *url.URL) string {
	clean := *u
	clean.User = nil
	return clean.String()
}

// ForShop returns the server's config overridden by the shop's settings.
// It reports false when the shop uses the offline agent: the shop disabled
// the LLM, or neither the server nor the shop configured one.
//
// A shop that sets its own base URL or provider gets the server's API key
// only when it sets the same ones as the server, so the server's key is
// never sent to an endpoint that a shop chose.
func (c LLMConfig) ForShop(shop *salesagent.Shop) (LLMConfig, bool) {
	s := shop.Settings.LLM
	if s == nil {
		return c, c.Enabled()
	}
	if s.Disabled {
		return c, false
	}

	merged := c
	ownEndpoint := (s.BaseURL != "" && s.BaseURL != c.BaseURL) || (s.Provider != "" && !strings.EqualFold(s.Provider, c.Provider))
	if ownEndpoint {
		merged.BaseURL = ""
		merged.APIKey = ""
		merged.Model = ""
		merged.APIVersion = ""
	}
	override(&merged.Provider, s.Provider)
	override(&merged.BaseURL, s.BaseURL)
	override(&merged.APIKey, s.APIKey)
	override(&merged.Model, s.Model)
	override(&merged.EmbeddingModel, s.EmbeddingModel)
	override(&merged.APIVersion, s.APIVersion)
	if s.MaxToolRounds > 0 {
		merged.MaxToolRounds = s.MaxToolRounds
	}
	if s.PricePerMillionInput > 0 || s.PricePerMillionOutput > 0 {
		merged.PricePerMillionInput, merged.PricePerMillionOutput = s.PricePerMillionInput, s.PricePerMillionOutput
	}
	return merged, merged.Enabled()
}

func override(field *string, value string) {
	if value != "" {
		*field = value
	}
}

// endpoint names the base URL and model that a circuit breaker guards.
func (c LLMConfig) endpoint() string {
	base := c.BaseURL
	if base == "" {
		base = "openai"
	}
	return base + " " + c.Model
}

// maxIdleLLMConns is how many idle connections to its endpoint an LLM
// brain keeps for later requests.
const maxIdleLLMConns = 100

// newClient returns a go-openai client for the config, with the config's
// connect timeout. Streams have no overall timeout: the brain bounds the
// wait for each chunk instead.
func (c LLMConfig) newClient() *openai.Client {
	dialer := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.TLSHandshakeTimeout = c.ConnectTimeout
	// net/http keeps 2 idle connections per host by default, so with more
	// turns streaming at once most requests would open a new connection,
	// with its TLS handshake, before they reach the model.
	transport.MaxIdleConnsPerHost = maxIdleLLMConns
	httpClient := &http.Client{Transport: drainingTransport{base: transport}}

	var config openai.ClientConfig
	switch c.Provider {
	case ProviderAzure:
		config = openai.DefaultAzureConfig(c.APIKey, c.BaseURL)
		config.APIVersion = c.APIVersion
		// The model is the deployment's name as the operator gave it.
		config.AzureModelMapperFunc = func(model string) string { return model }
	default:
		config = openai.DefaultConfig(c.APIKey)
		if c.BaseURL != "" {
			config.BaseURL = strings.TrimRight(c.BaseURL, "/")
		}
	}
	config.HTTPClient = httpClient
	return openai.NewClientWithConfig(config)
}
