package agent

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/sony/gobreaker/v2"

	"github.com/salesagent/salesagent"
)

// NewBrains returns a brain selector for Service.Brains. A shop gets an
// LLM brain when the server's config or the shop's LLMSettings name an API
// key or a base URL, unless the shop disabled it. Otherwise, and while the
// circuit breaker of the shop's endpoint is open, the selector returns nil
// and the Service uses offline.
//
// global is the server's config as read from its environment, without
// defaults applied. NewBrains fails when it is enabled but invalid. A
// shop whose own settings are invalid is logged once and served offline.
// Shops that share an endpoint (base URL and model) share its circuit
// breaker.
func NewBrains(global LLMConfig, offline Brain, opts LLMOptions) (func(*salesagent.Shop) Brain, error) {
	if global.Enabled() {
		if err := global.WithDefaults().Validate(); err != nil {
			return nil, fmt.Errorf("LLM settings: %w", err)
		}
	}
	set := &brainSet{
		global: global, defaults: global.WithDefaults(), offline: offline, opts: opts.withDefaults(),
		brains: map[[32]byte]*LLMBrain{}, breakers: map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{},
		invalid: map[[32]byte]bool{},
	}
	return set.brainFor, nil
}

// brainSet keeps one LLM brain per distinct config and one circuit breaker
// per endpoint.
type brainSet struct {
	global   LLMConfig
	defaults LLMConfig
	offline  Brain
	opts     LLMOptions

	mu sync.Mutex
	// brains and invalid are keyed by a hash of the shop's merged config,
	// so a change of a shop's settings takes effect on its next turn.
	// NOTE: entries are never removed; there is one per distinct config.
	brains   map[[32]byte]*LLMBrain
	breakers map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
	invalid  map[[32]byte]bool
}

// brainFor returns the shop's LLM brain, or nil for the offline brain.
func (s *brainSet) brainFor(shop *salesagent.Shop) Brain {
	config, enabled := s.global.ForShop(shop)
	if !enabled {
		return nil
	}
	config = config.WithDefaults()
	// Breakers guard endpoints for every shop alike, so the server's
	// settings apply.
	config.BreakerFailures, config.BreakerCooldown = s.defaults.BreakerFailures, s.defaults.BreakerCooldown
	raw, _ := json.Marshal(config)
	key := sha256.Sum256(raw)

	s.mu.Lock()
	defer s.mu.Unlock()
	brain, ok := s.brains[key]
	if !ok {
		if s.invalid[key] {
			return nil
		}
		if err := config.Validate(); err != nil {
			s.invalid[key] = true
			s.opts.Logger.Error("shop's LLM settings are invalid, so the shop gets the offline agent", "shop_id", shop.ID, "error", err)
			return nil
		}
		breaker, ok := s.breakers[config.endpoint()]
		if !ok {
			breaker = newBreaker(config, s.opts.Logger)
			s.breakers[config.endpoint()] = breaker
		}
		brain = newLLMBrain(config, s.offline, s.opts, breaker)
		s.brains[key] = brain
	}
	if brain.breaker.State() == gobreaker.StateOpen {
		s.opts.Metrics.request(llmCircuitOpen)
		return nil
	}
	return brain
}
