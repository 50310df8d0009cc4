package agent

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// LLMMetrics are the LLM brain's Prometheus metrics. A nil *LLMMetrics
// records nothing.
type LLMMetrics struct {
	tokens   *prometheus.CounterVec
	requests *prometheus.CounterVec
	cost     prometheus.Counter
}

// Results of LLM requests, as labelled in salesagent_llm_requests_total.
const (
	llmOK           = "ok"
	llmRateLimited  = "rate_limited"
	llmServerError  = "server_error"
	llmUnauthorized = "unauthorized"
	llmClientError  = "client_error"
	llmTimeout      = "timeout"
	llmNetworkError = "network_error"
	llmBrokenStream = "broken_stream"
	llmCanceled     = "canceled"
	// llmCircuitOpen counts turns sent to the offline agent because the
	// endpoint's circuit breaker was open; no request was made.
	llmCircuitOpen = "circuit_open"
)

// NewLLMMetrics creates the LLM metrics and registers them with reg. It
// fails when reg already holds metrics of the same names.
func NewLLMMetrics(reg prometheus.Registerer) (*LLMMetrics, error) {
	m := &LLMMetrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "salesagent", Subsystem: "llm", Name: "tokens_total",
			Help: "Language model tokens, by kind (prompt, completion), as the model's server reported them or estimated as runes / 4 when it did not.",
		}, []string{"kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "salesagent", Subsystem: "llm", Name: "requests_total",
			Help: "Chat completion requests, by result (ok, rate_limited, server_error, unauthorized, client_error, timeout, network_error, broken_stream, canceled, circuit_open).",
		}, []string{"result"}),
		cost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salesagent", Subsystem: "llm", Name: "cost_dollars_total",
			Help: "Cost of language model tokens in US dollars at the configured prices.",
		}),
	}
	for _, c := range []prometheus.Collector{m.tokens, m.requests, m.cost} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register LLM metrics: %w", err)
		}
	}
	return m, nil
}

func (m *LLMMetrics) request(result string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(result).Inc()
}

func (m *LLMMetrics) used(prompt, completion int, cost float64) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues("prompt").Add(float64(prompt))
	m.tokens.WithLabelValues("completion").Add(float64(completion))
	m.cost.Add(cost)
}
