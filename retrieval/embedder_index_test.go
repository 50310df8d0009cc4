package retrieval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgvector/pgvector-go"

	"github.com/salesagent/salesagent/postgres/pgtest"
)

// sizedEmbedder is an embedder of a given name and size that is never
// asked for vectors.
type sizedEmbedder struct {
	name string
	dims int
}

func (e sizedEmbedder) Name() string    { return e.name }
func (e sizedEmbedder) Dimensions() int { return e.dims }
func (e sizedEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	panic("sizedEmbedder does not embed")
}

func TestEmbedderIndexName(t *testing.T) {
	t.Parallel()
	if got := EmbedderIndexName(LocalEmbedderName); got != "embeddings_local_hash_384" {
		t.Errorf("local embedder's index = %q, want the migration's embeddings_local_hash_384", got)
	}
	dotted, dashed := EmbedderIndexName("openai:a.b:8"), EmbedderIndexName("openai:a-b:8")
	if dotted == dashed {
		t.Errorf("names differing in punctuation share the index %q", dotted)
	}
	if !strings.HasPrefix(dotted, "embeddings_openai_a_b_8_") {
		t.Errorf("index name %q does not start with the sanitised embedder name", dotted)
	}
	long := EmbedderIndexName(OpenAIEmbedderName(strings.Repeat("m", 200), 1536))
	if len(long) > 63 {
		t.Errorf("index name %q has %d bytes, more than PostgreSQL's 63", long, len(long))
	}
}

func TestEnsureEmbedderIndexRejectsTooManyDimensions(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	err := EnsureEmbedderIndex(context.Background(), db, sizedEmbedder{name: "test-huge-5000", dims: 5000})
	if err == nil || !strings.Contains(err.Error(), "5000 dimensions") {
		t.Errorf("error = %v, want one naming the 5000 dimensions", err)
	}
}

// TestNearestSQLUsesEmbedderIndex checks that the planner matches the
// HNSW search to the index EnsureEmbedderIndex built, for a size stored
// as vector and one stored as halfvec.
func TestNearestSQLUsesEmbedderIndex(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, e := range []sizedEmbedder{{"test-plan-64", 64}, {"test-plan-3072", 3072}} {
		if err := EnsureEmbedderIndex(ctx, db, e); err != nil {
			t.Fatalf("EnsureEmbedderIndex(%s): %v", e.name, err)
		}
		// A second call finds the index and changes nothing.
		if err := EnsureEmbedderIndex(ctx, db, e); err != nil {
			t.Fatalf("second EnsureEmbedderIndex(%s): %v", e.name, err)
		}

		var plan []string
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			// The tables are nearly empty, so without these settings the
			// planner sorts all rows instead of walking an index.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off`); err != nil {
				return err
			}
			var a args
			filter := filterSQL(&a, 1, Query{})
			sql := nearestSQL(&a, filter, e, pgvector.NewVector(make([]float32, e.dims)), 10, false)
			rows, err := tx.Query(ctx, "EXPLAIN "+sql, a...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatalf("explain the search of %s: %v", e.name, err)
		}
		if index := EmbedderIndexName(e.name); !strings.Contains(strings.Join(plan, "\n"), index) {
			t.Errorf("search of %s does not use index %s:\n%s", e.name, index, strings.Join(plan, "\n"))

		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Thu, 01 May 2025 12:00:30 GMT": 30 * time.Second,
		"Thu, 01 May 2025 11:59:00 GMT": 0,
	}
	for value, want := range cases {
		if got := parseRetryAfter(value, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", value, got, want)
		}
	}
}

// TestHNSWSettingsLastForTheBatch checks what nearestHits relies on: the
// settings sent in a batch before the search apply to the search, and end
// with the batch, so they never leak to the next user of the connection.
func TestHNSWSettingsLastForTheBatch(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var inBatch, scan, after string
	batch := &pgx.Batch{}
	batch.Queue(hnswSettings, "321")
	batch.Queue(`SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&inBatch, &scan)
	})
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	if inBatch != "321" || scan != "relaxed_order" {
		t.Errorf("in the batch: ef_search %q, iterative_scan %q; want 321 and relaxed_order", inBatch, scan)
	}
	if err := conn.QueryRow(ctx, `SELECT coalesce(current_setting('hnsw.ef_search', true), '')`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after == "321" {
		t.Error("ef_search 321 outlived the batch")
	}
}

func TestRetryDeadlock(t *testing.T) {
	deadlock := fmt.Errorf("create index: %w", &pgconn.PgError{Code: "40P01"})
	cases := []struct {
		name      string
		failures  []error
		wantCalls int
		wantErr   bool
	}{
		{"succeeds after two deadlocks", []error{deadlock, deadlock}, 3, false},
		{"gives up after three deadlocks", []error{deadlock, deadlock, deadlock, deadlock}, 3, true},
		{"other errors are not retried", []error{errors.New("permission denied")}, 1, true},
	}
	for _, c := range cases {
		calls := 0
		err := retryDeadlock(func() error {
			calls++
			if calls <= len(c.failures) {
				return c.failures[calls-1]
			}
			return nil
		})
		if calls != c.wantCalls {
			t.Errorf("%s: %d calls, want %d", c.name, calls, c.wantCalls)
		}
		if (err != nil) != c.wantErr {
			t.Errorf("%s: error %v, want error %v", c.name, err, c.wantErr)
		}
	}
}
