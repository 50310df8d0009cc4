package agent

import (
	"errors"
	"log/slog"

	"github.com/sony/gobreaker/v2"
)

// newBreaker returns a circuit breaker for one endpoint. It opens after
// config.BreakerFailures consecutive requests failed by the endpoint's
// fault (see llmError.endpointFault), stays open for BreakerCooldown, and
// then lets one trial request through: its success closes the breaker and
// its failure opens it again.
func newBreaker(config LLMConfig, logger *slog.Logger) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	failures := uint32(config.BreakerFailures)
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:    config.endpoint(),
		Timeout: config.BreakerCooldown,
		ReadyToTrip: func(counts gobreaker.Counts) bool {
			return counts.ConsecutiveFailures >= failures
		},
		IsSuccessful: func(err error) bool {
			var le *llmError
			return err == nil || errors.As(err, &le) && !le.endpointFault()
		},
		IsExcluded: func(err error) bool {
			var le *llmError
			return errors.As(err, &le) && le.result == llmCanceled
		},
		OnStateChange: func(endpoint string, from, to gobreaker.State) {
			logger.Warn("LLM circuit breaker changed state", "endpoint", endpoint, "from", from.String(), "to", to.String(),
				"cooldown_s", config.BreakerCooldown.Seconds())
		},
	})
}
