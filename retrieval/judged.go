package retrieval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// Layouts of judged product-search files that ReadJudged detects by their
// header.
const (
	// LayoutCrowdFlower is the CrowdFlower "Search Results Relevance"
	// layout (Kaggle, 2015): query, product_title, product_description and
	// median_relevance from 1 (irrelevant) to 4 (perfectly relevant).
	LayoutCrowdFlower = "crowdflower"
	// LayoutHomeDepot is the Home Depot "Product Search Relevance" layout
	// (Kaggle, 2016): product_uid, product_title, search_term and
	// relevance, the raters' mean from 1 (irrelevant) to 3 (perfect match).
	LayoutHomeDepot = "homedepot"
)

// judgedLayout names the columns that a layout needs and how its rows map
// to a product and a grade.
type judgedLayout struct {
	name    string
	columns []string
	// minRating and maxRating bound the file's rating. Grades are the
	// rating minus minRating, so 0 is irrelevant in every layout.
	minRating, maxRating float64
}

var judgedLayouts = []judgedLayout{
	{name: LayoutCrowdFlower, columns: []string{"query", "product_title", "product_description", "median_relevance"}, minRating: 1, maxRating: 4},
	{name: LayoutHomeDepot, columns: []string{"product_uid", "product_title", "search_term", "relevance"}, minRating: 1, maxRating: 3},
}

// JudgedCorpus is the products of one or more judged files, which every
// query of those files is ranked against.
type JudgedCorpus struct {
	Products []salesagent.Product
	// byKey maps a product's identity within its layout (title and
	// description for CrowdFlower, product_uid for Home Depot) to its
	// index in Products.
	byKey map[string]int
}

// JudgedSet is the judgements of one file: for each query, the grade of
// each judged product, by index in the corpus.
type JudgedSet struct {
	// Name is the name the file was read under, such as its path.
	Name   string
	Layout string
	// Queries are in order of first appearance in the file.
	Queries []string
	// Grades maps a query to product index to grade, from 0 (irrelevant)
	// up to MaxGrade. A product judged twice for a query keeps the higher
	// grade.
	Grades   map[string]map[int]float64
	MaxGrade float64
	// Rows is the number of judged rows read, sampled or not.
	Rows int
}

// ReadOptions choose what ReadJudged keeps of a file.
type ReadOptions struct {
	// Every keeps the judgements of every n-th query, counted in order of
	// first appearance; 0 and 1 keep all.
	Every int
	// Offset picks which of each Every queries are kept, from 0 (the
	// first, third, ... with Every 2) to Every - 1 (the second, fourth,
	// ... with Offset 1), so that two runs can score disjoint halves.
	Offset int
	// AllProducts adds the products of queries that Every skipped to the
	// corpus too, so the sample is ranked against the whole catalog.
	AllProducts bool
}

// ReadJudged reads a judged file in the CrowdFlower or Home Depot layout,
// detected by its header, adds its products to the corpus and returns its
// judgements. Rows with a rating outside the layout's range are an error
// naming the line, because a silently dropped judgement skews the scores.
func (c *JudgedCorpus) ReadJudged(name string, r io.Reader, opts ReadOptions) (*JudgedSet, error) {
	reader := csv.NewReader(r)
	header, err := reader.Read()
	if err != nil {
		return nil, fmt.Errorf("read header of %s: %w", name, err)
	}
	layout, columns, err := detectLayout(header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if c.byKey == nil {
		c.byKey = map[string]int{}
	}
	every := max(opts.Every, 1)

	set := &JudgedSet{Name: name, Layout: layout.name, Grades: map[string]map[int]float64{}, MaxGrade: layout.maxRating - layout.minRating}
	queryIndex := map[string]int{}
	for line := 2; ; line++ {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		row, err := layout.parse(record, columns)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		set.Rows++

		if _, ok := queryIndex[row.query]; !ok {
			queryIndex[row.query] = len(queryIndex)
		}
		sampled := queryIndex[row.query]%every == opts.Offset%every
		if !sampled && !opts.AllProducts {
			continue
		}
		index := c.add(row)
		if sampled {
			set.judge(row.query, index, row.rating-layout.minRating)
		}
	}
	if len(set.Queries) == 0 {
		return nil, fmt.Errorf("%s has no judged rows: give a file with at least one row under its header", name)
	}
	return set, nil
}

// judgedRow is one row of a judged file.
type judgedRow struct {
	key, query string
	product    salesagent.Product
	rating     float64
}

// detectLayout returns the layout whose columns the header has, with each
// column's position.
func detectLayout(header []string) (judgedLayout, map[string]int, error) {
	positions := map[string]int{}
	for i, name := range header {
		// Files saved by spreadsheet programs may start with a byte-order
		// mark.
		name = strings.TrimPrefix(strings.TrimSpace(name), "\ufeff")
		positions[strings.ToLower(name)] = i
	}
	for _, layout := range judgedLayouts {
		found := true
		for _, column := range layout.columns {
			if _, ok := positions[column]; !ok {
				found = false
				break
			}
		}
		if found {
			return layout, positions, nil
		}
	}
	return judgedLayout{}, nil, fmt.Errorf("unknown judged file layout with columns %s: expected the CrowdFlower columns %s or the Home Depot columns %s",
		strings.Join(header, ", "), strings.Join(judgedLayouts[0].columns, ", "), strings.Join(judgedLayouts[1].columns, ", "))
}

// parse reads one record of the layout.
func (l judgedLayout) parse(record []string, columns map[string]int) (judgedRow, error) {
	field := func(name string) string {
		if i := columns[name]; i < len(record) {
			return strings.TrimSpace(record[i])
		}
		return ""
	}
	var row judgedRow
	var ratingColumn string
	switch l.name {
	case LayoutCrowdFlower:
		title, description := field("product_title"), field("product_description")
		row.query, ratingColumn = field("query"), "median_relevance"
		row.key = "cf\x00" + title + "\x00" + description
		row.product = salesagent.Product{Title: title, Description: description}
	case LayoutHomeDepot:
		uid := field("product_uid")
		if uid == "" {
			return row, errors.New("empty product_uid: every row needs the product's id")
		}
		row.query, ratingColumn = field("search_term"), "relevance"
		row.key = "hd\x00" + uid
		row.product = salesagent.Product{ExternalID: "hd-" + uid, Title: field("product_title")}
	}
	if row.query == "" {
		return row, errors.New("empty query: every row needs the search text")
	}
	if row.product.Title == "" {
		return row, errors.New("empty product_title: every row needs the product's title")
	}

	text := field(ratingColumn)
	rating, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(rating) || rating < l.minRating || rating > l.maxRating {
		return row, fmt.Errorf("invalid %s %q: use a number from %g to %g", ratingColumn, text, l.minRating, l.maxRating)
	}
	row.rating = rating
	return row, nil
}

// add returns the corpus index of the row's product, adding it when new.
// CrowdFlower products have no id of their own, so the corpus numbers
// them.
func (c *JudgedCorpus) add(row judgedRow) int {
	if index, ok := c.byKey[row.key]; ok {
		return index
	}
	index := len(c.Products)
	p := row.product
	if p.ExternalID == "" {
		p.ExternalID = fmt.Sprintf("cf-%d", index)
	}
	p.Handle = p.ExternalID
	c.Products = append(c.Products, p)
	c.byKey[row.key] = index
	return index
}

func (s *JudgedSet) judge(query string, product int, grade float64) {
	if s.Grades[query] == nil {
		s.Grades[query] = map[int]float64{}
		s.Queries = append(s.Queries, query)
	}
	if old, ok := s.Grades[query][product]; !ok || grade > old {
		s.Grades[query][product] = grade
	}
}

// NDCG returns nDCG@k of ranked (product indexes, best first) against the
// judged grades, with gain 2^grade - 1. Products without a grade are left
// out of the ranking first (a condensed list), so only the order of judged
// products counts. ok is false when no judged product has a grade above 0.
func NDCG(k int, ranked []int, grades map[int]float64) (score float64, ok bool) {
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

// Recall returns recall@k: the share of the products graded at least
// minGrade that appear among the first k of ranked. Unlike NDCG it does
// not condense the list, so unjudged products take places in the top k.
// ok is false when no product reaches minGrade.
func Recall(k int, ranked []int, grades map[int]float64, minGrade float64) (recall float64, ok bool) {
	relevant := 0
	for _, g := range grades {
		if g >= minGrade {
			relevant++
		}
	}
	if relevant == 0 {
		return 0, false
	}
	found := 0
	for _, index := range ranked[:min(k, len(ranked))] {
		if g, judged := grades[index]; judged && g >= minGrade {
			found++
		}
	}
	return float64(found) / float64(relevant), true
}

// RankedProducts maps hits to product indexes through indexOf (product id
// to index), keeping each product's best-ranked chunk and dropping hits of
// other products and of documents.
func RankedProducts(hits []Hit, indexOf map[int64]int) []int {
	var out []int
	for _, h := range hits {
		index, ok := indexOf[h.Source.ProductID]
		if !ok || slices.Contains(out, index) {
			continue
		}
		out = append(out, index)
	}
	return out
}
