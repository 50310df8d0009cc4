package bench

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolUsage is a database pool's use during a run: the connections taken
// from it, and those of them that had to wait because every connection was
// in use.
type PoolUsage struct {
	MaxConns int32 `json:"max_conns"`
	Acquires int64 `json:"acquires"`
	// Waited counts the acquires that found no idle connection.
	Waited int64 `json:"waited"`
	// WaitMeanMS is the mean wait of those acquires, and WaitSeconds
	// their total wait.
	WaitMeanMS  float64 `json:"wait_mean_ms"`
	WaitSeconds float64 `json:"wait_seconds"`
}

// PoolStats is a snapshot of a pool's counters, taken with ReadPool.
type PoolStats struct {
	maxConns int32
	acquires int64
	waited   int64
	waitTime time.Duration
}

// ReadPool takes a snapshot of pool's counters.
func ReadPool(pool *pgxpool.Pool) PoolStats {
	s := pool.Stat()
	return PoolStats{maxConns: s.MaxConns(), acquires: s.AcquireCount(), waited: s.EmptyAcquireCount(), waitTime: s.EmptyAcquireWaitTime()}
}

// Since returns the pool's use between the snapshot before and s.
func (s PoolStats) Since(before PoolStats) PoolUsage {
	u := PoolUsage{
		MaxConns:    s.maxConns,
		Acquires:    s.acquires - before.acquires,
		Waited:      s.waited - before.waited,
		WaitSeconds: (s.waitTime - before.waitTime).Seconds(),
	}
	if u.Waited > 0 {
		u.WaitMeanMS = Milliseconds((s.waitTime - before.waitTime) / time.Duration(u.Waited))
	}
	return u
}
