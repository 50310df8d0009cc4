package retrieval_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/salesagent/salesagent/internal/shareddata"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

// The defaults keep each quality test to a few seconds; 1 evaluates every
// query.
var (
	crowdflowerEvery = flag.Int("crowdflower-every", 4, "evaluate every n-th CrowdFlower query")
	homedepotEvery   = flag.Int("homedepot-every", 16, "evaluate every n-th Home Depot search term")
)

// judgedSet is a relevance collection: the products, and for each query
// the grade of each judged product.
type judgedSet struct {
	products []salesagent.Product
	*retrieval.JudgedSet
}

// loadJudged reads the judgements of every n-th query (in order of first
// appearance) of a file in the shared data folder, with the products of
// those queries only, so each test indexes a small shop.
func loadJudged(t *testing.T, every int, folder, file string) *judgedSet {
	t.Helper()
	f, err := os.Open(filepath.Join(shareddata.Path(t, folder), file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var corpus retrieval.JudgedCorpus
	set, err := corpus.ReadJudged(file, f, retrieval.ReadOptions{Every: every})
	if err != nil {
		t.Fatal(err)
	}
	return &judgedSet{products: corpus.Products, JudgedSet: set}
}

// loadCrowdFlower reads the CrowdFlower search relevance pairs, graded 0
// to 3 from the raters' median of 1 to 4. Products with the same title and
// description are one product.
func loadCrowdFlower(t *testing.T, every int) *judgedSet {
	set := loadJudged(t, every, "crowdflower-search-relevance", "crowdflower_train_subset.csv")
	if set.Layout != retrieval.LayoutCrowdFlower {
		t.Fatalf("crowdflower_train_subset.csv read as layout %q", set.Layout)
	}
	return set
}

// loadHomeDepot reads the Home Depot search relevance pairs, graded 0 to 2
// from the raters' mean of 1 to 3. Products are titles only.
func loadHomeDepot(t *testing.T, every int) *judgedSet {
	set := loadJudged(t, every, "homedepot-search-relevance", "homedepot_train_subset.csv")
	if set.Layout != retrieval.LayoutHomeDepot {
		t.Fatalf("homedepot_train_subset.csv read as layout %q", set.Layout)
	}
	return set
}

func TestSearchQualityCrowdFlower(t *testing.T) {
	means := evaluate(t, "CrowdFlower", loadCrowdFlower(t, *crowdflowerEvery))
	// Measured with the defaults: hybrid 0.828, full-text 0.811,
	// vector 0.794, BM25 0.779.
	if means["hybrid"] < means["full-text"] || means["hybrid"] < means["bm25"] {
		t.Errorf("hybrid nDCG@10 %.4f is below full-text %.4f or BM25 %.4f", means["hybrid"], means["full-text"], means["bm25"])
	}
}

func TestSearchQualityHomeDepot(t *testing.T) {
	means := evaluate(t, "Home Depot", loadHomeDepot(t, *homedepotEvery))
	// Measured with the defaults: hybrid 0.875, full-text 0.849,
	// vector 0.858, BM25 0.835.
	if means["hybrid"] < means["full-text"] || means["hybrid"] < means["bm25"] {
		t.Errorf("hybrid nDCG@10 %.4f is below full-text %.4f or BM25 %.4f", means["hybrid"], means["full-text"], means["bm25"])
	}
}

// evaluate loads the judged products into a shop of their own, ranks them
// for each query by hybrid, full-text and vector search and by BM25 in
// memory, logs mean nDCG@10 and latency, and returns the means by method.
func evaluate(t *testing.T, name string, set *judgedSet) map[string]float64 {
	t.Helper()
	f := &fixture{db: pgtest.DB(t)}
	ctx := context.Background()
	f.shop = newShop(t, f.db)
	f.indexer = retrieval.NewIndexer(f.db, retrieval.NewLocalEmbedder(), nil)
	f.searcher = retrieval.NewSearcher(f.db)

	start := time.Now()
	if _, err := f.db.UpsertProducts(ctx, f.shop.ID, set.products); err != nil {
		t.Fatal(err)
	}
	stats, err := f.indexer.IndexShop(ctx, f.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d products (%d chunks) for %d queries in %v", len(set.products), stats.ChunksWritten, len(set.Queries), time.Since(start).Round(time.Millisecond))
	indexOf := map[int64]int{}
	for i, p := range set.products {
		indexOf[p.ID] = i
	}

	texts := make([]string, len(set.products))
	for i, p := range set.products {
		texts[i] = p.Title + "\n" + p.Description
	}
	bm25 := retrieval.NewBM25(texts)

	const depth = 100
	methods := []struct {
		name   string
		search func(context.Context, *salesagent.Shop, retrieval.Query) ([]retrieval.Hit, error)
	}{
		{"hybrid", f.searcher.Search},
		{"full-text", f.searcher.SearchFullText},
		{"vector", f.searcher.SearchVector},
	}
	sums := map[string]float64{}
	elapsed := map[string]time.Duration{}
	evaluated := 0
	for _, query := range set.Queries {
		grades := set.Grades[query]
		results := map[string][]int{}
		for _, m := range methods {
			began := time.Now()
			hits, err := m.search(ctx, f.shop, retrieval.Query{Text: query, Kinds: []string{salesagent.KindProduct}, Limit: depth})
			elapsed[m.name] += time.Since(began)
			if err != nil {
				t.Fatalf("%s search %q: %v", m.name, query, err)
			}
			results[m.name] = retrieval.RankedProducts(hits, indexOf)
		}
		for _, h := range bm25.Search(query, depth) {
			results["bm25"] = append(results["bm25"], h.Index)
		}

		counted := false
		for method, ranked := range results {
			score, ok := retrieval.NDCG(10, ranked, grades)
			if !ok {
				continue
			}
			if score < 0 || score > 1+1e-9 {
				t.Errorf("%s nDCG@10 of %q = %v, want in [0, 1]", method, query, score)
			}
			sums[method] += score
			counted = true
		}
		if counted {
			evaluated++
		}
	}
	if evaluated == 0 {
		t.Fatal("no query had a relevant judged product")
	}

	mean := map[string]float64{}
	for method, sum := range sums {
		mean[method] = sum / float64(evaluated)
	}
	t.Logf("%s nDCG@10 over %d queries, %d products: hybrid %.4f, full-text %.4f, vector %.4f, BM25 %.4f",
		name, evaluated, len(set.products), mean["hybrid"], mean["full-text"], mean["vector"], mean["bm25"])
	for _, m := range methods {
		t.Logf("%s search latency: %v per query", m.name, (elapsed[m.name] / time.Duration(len(set.Queries))).Round(time.Microsecond))
	}
	for method, v := range mean {
		if v <= 0 || v > 1 {
			t.Errorf("mean %s nDCG@10 = %v, want in (0, 1]", method, v)
		}
	}
	return mean
}
