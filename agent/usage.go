package agent

import (
	"errors"
	"fmt"
)

// Usage is the language model usage of one turn, summed over its
// requests.
type Usage struct {
	Model string `json:"model"`
	// Requests counts the HTTP requests made, retries included.
	Requests         int `json:"requests"`
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// Estimated is set when a response reported no usage, so its tokens
	// were estimated as runes / 4.
	Estimated bool `json:"estimated,omitempty"`
	// CostUSD is the cost in US dollars at the configured prices.
	CostUSD float64 `json:"cost_usd"`
}

// add counts one response's tokens.
func (u *Usage) add(prompt, completion int, estimated bool) {
	u.PromptTokens += prompt
	u.CompletionTokens += completion
	u.Estimated = u.Estimated || estimated
}

// price sets CostUSD from prices per million tokens.
func (u *Usage) price(perMillionInput, perMillionOutput float64) {
	u.CostUSD = float64(u.PromptTokens)*perMillionInput/1e6 + float64(u.CompletionTokens)*perMillionOutput/1e6
}

// BrainError is a brain's failure, with the model usage that the turn had
// spent before it failed.
type BrainError struct {
	Brain string
	// Usage is nil when the brain used no model.
	Usage *Usage
	Err   error
}

func (e *BrainError) Error() string { return fmt.Sprintf("%s brain: %v", e.Brain, e.Err) }

func (e *BrainError) Unwrap() error { return e.Err }

// usageOf returns the usage carried by a brain's error, or nil.
func usageOf(err error) *Usage {
	var be *BrainError
	if errors.As(err, &be) {
		return be.Usage
	}
	return nil
}
