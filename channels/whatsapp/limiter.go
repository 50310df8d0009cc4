package whatsapp

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// defaultMessagesPerSecond is the throughput Meta documents by default for
// a Cloud API number.
const defaultMessagesPerSecond = 80

// limiters keeps one token bucket per business phone number, so sends of
// all shops on one number stay within its throughput.
//
// NOTE: each server process has its own buckets, so several processes
// sharing a number may together exceed the limit. Meta then responds
// with error 130429, and the send waits and tries again.
type limiters struct {
	mu      sync.Mutex
	byPhone map[string]*rate.Limiter
}

func newLimiters() *limiters {
	return &limiters{byPhone: map[string]*rate.Limiter{}}
}

// wait blocks until the number may send one more message, or ctx ends.
// perSecond of 0 means the default throughput; a changed value takes
// effect on the next call.
func (l *limiters) wait(ctx context.Context, phoneNumberID string, perSecond float64) error {
	if perSecond <= 0 {
		perSecond = defaultMessagesPerSecond
	}
	l.mu.Lock()
	limiter, ok := l.byPhone[phoneNumberID]
	if !ok {
		limiter = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
		l.byPhone[phoneNumberID] = limiter
	} else if limiter.Limit() != rate.Limit(perSecond) {
		limiter.SetLimit(rate.Limit(perSecond))
		limiter.SetBurst(max(1, int(perSecond)))
	}
	l.mu.Unlock()
	return limiter.Wait(ctx)
}
