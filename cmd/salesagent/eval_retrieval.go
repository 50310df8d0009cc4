package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/bench"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
	"github.com/salesagent/salesagent/retrieval/ingest"
)

// Cut-offs of salesagent eval retrieval.
const (
	// retrievalK is the k of nDCG@k and recall@k, and the limit of the
	// timed searches: a page of results.
	retrievalK = 10
	// relevantGrade is the least grade that recall counts as relevant: a
	// CrowdFlower median of 2 or more, or a Home Depot mean of 2 or more,
	// on scales that start at 1 for irrelevant.
	relevantGrade = 1
)

// Search methods that eval retrieval compares, in report order.
var retrievalMethods = []string{"hybrid", "full-text", "vector", "bm25"}

// evalRetrievalConfig holds the flags of salesagent eval retrieval.
type evalRetrievalConfig struct {
	Config
	Files      []string
	Every      int
	Offset     int
	Depth      int
	JSON       bool
	CPUProfile string
	// Synonyms is the path of a synonyms file loaded into the throwaway
	// shop, or "" for none.
	Synonyms string
}

func parseEvalRetrievalFlags(args []string, stderr io.Writer) (evalRetrievalConfig, error) {
	var cfg evalRetrievalConfig
	fs := flag.NewFlagSet("eval retrieval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addCommonFlags(fs, &cfg.Config)
	setBenchLogLevel(fs)
	fs.IntVar(&cfg.Every, "every", 1, "evaluate every n-th query of each file; every product is loaded all the same")
	fs.IntVar(&cfg.Offset, "offset", 0, "with --every N, evaluate the queries at positions offset, offset+N, ...; --every 2 --offset 1 scores the half that --offset 0 leaves out")
	fs.IntVar(&cfg.Depth, "depth", 100, "results ranked per query for nDCG, whose list keeps the judged products among them")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.Synonyms, "synonyms", "", "load this synonyms file (Solr format, as salesagent shop --synonyms takes) into the throwaway shop, to measure its effect")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the search phase to this file, for go tool pprof")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: salesagent eval retrieval [flags] FILE...

Loads the products of judged product-search files (CrowdFlower layout: query,
product_title, product_description, median_relevance; Home Depot layout:
product_uid, product_title, search_term, relevance) into a throwaway shop,
and prints nDCG@10, recall@10 and latency of hybrid, full-text, vector and
BM25 search for each file. The shop is deleted at the end.`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	cfg.Files = fs.Args()
	switch {
	case len(cfg.Files) == 0:
		return cfg, usageError{"missing FILE: give one or more judged CSV files, such as ../shared/data/crowdflower-search-relevance/crowdflower_train_subset.csv"}
	case cfg.Every < 1:
		return cfg, usageError{fmt.Sprintf("invalid --every %d: use 1 to evaluate every query, or more to sample", cfg.Every)}
	case cfg.Offset < 0 || cfg.Offset >= cfg.Every:
		return cfg, usageError{fmt.Sprintf("invalid --offset %d: use 0 to %d, below --every", cfg.Offset, cfg.Every-1)}
	case cfg.Depth < retrievalK || cfg.Depth > 100:
		return cfg, usageError{fmt.Sprintf("invalid --depth %d: use %d to 100", cfg.Depth, retrievalK)}
	}
	return cfg, nil
}

// runEvalRetrieval scores every search method on the judged files.
func runEvalRetrieval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseEvalRetrievalFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Config, stderr)
	if err != nil {
		return err
	}
	corpus, sets, err := readJudgedFiles(cfg.Files, retrieval.ReadOptions{Every: cfg.Every, Offset: cfg.Offset, AllProducts: true})
	if err != nil {
		return err
	}
	var synonyms []salesagent.SynonymRule
	if cfg.Synonyms != "" {
		if synonyms, err = readSynonyms(cfg.Synonyms); err != nil {
			return err
		}
	}

	db, err := openMigrated(ctx, cfg.Config, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	shop, removeShop, err := newBenchShop(ctx, db, "", logger)
	if err != nil {
		return err
	}
	defer removeShop()

	report := retrievalReport{Products: len(corpus.Products), SynonymRules: len(synonyms)}
	indexOf, err := loadJudgedProducts(ctx, db, shop, corpus, &report, stderr)
	if err != nil {
		return err
	}
	if cfg.Synonyms != "" {
		if err := db.ReplaceSynonyms(ctx, shop.ID, synonyms); err != nil {
			return fmt.Errorf("load %s: %w", cfg.Synonyms, err)
		}
	}
	embedder := retrieval.NewLocalEmbedder()
	hnsw, err := retrieval.ReadHNSWSettings(ctx, db, embedder)
	if err != nil {
		return err
	}
	report.HNSW = hnswReport{
		M: hnsw.M, EfConstruction: hnsw.EfConstruction,
		EfSearchTimed: retrieval.EfSearch(retrievalK), EfSearchDepth: retrieval.EfSearch(cfg.Depth),
		UsesHNSW: retrieval.UsesHNSW(report.Chunks, hnsw.Vectors), Vectors: int64(hnsw.Vectors),
	}

	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		return err
	}
	scorer := &judgedScorer{
		searcher: retrieval.NewSearcher(db, embedder), shop: shop, indexOf: indexOf,
		bm25: retrieval.NewBM25(productTexts(corpus.Products)), depth: cfg.Depth,
	}
	// The first search of a shop reads the shop's lexicon (about 40 ms
	// for 18,000 products). One search before the timed ones keeps that
	// out of the figures, which describe a shop in use.
	if _, err := scorer.searcher.Search(ctx, shop, retrieval.Query{Text: sets[0].Queries[0]}); err != nil {
		_ = stopProfile()
		return fmt.Errorf("warm-up search: %w", err)
	}
	for _, set := range sets {
		result, err := scorer.score(ctx, set, stderr)
		if err != nil {
			_ = stopProfile()
			return err
		}
		report.Sets = append(report.Sets, result)
	}
	if err := stopProfile(); err != nil {
		return err
	}

	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	report.write(stdout)
	return nil
}

// readJudgedFiles reads every file into one corpus.
func readJudgedFiles(paths []string, opts retrieval.ReadOptions) (*retrieval.JudgedCorpus, []*retrieval.JudgedSet, error) {
	corpus := &retrieval.JudgedCorpus{}
	var sets []*retrieval.JudgedSet
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("open judged file: %w", err)
		}
		set, err := corpus.ReadJudged(path, f, opts)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		sets = append(sets, set)
	}
	return corpus, sets, nil
}

// loadJudgedProducts loads the corpus into the shop as salesagent ingest
// loads a catalog, records the load's throughput in report, and returns
// the corpus index of each product id.
func loadJudgedProducts(ctx context.Context, db *postgres.DB, shop *salesagent.Shop, corpus *retrieval.JudgedCorpus, report *retrievalReport, stderr io.Writer) (map[int64]int, error) {
	indexer := retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), nil)
	products := corpus.Products
	start := time.Now()
	loaded, err := load(ctx, db, indexer, shop, &ingest.Batch{Products: products}, stderr)
	if err != nil {
		return nil, fmt.Errorf("load judged products: %w", err)
	}
	elapsed := time.Since(start)
	if len(loaded.Rejected) > 0 {
		return nil, fmt.Errorf("load judged products: %d rejected, the first: %w", len(loaded.Rejected), loaded.Rejected[0])
	}
	report.Chunks = loaded.Index.ChunksWritten
	report.LoadSeconds = elapsed.Seconds()
	report.ProductsPerSecond = float64(len(products)) / elapsed.Seconds()

	// Plan with fresh statistics, as autovacuum soon gives a real shop.
	if _, err := db.Pool.Exec(ctx, "ANALYZE chunks, embeddings, products, variants"); err != nil {
		return nil, fmt.Errorf("analyze the loaded tables: %w", err)
	}

	// load fills in the products' ids as it stores them.
	indexOf := make(map[int64]int, len(products))
	for i, p := range products {
		if p.ID == 0 {
			return nil, fmt.Errorf("load judged products: product %s got no id", p.ExternalID)
		}
		indexOf[p.ID] = i
	}
	return indexOf, nil
}

func productTexts(products []salesagent.Product) []string {
	texts := make([]string, len(products))
	for i, p := range products {
		texts[i] = p.Title + "\n" + p.Description
	}
	return texts
}

// judgedScorer runs every method for each query of a set.
type judgedScorer struct {
	searcher *retrieval.Searcher
	shop     *salesagent.Shop
	indexOf  map[int64]int
	bm25     *retrieval.BM25
	depth    int
}

type searchFunc func(context.Context, *salesagent.Shop, retrieval.Query) ([]retrieval.Hit, error)

// score ranks every query of set by each method, one query at a time with
// the methods side by side, so that load on the machine weighs on all of
// them alike.
func (s *judgedScorer) score(ctx context.Context, set *retrieval.JudgedSet, stderr io.Writer) (setReport, error) {
	database := map[string]searchFunc{"hybrid": s.searcher.Search, "full-text": s.searcher.SearchFullText, "vector": s.searcher.SearchVector}
	sums := map[string]*methodSums{}
	for _, method := range retrievalMethods {
		sums[method] = &methodSums{}
	}
	progress := newProgress(stderr, "scored queries of "+set.Name)

	for i, query := range set.Queries {
		grades := set.Grades[query]
		for _, method := range retrievalMethods {
			var ranked []int
			var depthTime, pageTime time.Duration
			var err error
			if search, ok := database[method]; ok {
				ranked, depthTime, pageTime, err = s.rankDatabase(ctx, search, query)
			} else {
				ranked, depthTime, pageTime = s.rankBM25(query)
			}
			if err != nil {
				return setReport{}, fmt.Errorf("%s search for %q: %w", method, query, err)
			}
			sums[method].add(ranked, grades, depthTime, pageTime)
		}
		progress.update(i+1, len(set.Queries))
	}
	progress.done()

	result := setReport{Name: set.Name, Layout: set.Layout, Queries: len(set.Queries), Rows: set.Rows}
	for _, method := range retrievalMethods {
		result.Methods = append(result.Methods, sums[method].report(method))
	}
	if bm25 := result.Methods[3].NDCG; bm25 > 0 {
		result.HybridOverBM25 = result.Methods[0].NDCG / bm25
	}
	return result, nil
}

// rankDatabase ranks the query's products to the set depth, and times a
// page-sized search of the same query on its own.
func (s *judgedScorer) rankDatabase(ctx context.Context, search searchFunc, query string) (ranked []int, depthTime, pageTime time.Duration, err error) {
	q := retrieval.Query{Text: query, Kinds: []string{salesagent.KindProduct}, Limit: s.depth}
	start := time.Now()
	hits, err := search(ctx, s.shop, q)
	depthTime = time.Since(start)
	if err != nil {
		return nil, 0, 0, err
	}
	q.Limit = retrievalK
	start = time.Now()
	if _, err := search(ctx, s.shop, q); err != nil {
		return nil, 0, 0, err
	}
	pageTime = time.Since(start)
	return retrieval.RankedProducts(hits, s.indexOf), depthTime, pageTime, nil
}

func (s *judgedScorer) rankBM25(query string) (ranked []int, depthTime, pageTime time.Duration) {
	start := time.Now()
	hits := s.bm25.Search(query, s.depth)
	depthTime = time.Since(start)
	start = time.Now()
	s.bm25.Search(query, retrievalK)
	pageTime = time.Since(start)
	for _, h := range hits {
		ranked = append(ranked, h.Index)
	}
	return ranked, depthTime, pageTime
}

// methodSums accumulates one method's scores over a set's queries.
type methodSums struct {
	ndcg, recall         float64
	ndcgN, recallN       int
	depthTimes, pageTime []time.Duration
}

func (m *methodSums) add(ranked []int, grades map[int]float64, depthTime, pageTime time.Duration) {
	if score, ok := retrieval.NDCG(retrievalK, ranked, grades); ok {
		m.ndcg += score
		m.ndcgN++
	}
	if recall, ok := retrieval.Recall(retrievalK, ranked, grades, relevantGrade); ok {
		m.recall += recall
		m.recallN++
	}
	m.depthTimes = append(m.depthTimes, depthTime)
	m.pageTime = append(m.pageTime, pageTime)
}

func (m *methodSums) report(name string) methodReport {
	r := methodReport{Method: name, NDCGQueries: m.ndcgN, RecallQueries: m.recallN,
		Latency: bench.Summarize(m.pageTime), LatencyAtDepth: bench.Summarize(m.depthTimes)}
	if m.ndcgN > 0 {
		r.NDCG = m.ndcg / float64(m.ndcgN)
	}
	if m.recallN > 0 {
		r.Recall = m.recall / float64(m.recallN)
	}
	return r
}
