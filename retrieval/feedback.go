package retrieval

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
// or products a shop names in its own words. vectors maps chunk ids to the
// hits' embeddings, as rankText read them. Hits without one, or with one
// of another length, are left out, and with none, query is returned.
func feedbackVector(query []float32, hits []Hit, vectors map[int64][]float32) []float32 {
	hits = hits[:min(feedbackDocs, len(hits))]
	if len(hits) == 0 || hits[0].Score <= 0 || len(vectors) == 0 {
		return query
	}
	moved := make([]float64, len(query))
	for i, x := range query {
		moved[i] = float64(x)
	}
	for _, h := range hits {
		values, ok := vectors[h.ChunkID]
		if !ok || len(values) != len(query) {
			continue
		}
		weight := h.Score / hits[0].Score / float64(len(hits))
		for i, x := range values {
			moved[i] += weight * float64(x)
		}
	}

	out := make([]float32, len(query))
	for i, x := range moved {
		out[i] = float32(x)
	}
	normalize(out)
	return out
}
