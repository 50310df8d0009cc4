package retrieval

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Search limits.
const (
	defaultLimit = 8
	maxLimit     = 100
	// minCandidates is the least number of hits each method contributes to
	// fusion. More candidates let a passage that one method ranks low but
	// the other ranks high reach the top.
	minCandidates = 50
	// Candidates are the shop's chunks that pass the query's filters. Up
	// to exactAlways of them are always ranked by exact distance. Up to
	// exactMax are ranked exactly when they are under exactShare of all
	// stored vectors, because then an HNSW scan discards most of the rows
	// it visits. Measured once on a 2-core machine, top 50 by the local
	// embedder: beside 40,000 vectors of another shop, 1,000 candidates
	// took 2 ms exact and 10 ms by HNSW, and 3,000 took 7 ms and 10 ms.
	// With the shop alone in the table, 4,000 candidates took 8 ms exact
	// and 2 ms by HNSW. BenchmarkSearchSmallShop covers the first case.
	exactAlways = 500
	exactMax    = 5000
	exactShare  = 0.1
	// rrfK is the k of reciprocal rank fusion: a hit at rank r (from 1)
	// scores 1/(rrfK + r) in each list it appears in. On the CrowdFlower
	// and Home Depot judgements, k from 10 to 100, weighting one list
	// double, and a mix of min-max normalised scores all came within 0.005
	// nDCG@10 of k = 60. Ranks need no calibration between embedders'
	// similarity scales, so RRF stays. With the lexicon-weighted full-text
	// ranking (before vector feedback), k = 30 and weighting the full-text
	// list 1.5 or 2 again came within 0.005 on the even-numbered queries
	// of both sets.
	rrfK = 60
)

// Searcher finds a shop's chunks by hybrid search, in three steps:
//
//  1. PostgreSQL full-text ranking, with each query term weighted by how
//     rare it is in the shop, misspelt words corrected and split compounds
//     joined from the shop's own vocabulary (its lexicon), the shop's
//     synonyms added at half weight, and title matches counted double (see
//     parseTextQuery and rankText);
//  2. nearest neighbours of the query's embedding moved towards the stored
//     embeddings of the best full-text hits (see feedbackVector);
//  3. reciprocal rank fusion of the two lists.
//
// It keeps each shop's lexicon in memory (see lexiconCache).
type Searcher struct {
	db        *postgres.DB
	embedders map[string]Embedder
	lexicons  *lexiconCache
	lexemes   *lexemeCache
}

// validEmbedderName matches the embedder names NewSearcher accepts. The name
// is written into SQL as a literal, so that the planner can match the
// embedder's partial HNSW index, and must not need quoting.
var validEmbedderName = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

// NewSearcher returns a searcher that embeds queries with the embedder a
// shop names. The local embedder is always available; an embedder passed
// with the same name replaces it. It panics on an embedder name with
// characters other than letters, digits and "._:-", a programming error.
func NewSearcher(db *postgres.DB, embedders ...Embedder) *Searcher {
	return &Searcher{db: db, embedders: embedderSet(embedders), lexicons: newLexiconCache(db), lexemes: newLexemeCache()}
}

// Search returns the chunks of the shop that best match q, best first,
// fusing full-text and vector rankings as the Searcher's doc describes. A hit's Score is its fused score:
// higher is better, comparable only within one result list.
func (s *Searcher) Search(ctx context.Context, shop *salesagent.Shop, q Query) ([]Hit, error) {
	return s.search(ctx, shop, q, true, true)
}

// SearchFullText ranks by PostgreSQL full-text search only, a baseline for
// evaluation. Score is the weighted sum of matched query terms that
// rankText describes.
func (s *Searcher) SearchFullText(ctx context.Context, shop *salesagent.Shop, q Query) ([]Hit, error) {
	return s.search(ctx, shop, q, false, true)
}

// SearchVector ranks by similarity to the query's own embedding only,
// without feedback, a baseline for evaluation. Score is the cosine
// similarity.
func (s *Searcher) SearchVector(ctx context.Context, shop *salesagent.Shop, q Query) ([]Hit, error) {
	return s.search(ctx, shop, q, true, false)
}

// Alternative is a word or phrase that full-text search matches in place
// of one of the query's own.
type Alternative struct {
	// For is the query's lexeme or phrase that Text stands for.
	For string
	// Text is a lexeme, or a phrase of lexemes joined by tsquery distance
	// operators such as "door <-> knob".
	Text string
	// Correction is set when Text is a spelling correction of For, a
	// word the shop does not use. Other alternatives are the shop's
	// synonyms and joined forms of two words.
	Correction bool
}

// Alternatives returns what full-text search for text matches besides the
// text's own words: spelling corrections, the shop's synonyms and joined
// forms of two words.
func (s *Searcher) Alternatives(ctx context.Context, shop *salesagent.Shop, text string) ([]Alternative, error) {
	lex, err := s.lexicons.get(ctx, shop.ID)
	if err != nil {
		return nil, fmt.Errorf("search shop %d: %w", shop.ID, err)
	}
	tq, err := parseTextQuery(ctx, s.db.Pool, s.lexemes, shop.ID, text, lex)
	if err != nil {
		return nil, fmt.Errorf("parse full-text query: %w", err)
	}
	var alternatives []Alternative
	for _, g := range tq.groups {
		for i, l := range g.lexemes {
			a := Alternative{For: g.source, Text: l, Correction: g.corrected && i == len(g.lexemes)-1}
			if l != g.source && !slices.Contains(alternatives, a) {
				alternatives = append(alternatives, a)
			}
		}
	}
	return alternatives, nil
}

func (s *Searcher) search(ctx context.Context, shop *salesagent.Shop, q Query, useVector, useText bool) ([]Hit, error) {
	q, err := normalizeQuery(q)
	if err != nil {
		return nil, err
	}
	lex, err := s.lexicons.get(ctx, shop.ID)
	if err != nil {
		return nil, fmt.Errorf("search shop %d: %w", shop.ID, err)
	}
	depth := q.Limit
	if useVector && useText {
		depth = max(4*q.Limit, minCandidates)
	}

	// Parsing the query also reads the shop's embedder, which vector
	// search alone reads on its own.
	var tq textQuery
	var embedder Embedder
	if useText {
		if tq, err = parseTextQuery(ctx, s.db.Pool, s.lexemes, shop.ID, q.Text, lex); err != nil {
			return nil, fmt.Errorf("search shop %d: parse full-text query: %w", shop.ID, err)
		}
		if !useVector {
			hits, _, err := rankText(ctx, s.db, shop.ID, q, tq, depth, nil)
			return newAccessoryRule(q.Text, tq).demote(hits), err
		}
		embedder, err = s.embedderNamed(shop, tq.embedder)
	} else {
		embedder, err = s.ActiveEmbedder(ctx, shop)
	}
	if err != nil {
		return nil, err
	}

	// The query's embedding, which may come from a remote model, is
	// computed while full-text search runs.
	var queryVector []float32
	var embedErr error
	embedded := make(chan struct{})
	go func() {
		defer close(embedded)
		queryVector, embedErr = embedQuery(ctx, embedder, includedText(q.Text))
	}()
	var textHits []Hit
	var feedback map[int64][]float32
	var textErr error
	if useText {
		textHits, feedback, textErr = rankText(ctx, s.db, shop.ID, q, tq, depth, embedder)
	}
	<-embedded
	if err := errors.Join(textErr, embedErr); err != nil {
		return nil, fmt.Errorf("search shop %d: %w", shop.ID, err)
	}
	if queryVector == nil {
		return textHits, nil
	}

	if useText {
		// rankText read the vectors of its own first hits, so feedback
		// skips the hits that demotion moves into the first feedbackDocs.
		textHits = newAccessoryRule(q.Text, tq).demote(textHits)
		queryVector = feedbackVector(queryVector, textHits, feedback)
	}
	vectorHits, err := nearestHits(ctx, s.db, shop.ID, q, embedder, lex, queryVector, depth, tq.exclude)
	if err != nil {
		return nil, fmt.Errorf("search shop %d: %w", shop.ID, err)
	}
	if !useText {
		return vectorHits, nil
	}
	return fuseRRF(q.Limit, textHits, vectorHits), nil
}

// includedText returns text without its "-word" terms, which full-text
// search excludes, so that the query's embedding does not move towards
// them.
func includedText(text string) string {
	included, _ := SplitExclusions(text)
	return strings.Join(included, " ")
}

// embedQuery returns the query's embedding, or nil when it is the zero
// vector (a query of stop words for the local embedder).
func embedQuery(ctx context.Context, embedder Embedder, text string) ([]float32, error) {
	vectors, err := embedder.Embed(ctx, []string{text})
	if err != nil {
		return nil, fmt.Errorf("embed query with %s: %w", embedder.Name(), err)
	}
	if len(vectors) != 1 || len(vectors[0]) != embedder.Dimensions() {
		return nil, fmt.Errorf("embedder %s returned no %d-dimension vector", embedder.Name(), embedder.Dimensions())
	}
	if isZero(vectors[0]) {
		return nil, nil
	}
	return vectors[0], nil
}

// normalizeQuery checks q and fills in defaults.
func normalizeQuery(q Query) (Query, error) {
	q.Text = strings.TrimSpace(q.Text)
	if q.Text == "" {
		return q, salesagent.Errorf(salesagent.EINVALID, "empty search query: pass the shopper's words in Query.Text")
	}
	switch {
	case q.Limit == 0:
		q.Limit = defaultLimit
	case q.Limit < 0 || q.Limit > maxLimit:
		return q, salesagent.Errorf(salesagent.EINVALID, "invalid search limit %d: use 1 to %d, or 0 for %d", q.Limit, maxLimit, defaultLimit)
	}
	for _, kind := range q.Kinds {
		switch kind {
		case salesagent.KindProduct, salesagent.KindFAQ, salesagent.KindPolicy, salesagent.KindSizeGuide, salesagent.KindPage:
		default:
			return q, salesagent.Errorf(salesagent.EINVALID, "invalid chunk kind %q: use product, faq, policy, size_guide or page", kind)
		}
	}
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MinPrice > *q.MaxPrice {
		return q, salesagent.Errorf(salesagent.EINVALID, "invalid price range %s to %s: the minimum is above the maximum", q.MinPrice, q.MaxPrice)
	}
	return q, nil
}

// ActiveEmbedder returns the embedder that the shop's searches use: the
// one the shop row names now, which may differ from shop.Embedder when the
// shop was loaded before a switch of embedder completed.
func (s *Searcher) ActiveEmbedder(ctx context.Context, shop *salesagent.Shop) (Embedder, error) {
	names, err := s.db.ShopEmbedders(ctx, shop.ID)
	if err != nil {
		return nil, fmt.Errorf("search shop %d: %w", shop.ID, err)
	}
	return s.embedderNamed(shop, names.Active)
}

// embedderNamed returns the searcher's embedder of the name a shop stores
// as its active one; "" is the local embedder.
func (s *Searcher) embedderNamed(shop *salesagent.Shop, name string) (Embedder, error) {
	if name == "" {
		name = LocalEmbedderName
	}
	e, ok := s.embedders[name]
	if !ok {
		return nil, fmt.Errorf("shop %s uses embedder %q, which this server does not have (it has %s): configure that embedder or change the shop's embedder",
			shop.Slug, name, embedderNames(s.embedders))
	}
	return e, nil
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// args collects positional SQL parameters.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// filterSQL returns the conditions on chunks c that q's filters set, always
// including the shop. Product type applies to product and size-guide
// chunks, and a size guide without a type passes it; price and stock apply
// to product chunks only.
func filterSQL(a *args, shopID int64, q Query) string {
	conds := []string{"c.shop_id = " + a.add(shopID)}
	if len(q.Kinds) > 0 {
		conds = append(conds, "c.kind = ANY("+a.add(q.Kinds)+")")
	}
	if q.ProductType != "" {
		conds = append(conds, "(c.kind NOT IN ('product', 'size_guide') OR lower(c.product_type) = lower("+a.add(q.ProductType)+
			") OR (c.kind = 'size_guide' AND c.product_type = ''))")
	}
	var variant []string
	if q.MinPrice != nil {
		variant = append(variant, "v.price >= "+a.add(int64(*q.MinPrice))+"::numeric / 100")
	}
	if q.MaxPrice != nil {
		variant = append(variant, "v.price <= "+a.add(int64(*q.MaxPrice))+"::numeric / 100")
	}
	if q.InStockOnly {
		variant = append(variant, "v.available AND (v.stock IS NULL OR v.stock > 0)")
	}
	if len(variant) > 0 {
		// The shop is a parameter, not c.shop_id, so that a hashed subplan
		// reads only this shop's variants.
		conds = append(conds, "(c.product_id IS NULL OR EXISTS (SELECT 1 FROM variants v WHERE v.product_id = c.product_id AND v.shop_id = "+
			a.add(shopID)+" AND "+strings.Join(variant, " AND ")+"))")
	}
	return strings.Join(conds, " AND ")
}

// hitColumns are the columns scanHit reads, from chunks c, products p and
// documents d.
const hitColumns = `c.id, c.kind, c.heading, c.content, c.product_type, c.sku,
	coalesce(c.product_id, 0), coalesce(p.handle, ''), coalesce(c.document_id, 0), coalesce(d.title, '')`

const hitJoins = `LEFT JOIN products p ON p.id = c.product_id LEFT JOIN documents d ON d.id = c.document_id`

func scanHits(rows pgx.Rows) ([]Hit, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Hit, error) {
		var h Hit
		err := row.Scan(hitFields(&h)...)
		h.setSourceHeading()
		return h, err
	})
}

// hitFields returns the scan destinations of hitColumns and a score, in
// order. After the scan, setSourceHeading completes the hit.
func hitFields(h *Hit) []any {
	return []any{&h.ChunkID, &h.Kind, &h.Heading, &h.Content, &h.ProductType, &h.Source.SKU,
		&h.Source.ProductID, &h.Source.ProductHandle, &h.Source.DocumentID, &h.Source.DocumentTitle, &h.Score}
}

// setSourceHeading cites a document's chunk by its heading, the section of
// the document it comes from.
func (h *Hit) setSourceHeading() {
	if h.Source.DocumentID != 0 {
		h.Source.Heading = h.Heading
	}
}

// hnswSettings sets hnsw.ef_search to $1 and turns on iterative scan for
// the rest of the transaction. nearestHits sends it in one batch with the
// search: a batch outside a transaction runs as one implicit transaction,
// so the settings apply to the search and end with it, and it takes one
// round trip rather than the three of BEGIN, search and COMMIT. An exact
// scan ignores both settings.
const hnswSettings = `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`

// nearestHits ranks chunks by cosine distance to the query vector. When few
// chunks pass the filters, or they are a small share of all vectors, it
// computes every candidate's distance. Otherwise it walks the embedder's
// HNSW index with iterative scan, which keeps searching until enough rows
// pass the filters. Chunks with a lexeme of exclude, the query's "-word"
// terms, are left out. The choice between an exact and an HNSW scan
// ignores them, which is correct but may be slower when they remove many.
func nearestHits(ctx context.Context, db *postgres.DB, shopID int64, q Query, e Embedder, lex *lexicon, vec []float32, depth int, exclude []string) ([]Hit, error) {
	var a args
	filter := filterSQL(&a, shopID, q)
	exact, err := exactScan(ctx, db.Pool, filter, a, lex)
	if err != nil {
		return nil, err
	}
	if len(exclude) > 0 {
		filter += " AND NOT c.tsv @@ " + a.add(tsQuery(exclude, "")) + "::tsquery"
	}

	sql := nearestSQL(&a, filter, e, pgvector.NewVector(vec), depth, exact)
	var hits []Hit
	batch := &pgx.Batch{}
	batch.Queue(hnswSettings, strconv.Itoa(EfSearch(depth)))
	batch.Queue(sql, a...).Query(func(rows pgx.Rows) error {
		var err error
		hits, err = scanHits(rows)
		return err
	})
	if err := db.Pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return hits, nil
}

// exactScan reports whether a vector search over the chunks passing filter
// should rank them all exactly rather than walk the HNSW index (see
// UsesHNSW). It counts the candidates, up to exactMax + 1, and keeps the
// choice with the shop's lexicon, which is read again once a minute. A
// shop that grows past the exact limit meanwhile is still ranked exactly,
// which is correct but slower.
func exactScan(ctx context.Context, q rowQuerier, filter string, a args, lex *lexicon) (bool, error) {
	key := fmt.Sprint(filter, a)
	if exact, ok := lex.scanChoice(key); ok {
		return exact, nil
	}
	// reltuples is PostgreSQL's estimate of the table's rows, -1 before
	// the first ANALYZE.
	var candidates int
	var vectors float64
	err := q.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE `+filter+` LIMIT `+
		strconv.Itoa(exactMax+1)+`) s), (SELECT reltuples FROM pg_class WHERE oid = 'embeddings'::regclass)`, a...).Scan(&candidates, &vectors)
	if err != nil {
		return false, fmt.Errorf("count candidates: %w", err)
	}
	exact := !UsesHNSW(candidates, vectors)
	lex.setScanChoice(key, exact)
	return exact, nil
}

// nearestSQL builds the kNN query. The embedder's name is a literal and its
// dimension a cast, because only then does the planner match the partial
// expression index "(embedding::vector(N)) WHERE embedder = 'name'" (or
// halfvec(N), see vectorType).
// Iterative scans return rows only roughly in order, so the outer query
// sorts again. The exact plan looks up each candidate chunk's embedding by
// primary key, so its cost follows the shop's candidates, not the size of
// the embeddings table. Chunks without an embedding get a NULL distance,
// sort last and are dropped.
func nearestSQL(a *args, filter string, e Embedder, vec pgvector.Vector, depth int, exact bool) string {
	name := sqlLiteral(e.Name())
	typ := vectorType(e.Dimensions())
	distance := "(e.embedding::" + typ + " <=> " + a.add(vec) + "::" + typ + ")"
	var nearest string
	if exact {
		nearest = `SELECT c.id AS chunk_id,
				(SELECT ` + distance + ` FROM embeddings e WHERE e.chunk_id = c.id AND e.embedder = ` + name + `) AS distance
			FROM chunks c
			WHERE ` + filter + `
			ORDER BY distance
			LIMIT ` + a.add(depth)
	} else {
		nearest = `SELECT e.chunk_id, ` + distance + ` AS distance
			FROM chunks c JOIN embeddings e ON e.chunk_id = c.id
			WHERE e.embedder = ` + name + ` AND e.shop_id = c.shop_id AND ` + filter + `
			ORDER BY ` + distance + `
			LIMIT ` + a.add(depth)
	}
	return `WITH nearest AS MATERIALIZED (` + nearest + `)
		SELECT ` + hitColumns + `, 1 - n.distance
		FROM nearest n JOIN chunks c ON c.id = n.chunk_id ` + hitJoins + `
		WHERE n.distance IS NOT NULL
		ORDER BY n.distance, c.id`
}

// fuseRRF merges ranked lists by reciprocal rank fusion and returns the
// best limit hits. Hits are matched by chunk id; the first list's copy of
// a hit is kept, with Score set to the fused score.
func fuseRRF(limit int, lists ...[]Hit) []Hit {
	scores := map[int64]float64{}
	first := map[int64]Hit{}
	var order []int64
	for _, list := range lists {
		for rank, h := range list {
			if _, ok := first[h.ChunkID]; !ok {
				first[h.ChunkID] = h
				order = append(order, h.ChunkID)
			}
			scores[h.ChunkID] += 1 / float64(rrfK+rank+1)
		}
	}

	fused := make([]Hit, 0, len(order))
	for _, id := range order {
		h := first[id]
		h.Score = scores[id]
		fused = append(fused, h)
	}
	slices.SortStableFunc(fused, func(x, y Hit) int {
		switch {
		case x.Score > y.Score:
			return -1
		case x.Score < y.Score:
			return 1
		}
		return 0
	})
	if len(fused) > limit {
		fused = fused[:limit]
	}
	return fused
}
