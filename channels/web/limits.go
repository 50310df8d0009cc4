package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepInterval is how often idle visitor buckets are dropped.
const sweepInterval = time.Minute

// visitorLimits holds a token bucket per visitor, keyed by conversation id,
// so that reconnecting does not refill it. The buckets live in this process
// only; each server process of a cluster limits on its own.
type visitorLimits struct {
	limit rate.Limit
	burst int
	// idle is how long a bucket takes to fill up again. An unused bucket
	// is then no different from a new one, so it can be dropped.
	idle time.Duration

	mu        sync.Mutex
	buckets   map[int64]*visitorBucket
	lastSweep time.Time
}

type visitorBucket struct {
	limiter  *rate.Limiter
	lastUsed time.Time
}

func newVisitorLimits(cfg RateLimit) *visitorLimits {
	return &visitorLimits{
		limit:   rate.Every(cfg.Every),
		burst:   cfg.Burst,
		idle:    time.Duration(cfg.Burst) * cfg.Every,
		buckets: map[int64]*visitorBucket{},
	}
}

// reserve takes a token from the visitor's bucket. When the bucket is
// empty it takes nothing and returns the wait until a token is available.
func (l *visitorLimits) reserve(convID int64, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)

	b := l.buckets[convID]
	if b == nil {
		b = &visitorBucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[convID] = b
	}
	b.lastUsed = now
	r := b.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

func (l *visitorLimits) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepInterval {
		return
	}
	l.lastSweep = now
	for id, b := range l.buckets {
		if now.Sub(b.lastUsed) > l.idle {
			delete(l.buckets, id)
		}
	}
}
