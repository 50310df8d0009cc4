package retrieval

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// feedbackDocs is the number of best full-text hits whose embeddings move
// the query vector in hybrid search (see feedbackVector).
const feedbackDocs = 10

// feedbackVector returns the query vector moved towards the stored
// embeddings of the best full-text hits: pseudo-relevance feedback in the
// manner of Rocchio. The result is the query vector plus the mean of the
// first feedbackDocs hits' vectors, each weighted by its score relative to
// the best hit's, scaled to unit length. Vector search with it finds
// products that resemble the best lexical matches even when they share
// few words with the query, such as typos the full-text query corrected
// or products a shop names in its own words. Hits without a stored
// embedding by this embedder are left out; with none, query is returned.
func feedbackVector(ctx context.Context, tx pgx.Tx, e Embedder, query []float32, hits []Hit) ([]float32, error) {
	hits = hits[:min(feedbackDocs, len(hits))]
	if len(hits) == 0 || hits[0].Score <= 0 {
		return query, nil
	}
	weights := make(map[int64]float64, len(hits))
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.ChunkID
		weights[h.ChunkID] = h.Score / hits[0].Score / float64(len(hits))
	}
	rows, err := tx.Query(ctx, `SELECT chunk_id, embedding FROM embeddings WHERE embedder = $1 AND chunk_id = ANY($2)`, e.Name(), ids)
	if err != nil {
		return nil, fmt.Errorf("read feedback embeddings: %w", err)
	}
	defer rows.Close()

	moved := make([]float64, len(query))
	for i, x := range query {
		moved[i] = float64(x)
	}
	for rows.Next() {
		var id int64
		var v pgvector.Vector
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("read feedback embeddings: %w", err)
		}
		values := v.Slice()
		if len(values) != len(query) {
			continue
		}
		for i, x := range values {
			moved[i] += weights[id] * float64(x)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read feedback embeddings: %w", err)
	}

	out := make([]float32, len(query))
	for i, x := range moved {
		out[i] = float32(x)
	}
	normalize(out)
	return out, nil
}
