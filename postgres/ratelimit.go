package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TakeToken spends one token of the bucket stored under key, which holds
// up to burst tokens and earns one back every interval. It returns zero
// when a token was spent, or how long until the next one. The bucket is
// updated in one statement, so concurrent callers on any server process
// never spend the same token twice.
func (db *DB) TakeToken(ctx context.Context, key []byte, burst int, every time.Duration) (time.Duration, error) {
	perSecond := 1 / every.Seconds()
	var left float64
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO rate_limits AS r (key, tokens, updated_at) VALUES ($1, $2 - 1, clock_timestamp())
		ON CONFLICT (key) DO UPDATE
			SET tokens = least($2, r.tokens + extract(epoch FROM clock_timestamp() - r.updated_at) * $3) - 1,
				updated_at = clock_timestamp()
			WHERE least($2, r.tokens + extract(epoch FROM clock_timestamp() - r.updated_at) * $3) >= 1
		RETURNING tokens`, key, float64(burst), perSecond).Scan(&left)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("take rate limit token: %w", err)
	}

	// The bucket is empty: work out when it holds a whole token again.
	var tokens float64
	err = db.Pool.QueryRow(ctx, `SELECT least($2, tokens + extract(epoch FROM clock_timestamp() - updated_at) * $3)
		FROM rate_limits WHERE key = $1`, key, float64(burst), perSecond).Scan(&tokens)
	if err != nil {
		return 0, fmt.Errorf("read rate limit bucket: %w", err)
	}
	wait := time.Duration((1 - tokens) / perSecond * float64(time.Second))
	return max(wait, time.Millisecond), nil
}

// DeleteFullBuckets removes buckets untouched for longer than idle, which
// by then are full again and limit nothing. It returns how many it removed.
func (db *DB) DeleteFullBuckets(ctx context.Context, idle time.Duration) (int64, error) {
	tag, err := db.Pool.Exec(ctx, `DELETE FROM rate_limits WHERE updated_at < clock_timestamp() - $1::interval`, idle)
	if err != nil {
		return 0, fmt.Errorf("delete idle rate limit buckets: %w", err)
	}
	return tag.RowsAffected(), nil
}
