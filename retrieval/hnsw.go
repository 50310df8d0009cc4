package retrieval

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent/postgres"
)

// EfSearch returns the hnsw.ef_search that a vector search for depth hits
// sets: twice the depth, at least 100 and at most 1,000 (pgvector's
// maximum).
func EfSearch(depth int) int {
	return min(max(2*depth, 100), 1000)
}

// UsesHNSW reports whether a vector search with this many candidate chunks
// (those passing the query's filters) walks the HNSW index rather than
// ranking every candidate exactly, given the embeddings table's estimated
// row count (pg_class.reltuples).
func UsesHNSW(candidates int, vectors float64) bool {
	exact := candidates <= exactAlways || (candidates <= exactMax && float64(candidates) < exactShare*vectors)
	return !exact
}

// HNSWSettings are the build parameters of an embedder's HNSW index, as
// PostgreSQL stores them.
type HNSWSettings struct {
	Index string
	// M is the number of neighbours per node and EfConstruction the
	// candidate list size during the build. pgvector's defaults, 16 and
	// 64, apply where the index sets none.
	M, EfConstruction int
	// Vectors is PostgreSQL's estimate of the rows in the embeddings
	// table (pg_class.reltuples), which UsesHNSW weighs; -1 before the
	// table's first ANALYZE.
	Vectors float64
}

// ReadHNSWSettings reads the build parameters of the embedder's HNSW index
// from pg_class. It fails when the index does not exist.
func ReadHNSWSettings(ctx context.Context, db *postgres.DB, e Embedder) (HNSWSettings, error) {
	settings := HNSWSettings{Index: EmbedderIndexName(e.Name()), M: 16, EfConstruction: 64}
	var options []string
	var vectors float32
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = to_regclass($1)`,
		pgx.Identifier{settings.Index}.Sanitize()).Scan(&options)
	if err != nil {
		return settings, fmt.Errorf("read options of index %s (run salesagent migrate, or index a shop with embedder %s): %w", settings.Index, e.Name(), err)
	}
	err = db.Pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'embeddings'::regclass`).Scan(&vectors)
	if err != nil {
		return settings, fmt.Errorf("read the size of the embeddings table: %w", err)
	}
	settings.Vectors = float64(vectors)
	for _, option := range options {
		name, value, _ := strings.Cut(option, "=")
		n, err := strconv.Atoi(value)
		if err != nil {
			continue
		}
		switch name {
		case "m":
			settings.M = n
		case "ef_construction":
			settings.EfConstruction = n
		}
	}
	return settings, nil
}
