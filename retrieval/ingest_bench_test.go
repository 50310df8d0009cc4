package retrieval_test

import (
	"context"
	"testing"
	"time"

	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

// benchIngestProducts is the catalog size of BenchmarkIngestProducts: big
// enough that per-batch costs even out, small enough for a few iterations.
const benchIngestProducts = 1000

// BenchmarkIngestProducts stores and indexes a synthetic catalog with the
// local embedder into a new shop per iteration, 200 products per batch as
// salesagent ingest does, and reports products per second.
func BenchmarkIngestProducts(b *testing.B) {
	db := pgtest.DB(b)
	ctx := context.Background()
	indexer := retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), nil)
	catalog := benchCatalog(benchIngestProducts)

	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		shop := newShop(b, db)
		products := append(catalog[:0:0], catalog...)
		b.StartTimer()

		start := time.Now()
		for first := 0; first < len(products); first += 200 {
			result, err := db.UpsertProducts(ctx, shop.ID, products[first:min(first+200, len(products))])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := indexer.IndexProducts(ctx, shop.ID, result.ChangedIDs); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(b.N*benchIngestProducts)/elapsed.Seconds(), "products/s")
}
