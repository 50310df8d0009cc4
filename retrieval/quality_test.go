package retrieval_test

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// judgedSet is a relevance collection: products, and for each query the
// grade of each judged product.
type judgedSet struct {
	products []salesagent.Product
	// judgements maps query to product index to grade, from 0 for
	// irrelevant up.
	judgements map[string]map[int]float64
	queries    []string
}

// judge records a grade, keeping the higher one when a product is judged
// twice for a query.
func (s *judgedSet) judge(query string, product int, grade float64) {
	if s.judgements[query] == nil {
		s.judgements[query] = map[int]float64{}
		s.queries = append(s.queries, query)
	}
	if old, ok := s.judgements[query][product]; !ok || grade > old {
		s.judgements[query][product] = grade
	}
}

// loadCrowdFlower reads the CrowdFlower search relevance pairs of every
// n-th query (in file order), graded 0 to 3 from the raters' median of 1 to
// 4. Products with the same title and description are one product.
func loadCrowdFlower(t *testing.T, every int) *judgedSet {
	t.Helper()
	dir := shareddata.Path(t, "crowdflower-search-relevance")
	file, err := os.Open(filepath.Join(dir, "crowdflower_train_subset.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	r := csv.NewReader(file)
	header, err := r.Read()
	if err != nil {
		t.Fatalf("read CrowdFlower header: %v", err)
	}
	if len(header) < 5 || header[1] != "query" || header[2] != "product_title" || header[4] != "median_relevance" {
		t.Fatalf("unexpected CrowdFlower columns %v", header)
	}

	set := &judgedSet{judgements: map[string]map[int]float64{}}
	byText := map[[2]string]int{}
	queryIndex := map[string]int{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read CrowdFlower row %d: %v", line, err)
		}
		query, title, description := rec[1], rec[2], rec[3]
		if _, ok := queryIndex[query]; !ok {
			queryIndex[query] = len(queryIndex)
		}
		if queryIndex[query]%every != 0 {
			continue
		}
		grade, err := strconv.Atoi(rec[4])
		if err != nil || grade < 1 || grade > 4 {
			t.Fatalf("CrowdFlower row %d: invalid median_relevance %q", line, rec[4])
		}

		key := [2]string{title, description}
		index, ok := byText[key]
		if !ok {
			index = len(set.products)
			byText[key] = index
			id := fmt.Sprintf("cf-%d", index)
			set.products = append(set.products, salesagent.Product{ExternalID: id, Handle: id, Title: title, Description: description})
		}
		set.judge(query, index, float64(grade-1))
	}
	return set
}

// ndcgAt returns nDCG@k of ranked (product indexes, best first) against
// the judged grades, with gain 2^grade - 1. Products without a grade are
// left out of the ranking first (a condensed list), so only the order of
// judged products counts. ok is false when no judged product is relevant.
func ndcgAt(k int, ranked []int, grades map[int]float64) (score float64, ok bool) {
	dcg, rank := 0.0, 0
	for _, index := range ranked {
		grade, judged := grades[index]
		if !judged {
			continue
		}
		if rank == k {
			break
		}
		dcg += (math.Pow(2, grade) - 1) / math.Log2(float64(rank+2))
		rank++
	}

	ideal := make([]float64, 0, len(grades))
	for _, g := range grades {
		ideal = append(ideal, g)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ideal)))
	idcg := 0.0
	for i := 0; i < k && i < len(ideal); i++ {
		idcg += (math.Pow(2, ideal[i]) - 1) / math.Log2(float64(i+2))
	}
	if idcg == 0 {
		return 0, false
	}
	return dcg / idcg, true
}

// rankedProducts maps hits to product indexes, keeping each product's
// best-ranked chunk.
func rankedProducts(hits []retrieval.Hit, indexOf map[int64]int) []int {
	seen := map[int]bool{}
	var out []int
	for _, h := range hits {
		index, ok := indexOf[h.Source.ProductID]
		if !ok || seen[index] {
			continue
		}
		seen[index] = true
		out = append(out, index)
	}
	return out
}

// loadHomeDepot reads the Home Depot search relevance pairs of every n-th
// search term (in order of first appearance), graded 0 to 2 from the
// raters' mean of 1 to 3. Products are titles only.
func loadHomeDepot(t *testing.T, every int) *judgedSet {
	t.Helper()
	dir := shareddata.Path(t, "homedepot-search-relevance")
	file, err := os.Open(filepath.Join(dir, "homedepot_train_subset.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()

	r := csv.NewReader(file)
	header, err := r.Read()
	if err != nil {
		t.Fatalf("read Home Depot header: %v", err)
	}
	if len(header) < 5 || header[1] != "product_uid" || header[3] != "search_term" || header[4] != "relevance" {
		t.Fatalf("unexpected Home Depot columns %v", header)
	}

	set := &judgedSet{judgements: map[string]map[int]float64{}}
	byUID := map[string]int{}
	queryIndex := map[string]int{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read Home Depot row %d: %v", line, err)
		}
		uid, title, query := rec[1], rec[2], rec[3]
		if _, ok := queryIndex[query]; !ok {
			queryIndex[query] = len(queryIndex)
		}
		if queryIndex[query]%every != 0 {
			continue
		}
		relevance, err := strconv.ParseFloat(rec[4], 64)
		if err != nil || relevance < 1 || relevance > 3 {
			t.Fatalf("Home Depot row %d: invalid relevance %q", line, rec[4])
		}

		index, ok := byUID[uid]
		if !ok {
			index = len(set.products)
			byUID[uid] = index
			id := "hd-" + uid
			set.products = append(set.products, salesagent.Product{ExternalID: id, Handle: id, Title: title})
		}
		set.judge(query, index, relevance-1)
	}
	return set
}

func TestSearchQualityCrowdFlower(t *testing.T) {
	means := evaluate(t, "CrowdFlower", loadCrowdFlower(t, *crowdflowerEvery))
	// Measured with the defaults: hybrid 0.819, full-text 0.800,
	// vector 0.794, BM25 0.779.
	if means["hybrid"] < means["full-text"] || means["hybrid"] < means["bm25"] {
		t.Errorf("hybrid nDCG@10 %.4f is below full-text %.4f or BM25 %.4f", means["hybrid"], means["full-text"], means["bm25"])
	}
}

func TestSearchQualityHomeDepot(t *testing.T) {
	means := evaluate(t, "Home Depot", loadHomeDepot(t, *homedepotEvery))
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
	t.Logf("loaded %d products (%d chunks) for %d queries in %v", len(set.products), stats.ChunksWritten, len(set.queries), time.Since(start).Round(time.Millisecond))
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
	for _, query := range set.queries {
		grades := set.judgements[query]
		results := map[string][]int{}
		for _, m := range methods {
			began := time.Now()
			hits, err := m.search(ctx, f.shop, retrieval.Query{Text: query, Kinds: []string{salesagent.KindProduct}, Limit: depth})
			elapsed[m.name] += time.Since(began)
			if err != nil {
				t.Fatalf("%s search %q: %v", m.name, query, err)
			}
			results[m.name] = rankedProducts(hits, indexOf)
		}
		for _, h := range bm25.Search(query, depth) {
			results["bm25"] = append(results["bm25"], h.Index)
		}

		counted := false
		for method, ranked := range results {
			score, ok := ndcgAt(10, ranked, grades)
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
		t.Logf("%s search latency: %v per query", m.name, (elapsed[m.name] / time.Duration(len(set.queries))).Round(time.Microsecond))
	}
	for method, v := range mean {
		if v <= 0 || v > 1 {
			t.Errorf("mean %s nDCG@10 = %v, want in (0, 1]", method, v)
		}
	}
	return mean
}
