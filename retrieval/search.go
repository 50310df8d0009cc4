package retrieval

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

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
	// similarity scales, so RRF stays.
	rrfK = 60
)

// Searcher finds a shop's chunks by hybrid search: nearest neighbours of
// the query's embedding, and PostgreSQL full-text ranking, fused by
// reciprocal rank.
type Searcher struct {
	db        *postgres.DB
	embedders map[string]Embedder
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
	return &Searcher{db: db, embedders: embedderSet(embedders)}
}

// Search returns the chunks of the shop that best match q, best first,
// fusing vector and full-text rankings. A hit's Score is its fused score:
// higher is better, comparable only within one result list.
func (s *Searcher) Search(ctx context.Context, shop *salesagent.Shop, q Query) ([]Hit, error) {
	return s.search(ctx, shop, q, true, true)
}

// SearchFullText ranks by PostgreSQL full-text search only, a baseline for
// evaluation. Score is the ts_rank score, plus 1 when the chunk has every
// query term.
func (s *Searcher) SearchFullText(ctx context.Context, shop *salesagent.Shop, q Query) ([]Hit, error) {
	return s.search(ctx, shop, q, false, true)
}

// SearchVector ranks by embedding similarity only, a baseline for
// evaluation. Score is the cosine similarity.
func (s *Searcher) SearchVector(ctx context.Context, shop *salesagent.Shop, q Query) ([]Hit, error) {
	return s.search(ctx, shop, q, true, false)
}

func (s *Searcher) search(ctx context.Context, shop *salesagent.Shop, q Query, useVector, useText bool) ([]Hit, error) {
	q, err := normalizeQuery(q)
	if err != nil {
		return nil, err
	}
	embedder, err := s.ActiveEmbedder(ctx, shop)
	if err != nil {
		return nil, err
	}
	depth := q.Limit
	if useVector && useText {
		depth = max(4*q.Limit, minCandidates)
	}

	var queryVector []float32
	if useVector {
		vectors, err := embedder.Embed(ctx, []string{q.Text})
		if err != nil {
			return nil, fmt.Errorf("search shop %d: embed query with %s: %w", shop.ID, embedder.Name(), err)
		}
		if len(vectors) != 1 || len(vectors[0]) != embedder.Dimensions() {
			return nil, fmt.Errorf("search shop %d: embedder %s returned no %d-dimension vector", shop.ID, embedder.Name(), embedder.Dimensions())
		}
		if !isZero(vectors[0]) {
			queryVector = vectors[0]
		}
	}

	var vectorHits, textHits []Hit
	err = pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if useText {
			textHits, err = fullTextHits(ctx, tx, shop.ID, q, depth)
			if err != nil {
				return err
			}
		}
		if queryVector != nil {
			vectorHits, err = nearestHits(ctx, tx, shop.ID, q, embedder, queryVector, depth)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search shop %d: %w", shop.ID, err)
	}

	switch {
	case !useText:
		return vectorHits, nil
	case !useVector:
		return textHits, nil
	}
	return fuseRRF(q.Limit, vectorHits, textHits), nil
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
	name := names.Active
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
		err := row.Scan(&h.ChunkID, &h.Kind, &h.Heading, &h.Content, &h.ProductType, &h.Source.SKU,
			&h.Source.ProductID, &h.Source.ProductHandle, &h.Source.DocumentID, &h.Source.DocumentTitle, &h.Score)
		if h.Source.DocumentID != 0 {
			h.Source.Heading = h.Heading
		}
		return h, err
	})
}

// fullTextHits ranks chunks by full-text match. Chunks with every query
// term (websearch_to_tsquery, which also reads "quoted phrases" and -not)
// come first. Chunks with some of the terms follow, so that a query with a
// word the shop never uses still finds something. Within each group,
// ts_rank orders by how often the terms occur, with heading matches
// weighted above body matches, divided by 1 + log(length) (flag 1) and
// mapped into [0, 1) (flag 32). ts_rank scored nDCG@10 0.806 against
// ts_rank_cd's 0.791 on the CrowdFlower judgements, and the same on Home
// Depot's.
func fullTextHits(ctx context.Context, tx pgx.Tx, shopID int64, q Query, depth int) ([]Hit, error) {
	anyTerms := orQuery(q.Text)
	if anyTerms == "" {
		return nil, nil
	}
	var a args
	filter := filterSQL(&a, shopID, q)
	sql := `SELECT ` + hitColumns + `,
			(c.tsv @@ wq)::int + ts_rank(c.tsv, oq, 1 | 32) AS score
		FROM chunks c
		CROSS JOIN websearch_to_tsquery('english', ` + a.add(q.Text) + `) wq
		CROSS JOIN to_tsquery('english', ` + a.add(anyTerms) + `) oq
		` + hitJoins + `
		WHERE ` + filter + ` AND c.tsv @@ oq
		ORDER BY score DESC, c.id
		LIMIT ` + a.add(depth)
	rows, err := tx.Query(ctx, sql, a...)
	if err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	hits, err := scanHits(rows)
	if err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	return hits, nil
}

// orQuery returns a to_tsquery expression matching any word of text:
// words are reduced to letters and digits and joined with |. Words marked
// with a leading - (websearch's "not") are required to be absent.
func orQuery(text string) string {
	var include, exclude []string
	for _, field := range strings.Fields(text) {
		negated := strings.HasPrefix(field, "-")
		for _, w := range strings.FieldsFunc(field, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if strings.EqualFold(w, "or") {
				continue
			}
			if negated {
				exclude = append(exclude, "!"+w)
			} else {
				include = append(include, w)
			}
		}
	}
	if len(include) == 0 {
		return ""
	}
	expr := "(" + strings.Join(include, " | ") + ")"
	if len(exclude) > 0 {
		expr += " & " + strings.Join(exclude, " & ")
	}
	return expr
}

// nearestHits ranks chunks by cosine distance to the query vector. When
// few chunks pass the filters, or they are a small share of all vectors, it
// computes every candidate's distance. Otherwise it walks the embedder's
// HNSW index with iterative scan (SET LOCAL through set_config), which
// keeps searching until enough rows pass the filters.
func nearestHits(ctx context.Context, tx pgx.Tx, shopID int64, q Query, e Embedder, vec []float32, depth int) ([]Hit, error) {
	var a args
	filter := filterSQL(&a, shopID, q)
	// reltuples is PostgreSQL's estimate of the table's rows, -1 before
	// the first ANALYZE.
	var candidates int
	var vectors float64
	err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM chunks c WHERE `+filter+` LIMIT `+
		strconv.Itoa(exactMax+1)+`) s), (SELECT reltuples FROM pg_class WHERE oid = 'embeddings'::regclass)`, a...).Scan(&candidates, &vectors)
	if err != nil {
		return nil, fmt.Errorf("count candidates: %w", err)
	}
	if candidates == 0 {
		return nil, nil
	}

	exact := !UsesHNSW(candidates, vectors)
	if !exact {
		efSearch := EfSearch(depth)
		if _, err := tx.Exec(ctx, `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
			strconv.Itoa(efSearch)); err != nil {
			return nil, fmt.Errorf("configure HNSW search: %w", err)
		}
	}

	sql := nearestSQL(&a, filter, e, pgvector.NewVector(vec), depth, exact)
	rows, err := tx.Query(ctx, sql, a...)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	hits, err := scanHits(rows)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return hits, nil
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
