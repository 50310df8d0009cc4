package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// terminateBackends terminates the backends of pool's idle connections
// from another connection, and waits until they are gone.
func terminateBackends(t *testing.T, admin *postgres.DB, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	var pids []int64
	for _, c := range pool.AcquireAllIdle(ctx) {
		pids = append(pids, int64(c.Conn().PgConn().PID()))
		c.Release()
	}
	if len(pids) == 0 {
		t.Fatal("the pool has no idle connection to terminate")
	}
	if _, err := admin.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid::int) FROM unnest($1::int8[]) pid`, pids); err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	for range 200 {
		var left int
		if err := admin.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)`, pids).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("backends %v still running", pids)
}

func TestPoolDropsTerminatedConnections(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.DB(t)
	url := pgtest.URL(t)
	if strings.Contains(url, "?") {
		url += "&pool_max_conns=3"
	} else {
		url += "?pool_max_conns=3"
	}
	warm := func(pool *pgxpool.Pool) {
		// Three queries at once leave three idle connections.
		conns := make([]*pgxpool.Conn, 3)
		for i := range conns {
			c, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		for _, c := range conns {
			c.Release()
		}
	}

	// A plain pool fails a query on a connection whose backend is gone,
	// which shows that the check below is what keeps the queries working.
	plain, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	warm(plain)
	terminateBackends(t, admin, plain)
	if err := plain.QueryRow(ctx, "SELECT 1").Scan(new(int)); err == nil {
		t.Fatal("a pool without the check did not fail on a terminated connection, so this test no longer shows that the check works")
	}

	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Pool.Close()
	warm(db.Pool)
	terminateBackends(t, admin, db.Pool)
	for i := range 3 {
		var n int
		if err := db.Pool.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
			t.Fatalf("query %d after the backends were terminated: %v", i+1, err)
		}
	}
}
