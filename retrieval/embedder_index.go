package retrieval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/salesagent/salesagent/postgres"
)

// pgvector's HNSW index takes vectors of up to 2,000 dimensions, and
// half-precision vectors (halfvec) of up to 4,000. EnsureEmbedderIndex
// rejects embedders with more dimensions.
const (
	maxVectorIndexDimensions = 2000
	maxHalfvecDimensions     = 4000
)

// vectorType returns the type that an embedder's vectors are cast to in
// its index and in search: vector(N), or halfvec(N) when N is too large
// for an HNSW index on vector.
func vectorType(dimensions int) string {
	if dimensions > maxVectorIndexDimensions {
		return fmt.Sprintf("halfvec(%d)", dimensions)
	}
	return fmt.Sprintf("vector(%d)", dimensions)
}

// sqlLiteral quotes s as an SQL string literal.
func sqlLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// EmbedderIndexName returns the name of the embedder's HNSW index on the
// embeddings table. It is "embeddings_", the embedder name in lowercase
// with each character other than letters and digits replaced by '_', and
// an 8-digit hash of the exact name. The hash keeps names that differ only
// in punctuation apart. The built-in embedder keeps the name that the
// first migration gave its index, embeddings_local_hash_384.
func EmbedderIndexName(name string) string {
	if name == LocalEmbedderName {
		return "embeddings_local_hash_384"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	slug := b.String()
	// PostgreSQL cuts identifiers at 63 bytes: 11 for "embeddings_", 9
	// for "_" and the hash.
	if len(slug) > 43 {
		slug = slug[:43]
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("embeddings_%s_%08x", slug, h.Sum32())
}

// EnsureEmbedderIndex creates the embedder's partial HNSW index on the
// embeddings table unless it exists, without blocking writes (CREATE
// INDEX CONCURRENTLY). An index left invalid by an interrupted build is
// dropped and built again. It must not run inside a transaction.
func EnsureEmbedderIndex(ctx context.Context, db *postgres.DB, e Embedder) error {
	name, dims := e.Name(), e.Dimensions()
	if !validEmbedderName.MatchString(name) {
		return fmt.Errorf("create index for embedder %q: invalid name: use letters, digits and ._:-", name)
	}
	if dims < 1 || dims > maxHalfvecDimensions {
		return fmt.Errorf("create index for embedder %s: %d dimensions, but pgvector's HNSW index takes 1 to %d: configure fewer dimensions",
			name, dims, maxHalfvecDimensions)
	}
	// The cancelled build of a deadlock leaves an invalid index, which
	// the next attempt drops.
	return retryDeadlock(func() error { return ensureIndex(ctx, db, name, dims) })
}

// retryDeadlock runs build, an index build on the embeddings table, up to
// three times while PostgreSQL cancels it to end a deadlock. Two
// concurrent builds on one table can deadlock, such as two servers
// starting together or the periodic rebuild beside an embedder's first
// index.
func retryDeadlock(build func() error) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var pgErr *pgconn.PgError
		if err = build(); !errors.As(err, &pgErr) || pgErr.Code != "40P01" {
			return err
		}
	}
	return err
}

// ensureIndex makes one attempt of EnsureEmbedderIndex.
func ensureIndex(ctx context.Context, db *postgres.DB, name string, dims int) error {
	index := EmbedderIndexName(name)
	quoted := pgx.Identifier{index}.Sanitize()

	var valid *bool
	err := db.Pool.QueryRow(ctx, `SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1))`, quoted).Scan(&valid)
	if err != nil {
		return fmt.Errorf("look up index %s: %w", index, err)
	}
	if valid != nil && *valid {
		return nil
	}
	if valid != nil {
		if _, err := db.Pool.Exec(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+quoted); err != nil {
			return fmt.Errorf("drop invalid index %s: %w", index, err)
		}
	}

	typ := vectorType(dims)
	ops := "vector_cosine_ops"
	if strings.HasPrefix(typ, "halfvec") {
		ops = "halfvec_cosine_ops"
	}
	sql := `CREATE INDEX CONCURRENTLY IF NOT EXISTS ` + quoted + ` ON embeddings
		USING hnsw ((embedding::` + typ + `) ` + ops + `)
		WITH (m = 16, ef_construction = 64)
		WHERE embedder = ` + sqlLiteral(name)
	if _, err := db.Pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create index %s for embedder %s: %w", index, name, err)
	}
	return nil
}
