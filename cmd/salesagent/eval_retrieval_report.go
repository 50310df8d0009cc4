package main

import (
	"fmt"
	"io"

	"github.com/salesagent/salesagent/internal/bench"
)

// retrievalReport is the report of salesagent eval retrieval.
type retrievalReport struct {
	Products int `json:"products"`
	Chunks   int `json:"chunks"`
	// LoadSeconds covers storing and indexing the products with the local
	// embedder, as salesagent ingest does.
	LoadSeconds       float64 `json:"load_seconds"`
	ProductsPerSecond float64 `json:"products_per_second"`
	// SynonymRules is the number of rules loaded with --synonyms.
	SynonymRules int         `json:"synonym_rules"`
	HNSW         hnswReport  `json:"hnsw"`
	Sets         []setReport `json:"sets"`
}

// hnswReport gives the HNSW index's settings and whether vector search
// walks it at this catalog size.
type hnswReport struct {
	M              int `json:"m"`
	EfConstruction int `json:"ef_construction"`
	// EfSearchTimed and EfSearchDepth are the hnsw.ef_search of the timed
	// page-sized searches and of the ranking to --depth.
	EfSearchTimed int `json:"ef_search_timed"`
	EfSearchDepth int `json:"ef_search_depth"`
	// UsesHNSW is false when the shop's candidates are few enough that
	// vector search ranks them all exactly instead.
	UsesHNSW bool  `json:"uses_hnsw"`
	Vectors  int64 `json:"vectors_in_table"`
}

// setReport is the scores of one judged file.
type setReport struct {
	Name    string         `json:"name"`
	Layout  string         `json:"layout"`
	Queries int            `json:"queries"`
	Rows    int            `json:"rows"`
	Methods []methodReport `json:"methods"`
	// HybridOverBM25 is hybrid nDCG@10 divided by BM25's.
	HybridOverBM25 float64 `json:"hybrid_over_bm25"`
}

// methodReport is one search method's scores on a judged file.
type methodReport struct {
	Method string `json:"method"`
	// NDCG is the mean nDCG@10 over the queries with a relevant judged
	// product, ranked on a list condensed to judged products.
	NDCG        float64 `json:"ndcg_at_10"`
	NDCGQueries int     `json:"ndcg_queries"`
	// Recall is the mean recall@10 of products graded relevantGrade or
	// more, on the uncondensed ranking.
	Recall        float64 `json:"recall_at_10"`
	RecallQueries int     `json:"recall_queries"`
	// Latency times a search for 10 results, and LatencyAtDepth the
	// ranking to --depth that the scores come from.
	Latency        bench.Summary `json:"latency"`
	LatencyAtDepth bench.Summary `json:"latency_at_depth"`
}

func (r retrievalReport) write(w io.Writer) {
	fmt.Fprintf(w, "salesagent eval retrieval: %d products (%d chunks) loaded in %.1f s, %.0f products/s with the local embedder\n",
		r.Products, r.Chunks, r.LoadSeconds, r.ProductsPerSecond)
	scan := "exact (few candidates)"
	if r.HNSW.UsesHNSW {
		scan = "HNSW index"
	}
	fmt.Fprintf(w, "HNSW m=%d ef_construction=%d ef_search=%d (10 results) / %d (ranking depth); vector search at this size: %s; %d vectors in the table\n",
		r.HNSW.M, r.HNSW.EfConstruction, r.HNSW.EfSearchTimed, r.HNSW.EfSearchDepth, scan, r.HNSW.Vectors)
	if r.SynonymRules > 0 {
		fmt.Fprintf(w, "full-text search with %d synonym rules\n", r.SynonymRules)
	}
	for _, set := range r.Sets {
		fmt.Fprintf(w, "\n%s (%s, %d queries, %d judged rows)\n", set.Name, set.Layout, set.Queries, set.Rows)
		fmt.Fprintf(w, "  %-10s %9s %10s %12s %12s %15s\n", "method", "nDCG@10", "recall@10", "p50 (10)", "p99 (10)", "p99 (depth)")
		for _, m := range set.Methods {
			fmt.Fprintf(w, "  %-10s %9.4f %10.4f %9.2f ms %9.2f ms %12.2f ms\n", m.Method, m.NDCG, m.Recall,
				bench.Milliseconds(m.Latency.P50), bench.Milliseconds(m.Latency.P99), bench.Milliseconds(m.LatencyAtDepth.P99))
		}
		fmt.Fprintf(w, "  hybrid nDCG@10 / BM25 nDCG@10 = %.3f\n", set.HybridOverBM25)
	}
}
