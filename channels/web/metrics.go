package web

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the channel's Prometheus collectors.
type metrics struct {
	open        prometheus.Gauge
	framesIn    *prometheus.CounterVec
	framesOut   *prometheus.CounterVec
	errors      *prometheus.CounterVec
	slowDropped prometheus.Counter
	// deltasMerged counts delta frames joined to a queued delta of the
	// same turn instead of queued on their own.
	deltasMerged prometheus.Counter
}

// knownFrameTypes bounds the type label of the frame counters, so a client
// cannot grow the label set.
var knownFrameTypes = map[string]bool{
	FrameHello: true, FrameMessage: true, FrameWelcome: true, FrameAck: true,
	FrameDelta: true, FrameReplace: true, FrameCard: true, FrameTool: true, FrameHandoff: true,
	FrameError: true, "invalid": true, "too_large": true, "flood": true,
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "salesagent_web_sockets_open",
			Help: "Widget WebSocket connections open now.",
		}),
		framesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salesagent_web_frames_received_total",
			Help: "Frames received from widget clients, by frame type; invalid, too_large and flood count rejected frames.",
		}, []string{"type"}),
		framesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salesagent_web_frames_sent_total",
			Help: "Frames queued for widget clients, by frame type.",
		}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "salesagent_web_errors_total",
			Help: "Error frames sent to widget clients, by error code.",
		}, []string{"code"}),
		slowDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "salesagent_web_slow_clients_dropped_total",
			Help: "Sockets closed because the client did not read its frames fast enough.",
		}),
		deltasMerged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "salesagent_web_deltas_merged_total",
			Help: "Delta frames appended to a delta of the same turn still waiting for the client, instead of being queued as frames of their own.",
		}),
	}
	if reg == nil {
		return m
	}
	m.open = register(reg, m.open, log)
	m.framesIn = register(reg, m.framesIn, log)
	m.framesOut = register(reg, m.framesOut, log)
	m.errors = register(reg, m.errors, log)
	m.slowDropped = register(reg, m.slowDropped, log)
	m.deltasMerged = register(reg, m.deltasMerged, log)
	return m
}

// register registers c, or returns the collector already registered under
// its name, as when two servers share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Error("register web channel metric failed", "error", err)
	return c
}

func (m *metrics) frameIn(frameType string) {
	if !knownFrameTypes[frameType] {
		frameType = "invalid"
	}
	m.framesIn.WithLabelValues(frameType).Inc()
}

func (m *metrics) frameOut(frameType string) {
	m.framesOut.WithLabelValues(frameType).Inc()
}
