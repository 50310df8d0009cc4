package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/prompts"
	"github.com/salesagent/salesagent/retrieval"
)

// ModelConfig is the LLM and embedding configuration read from the
// environment. Leaving SALESAGENT_LLM_API_KEY and SALESAGENT_LLM_BASE_URL
// unset keeps every shop on the offline agent unless the shop's own settings
// name an LLM.
type ModelConfig struct {
	LLM        agent.LLMConfig
	Embedding  *retrieval.OpenAIConfig
	PromptsDir string
}

// envReader reads typed environment variables and keeps the first error,
// naming the variable and the expected form.
type envReader struct{ err error }

func (r *envReader) duration(name string) time.Duration {
	v := os.Getenv(name)
	if v == "" || r.err != nil {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.err = fmt.Errorf("invalid %s %q: use a duration such as 5s or 1m", name, v)
	}
	return d
}

func (r *envReader) integer(name string) int {
	v := os.Getenv(name)
	if v == "" || r.err != nil {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.err = fmt.Errorf("invalid %s %q: use a whole number", name, v)
	}
	return n
}

func (r *envReader) number(name string) float64 {
	v := os.Getenv(name)
	if v == "" || r.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		r.err = fmt.Errorf("invalid %s %q: use a number of zero or more, such as 0.15", name, v)
	}
	return f
}

func (r *envReader) boolean(name string) bool {
	v := os.Getenv(name)
	if v == "" || r.err != nil {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.err = fmt.Errorf("invalid %s %q: use true or false", name, v)
	}
	return b
}

// readModelConfig reads the SALESAGENT_LLM_* and SALESAGENT_EMBEDDING_*
// variables.
func readModelConfig() (ModelConfig, error) {
	var r envReader
	cfg := ModelConfig{
		LLM: agent.LLMConfig{
			Provider:              os.Getenv("SALESAGENT_LLM_PROVIDER"),
			APIKey:                os.Getenv("SALESAGENT_LLM_API_KEY"),
			BaseURL:               os.Getenv("SALESAGENT_LLM_BASE_URL"),
			Model:                 os.Getenv("SALESAGENT_LLM_MODEL"),
			EmbeddingModel:        os.Getenv("SALESAGENT_EMBEDDING_MODEL"),
			APIVersion:            os.Getenv("SALESAGENT_LLM_API_VERSION"),
			ConnectTimeout:        r.duration("SALESAGENT_LLM_CONNECT_TIMEOUT"),
			FirstTokenTimeout:     r.duration("SALESAGENT_LLM_FIRST_TOKEN_TIMEOUT"),
			ReplyTimeout:          r.duration("SALESAGENT_LLM_REPLY_TIMEOUT"),
			MaxTokens:             r.integer("SALESAGENT_LLM_MAX_TOKENS"),
			MaxToolRounds:         r.integer("SALESAGENT_LLM_MAX_TOOL_ROUNDS"),
			MaxRetries:            r.integer("SALESAGENT_LLM_MAX_RETRIES"),
			PricePerMillionInput:  r.number("SALESAGENT_LLM_PRICE_INPUT"),
			PricePerMillionOutput: r.number("SALESAGENT_LLM_PRICE_OUTPUT"),
		},
		PromptsDir: os.Getenv("SALESAGENT_PROMPTS_DIR"),
	}
	if model := os.Getenv("SALESAGENT_EMBEDDING_MODEL"); model != "" {
		cfg.Embedding = &retrieval.OpenAIConfig{
			BaseURL:    envOr("SALESAGENT_EMBEDDING_BASE_URL", os.Getenv("SALESAGENT_LLM_BASE_URL")),
			APIKey:     envOr("SALESAGENT_EMBEDDING_API_KEY", os.Getenv("SALESAGENT_LLM_API_KEY")),
			Model:      model,
			Dimensions: r.integer("SALESAGENT_EMBEDDING_DIMENSIONS"),
			APIType:    os.Getenv("SALESAGENT_EMBEDDING_API_TYPE"),
			APIVersion: os.Getenv("SALESAGENT_EMBEDDING_API_VERSION"),
			Base64:     r.boolean("SALESAGENT_EMBEDDING_BASE64"),
			BatchSize:  r.integer("SALESAGENT_EMBEDDING_BATCH_SIZE"),
			Timeout:    r.duration("SALESAGENT_EMBEDDING_TIMEOUT"),
		}
	}
	return cfg, r.err
}

// models is what the commands build from a ModelConfig: the embedders that
// search and indexing use, and the choice of brain per shop.
type models struct {
	embedders map[string]retrieval.Embedder
	extra     []retrieval.Embedder
	brains    func(*salesagent.Shop) agent.Brain
}

// buildModels constructs the embedders and brains. No request is sent.
func buildModels(cfg ModelConfig, logger *slog.Logger, registry prometheus.Registerer) (*models, error) {
	m := &models{embedders: map[string]retrieval.Embedder{}}
	local := retrieval.NewLocalEmbedder()
	m.embedders[local.Name()] = local
	if cfg.Embedding != nil {
		embedder, err := retrieval.NewOpenAIEmbedder(*cfg.Embedding)
		if err != nil {
			return nil, fmt.Errorf("embedding settings from SALESAGENT_EMBEDDING_MODEL, SALESAGENT_EMBEDDING_DIMENSIONS and SALESAGENT_EMBEDDING_BASE_URL: %w", err)
		}
		m.embedders[embedder.Name()] = embedder
		m.extra = append(m.extra, embedder)
	}

	set := prompts.Default()
	if cfg.PromptsDir != "" {
		loaded, err := prompts.Load(cfg.PromptsDir)
		if err != nil {
			return nil, fmt.Errorf("load prompts from SALESAGENT_PROMPTS_DIR %s: %w", cfg.PromptsDir, err)
		}
		set = loaded
	}
	opts := agent.LLMOptions{Logger: logger, Prompts: set}
	if registry != nil {
		metrics, err := agent.NewLLMMetrics(registry)
		if err != nil {
			return nil, fmt.Errorf("register LLM metrics: %w", err)
		}
		opts.Metrics = metrics
	}
	if !cfg.LLM.Enabled() && (cfg.LLM.Model != "" || cfg.LLM.Provider != "") {
		return nil, fmt.Errorf("SALESAGENT_LLM_MODEL or SALESAGENT_LLM_PROVIDER is set, but neither SALESAGENT_LLM_API_KEY nor SALESAGENT_LLM_BASE_URL: set one of them to use the LLM, or unset both to use the offline agent")
	}
	brains, err := agent.NewBrains(cfg.LLM, agent.OfflineBrain{}, opts)
	if err != nil {
		return nil, err
	}
	m.brains = brains
	if cfg.LLM.Enabled() {
		logger.Info("LLM configured", "llm", cfg.LLM)
	}
	return m, nil
}

func (m *models) searcher(db *postgres.DB) *retrieval.Searcher {
	return retrieval.NewSearcher(db, m.extra...)
}

func (m *models) indexer(db *postgres.DB, logger *slog.Logger) *retrieval.Indexer {
	return retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), logger, m.extra...)
}
