package retrieval

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/salesagent/salesagent/postgres"
)

// rankText ranks the chunks passing q's filters by the term groups of tq.
// A chunk earns a group's weight when it contains one of the group's
// lexemes: half of it for a match anywhere and half for a match in its
// heading (a product's title), so titles count double. A chunk with every
// query word as websearch_to_tsquery reads the text (which also honours
// "quoted phrases") earns 1 more, and ts_rank, which counts repeats and
// divides by 1 + log(length), breaks ties. Only chunks that contain a
// lexeme of the candidate groups (see candidateGroups) are ranked.
//
// With a feedback embedder, it also returns that embedder's stored vectors
// of the first feedbackDocs hits, by chunk id, for feedbackVector. Reading
// them in this query saves hybrid search a round trip.
func rankText(ctx context.Context, db *postgres.DB, shopID int64, q Query, tq textQuery, depth int, feedback Embedder) ([]Hit, map[int64][]float32, error) {
	if len(tq.groups) == 0 {
		return nil, nil, nil
	}
	var a args
	filter := filterSQL(&a, shopID, q)
	var candidates, all []string
	for _, i := range tq.candidateGroups() {
		candidates = append(candidates, tq.groups[i].lexemes...)
	}
	// The weights are parameters, so the query's text depends only on the
	// number of terms and the filters, and pgx's prepared statements serve
	// shoppers' different messages too. With varied messages under load,
	// that took 1.1 to 1.3 ms off the added latency's median.
	score := make([]string, 0, len(tq.groups)+2)
	for _, g := range tq.groups {
		all = append(all, g.lexemes...)
		score = append(score, fmt.Sprintf("%s::float8 * ((c.tsv @@ %s::tsquery)::int + %.4f::float8 * (c.tsv @@ %s::tsquery)::int)",
			a.add(g.weight*(1-titleShare)), a.add(tsQuery(g.lexemes, "")), titleShare/(1-titleShare), a.add(tsQuery(g.lexemes, ":A"))))
	}
	// websearch_to_tsquery is stable, not immutable, so it is called once
	// in a join rather than for each row.
	from := "chunks c CROSS JOIN websearch_to_tsquery('english', " + a.add(q.Text) + ") wq"
	score = append(score, "(c.tsv @@ wq)::int", "ts_rank(c.tsv, "+a.add(tsQuery(all, ""))+"::tsquery, 1 | 32)")
	where := filter + " AND c.tsv @@ " + a.add(tsQuery(candidates, "")) + "::tsquery"
	if len(tq.exclude) > 0 {
		where += " AND NOT c.tsv @@ " + a.add(tsQuery(tq.exclude, "")) + "::tsquery"
	}

	// The ranking reads chunks alone; products and documents are joined to
	// the few rows it keeps. Joined to every candidate, a sequential scan
	// of products cost 6 ms of a 19 ms query on 18,000 products.
	vector := "NULL::vector"
	if feedback != nil {
		vector = `CASE WHEN r.n <= ` + strconv.Itoa(feedbackDocs) + ` THEN
			(SELECT e.embedding FROM embeddings e WHERE e.chunk_id = c.id AND e.embedder = ` + a.add(feedback.Name()) + `) END`
	}
	sql := `WITH ranked AS MATERIALIZED (
			SELECT c.id, ` + strings.Join(score, " + ") + ` AS score
			FROM ` + from + `
			WHERE ` + where + `
			ORDER BY score DESC, c.id
			LIMIT ` + a.add(depth) + `)
		SELECT ` + hitColumns + `, r.score, ` + vector + `
		FROM (SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS n FROM ranked) r
			JOIN chunks c ON c.id = r.id ` + hitJoins + `
		ORDER BY r.score DESC, c.id`
	rows, err := db.Pool.Query(ctx, sql, a...)
	if err != nil {
		return nil, nil, fmt.Errorf("full-text search: %w", err)
	}
	var vectors map[int64][]float32
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Hit, error) {
		var h Hit
		var v *pgvector.Vector
		if err := row.Scan(append(hitFields(&h), &v)...); err != nil {
			return h, err
		}
		h.setSourceHeading()
		if v != nil {
			if vectors == nil {
				vectors = make(map[int64][]float32, feedbackDocs)
			}
			vectors[h.ChunkID] = v.Slice()
		}
		return h, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("full-text search: %w", err)
	}
	return hits, vectors, nil
}
