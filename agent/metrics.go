package agent

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics records
// nothing, so tests and tools can run a Service without a registry.
type Metrics struct {
	turns        *prometheus.CounterVec
	toolCalls    *prometheus.CounterVec
	needs        *prometheus.CounterVec
	turnDuration *prometheus.HistogramVec
}

// NewMetrics creates the agent's metrics and registers them with reg. It
// fails when reg already holds metrics of the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "salesagent", Subsystem: "agent", Name: "turns_total",
			Help: "Shopper messages handled, by brain and outcome (answered, clarified, escalated, operator, error).",
		}, []string{"brain", "outcome"}),
		toolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "salesagent", Subsystem: "agent", Name: "tool_calls_total",
			Help: "Tool calls, by tool and result (ok, rejected, error).",
		}, []string{"tool", "result"}),
		needs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "salesagent", Subsystem: "agent", Name: "needs_recognised_total",
			Help: "Needs recognised in shopper messages, by need.",
		}, []string{"need"}),
		turnDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "salesagent", Subsystem: "agent", Name: "turn_duration_seconds",
			Help:    "Time from receiving a shopper message to storing the agent's reply, by brain.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"brain"}),
	}
	for _, c := range []prometheus.Collector{m.turns, m.toolCalls, m.needs, m.turnDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register agent metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) turnDone(brain, outcome string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.turns.WithLabelValues(brain, outcome).Inc()
	m.turnDuration.WithLabelValues(brain).Observe(elapsed.Seconds())
}

func (m *Metrics) toolCalled(tool, result string) {
	if m == nil {
		return
	}
	m.toolCalls.WithLabelValues(tool, result).Inc()
}

func (m *Metrics) needRecognised(need Need) {
	if m == nil {
		return
	}
	m.needs.WithLabelValues(string(need)).Inc()
}
