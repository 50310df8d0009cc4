package retrieval_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

// Word lists for the synthetic benchmark catalog.
var (
	benchAdjectives = []string{"lightweight", "waterproof", "insulated", "breathable", "stretch", "packable", "organic", "recycled", "thermal", "quick-dry", "merino", "classic", "relaxed", "slim", "heavyweight"}
	benchTypes      = []string{"Jackets", "Shirts", "Trousers", "Shoes", "Socks", "Hats", "Gloves", "Backpacks", "Dresses", "Shorts"}
	benchNouns      = map[string][]string{
		"Jackets":   {"rain jacket", "down parka", "fleece jacket", "softshell", "windbreaker"},
		"Shirts":    {"t-shirt", "flannel shirt", "polo shirt", "linen shirt", "base layer top"},
		"Trousers":  {"hiking trousers", "chinos", "joggers", "cargo pants", "jeans"},
		"Shoes":     {"trail runners", "hiking boots", "sneakers", "sandals", "approach shoes"},
		"Socks":     {"hiking socks", "running socks", "ski socks", "liner socks", "crew socks"},
		"Hats":      {"beanie", "sun hat", "cap", "bucket hat", "headband"},
		"Gloves":    {"ski gloves", "liner gloves", "mittens", "cycling gloves", "work gloves"},
		"Backpacks": {"daypack", "trekking backpack", "hydration pack", "travel pack", "climbing pack"},
		"Dresses":   {"wrap dress", "shirt dress", "midi dress", "jersey dress", "sundress"},
		"Shorts":    {"running shorts", "board shorts", "hiking shorts", "cargo shorts", "bike shorts"},
	}
	benchMaterials = []string{"nylon", "polyester", "cotton", "wool", "hemp", "leather", "down", "fleece"}
	benchColours   = []string{"Black", "Navy", "Olive", "Red", "Grey", "Sand"}
	benchSizes     = []string{"XS", "S", "M", "L", "XL"}
	benchQueries   = []string{
		"waterproof rain jacket", "warm socks for skiing", "lightweight hiking trousers", "organic cotton t-shirt",
		"what size are the gloves", "merino base layer", "cheap sandals under 40", "recycled backpack for travel",
		"how long does shipping take", "breathable running shorts",
	}
)

// benchCatalog returns n products with random words, options and prices
// from a fixed seed, so every run indexes the same catalog.
func benchCatalog(n int) []salesagent.Product {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	products := make([]salesagent.Product, n)
	for i := range products {
		productType := pick(benchTypes)
		noun := pick(benchNouns[productType])
		adjective, material := pick(benchAdjectives), pick(benchMaterials)
		title := fmt.Sprintf("%s %s %s %d", strings.ToUpper(adjective[:1])+adjective[1:], material, noun, i)
		description := fmt.Sprintf("A %s %s made of %s. Good for %s days and %s evenings, with %s details and a %s fit.",
			adjective, noun, material, pick(benchAdjectives), pick(benchAdjectives), pick(benchMaterials), pick(benchAdjectives))
		p := salesagent.Product{
			ExternalID: fmt.Sprintf("bench-%d", i), Handle: fmt.Sprintf("bench-%d", i), Title: title,
			ProductType: productType, Vendor: pick([]string{"Northwind", "Fleetfoot", "Summit"}),
			Tags: []string{adjective, material}, Description: description,
			Attributes: map[string]string{"Material": material},
		}
		price := fmt.Sprintf("%d.00", 10+rng.IntN(240))
		colour := pick(benchColours)
		for j, size := range benchSizes[:1+rng.IntN(len(benchSizes))] {
			sku := fmt.Sprintf("B%d-%d", i, j)
			p.Variants = append(p.Variants, variant(sku, size, colour, price, intPtr(rng.IntN(4))))
		}
		products[i] = p
	}
	return products
}

func BenchmarkSearchHybrid(b *testing.B) {
	f := &fixture{db: pgtest.DB(b)}
	ctx := context.Background()
	f.shop = newShop(b, f.db)
	f.indexer = retrieval.NewIndexer(f.db, retrieval.NewLocalEmbedder(), nil)
	f.searcher = retrieval.NewSearcher(f.db)
	if _, err := f.db.UpsertProducts(ctx, f.shop.ID, benchCatalog(4000)); err != nil {
		b.Fatal(err)
	}
	if _, err := f.db.UpsertDocuments(ctx, f.shop.ID, documents()); err != nil {
		b.Fatal(err)
	}
	stats, err := f.indexer.IndexShop(ctx, f.shop.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("indexed %d chunks", stats.ChunksWritten)
	// Plan with statistics, as autovacuum would soon give a real shop.
	if _, err := f.db.Pool.Exec(ctx, "ANALYZE chunks, embeddings, variants, products, documents"); err != nil {
		b.Fatal(err)
	}

	cases := []struct {
		name   string
		search func(context.Context, *salesagent.Shop, retrieval.Query) ([]retrieval.Hit, error)
		query  retrieval.Query
	}{
		// 4000 candidate chunks: the vector side walks the HNSW index.
		{"hybrid-hnsw", f.searcher.Search, retrieval.Query{}},
		// One product type, about 400 candidates: exact distances.
		{"hybrid-exact", f.searcher.Search, retrieval.Query{ProductType: "Jackets"}},
		{"hybrid-filtered", f.searcher.Search, retrieval.Query{Kinds: []string{salesagent.KindProduct}, MaxPrice: moneyPtr("100"), InStockOnly: true}},
		{"full-text", f.searcher.SearchFullText, retrieval.Query{}},
		{"vector-hnsw", f.searcher.SearchVector, retrieval.Query{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				q := c.query
				q.Text = benchQueries[i%len(benchQueries)]
				i++
				hits, err := c.search(ctx, f.shop, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(hits) == 0 {
					b.Fatalf("no hits for %q", q.Text)
				}
			}
		})
	}
}

// BenchmarkSearchSmallShop searches a shop of 1,000 chunks that shares the
// embeddings table with a neighbour of 20,000, the case where an HNSW scan
// would discard most rows it visits. Setup takes about a minute, most of
// it HNSW inserts.
func BenchmarkSearchSmallShop(b *testing.B) {
	db := pgtest.DB(b)
	ctx := context.Background()
	neighbour, small := newShop(b, db), newShop(b, db)
	embedder := retrieval.NewLocalEmbedder()
	rng := rand.New(rand.NewPCG(3, 4))
	insert := func(shopID int64, n int) {
		for start := 0; start < n; start += 500 {
			batch := &pgx.Batch{}
			for i := start; i < min(start+500, n); i++ {
				productType := benchTypes[rng.IntN(len(benchTypes))]
				nouns := benchNouns[productType]
				text := fmt.Sprintf("%s %s %s %d", benchAdjectives[rng.IntN(len(benchAdjectives))],
					benchMaterials[rng.IntN(len(benchMaterials))], nouns[rng.IntN(len(nouns))], i)
				batch.Queue(`WITH d AS (INSERT INTO documents (shop_id, kind, source, key, title, body)
						VALUES ($1, 'page', 'bench', $2, $3, $3) RETURNING id),
					c AS (INSERT INTO chunks (shop_id, document_id, kind, heading, content, content_hash)
						SELECT $1, d.id, 'page', $3, $3, 'bench' FROM d RETURNING id)
					INSERT INTO embeddings (chunk_id, shop_id, embedder, content_hash, embedding)
					SELECT c.id, $1, $4, 'bench', $5 FROM c`,
					shopID, strconv.Itoa(i), text, embedder.Name(), pgvector.NewVector(embedder.EmbedText(text)))
			}
			if err := db.Pool.SendBatch(ctx, batch).Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	insert(neighbour.ID, 20000)
	insert(small.ID, 1000)
	if _, err := db.Pool.Exec(ctx, "ANALYZE chunks, embeddings, documents"); err != nil {
		b.Fatal(err)
	}
	searcher := retrieval.NewSearcher(db)

	for name, search := range map[string]func(context.Context, *salesagent.Shop, retrieval.Query) ([]retrieval.Hit, error){
		"hybrid": searcher.Search, "vector": searcher.SearchVector,
	} {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				q := retrieval.Query{Text: benchQueries[i%len(benchQueries)], Limit: 8}
				i++
				hits, err := search(ctx, small, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(hits) != 8 {
					b.Fatalf("%d hits for %q, want 8", len(hits), q.Text)
				}
			}
		})
	}
}
