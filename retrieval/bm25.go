package retrieval

import (
	"math"
	"sort"
)

// BM25 ranks an in-memory corpus with Okapi BM25, as a baseline for
// evaluating search. Texts are tokenized as the local embedder does:
// lowercase words without accents, stop words dropped, Snowball stems.
// Build it with NewBM25; it is read-only afterwards and safe for concurrent
// use.
type BM25 struct {
	// K1 saturates term frequency and B normalises by document length.
	// NewBM25 sets the usual 1.2 and 0.75.
	K1, B float64

	postings map[string][]posting
	docLen   []int
	avgLen   float64
}

type posting struct {
	doc  int
	freq int
}

// BM25Hit is one ranked document of a BM25 search: its index in the
// corpus passed to NewBM25 and its score.
type BM25Hit struct {
	Index int
	Score float64
}

// NewBM25 indexes texts; hits refer to them by index.
func NewBM25(texts []string) *BM25 {
	b := &BM25{K1: 1.2, B: 0.75, postings: map[string][]posting{}, docLen: make([]int, len(texts))}
	total := 0
	for i, text := range texts {
		docTerms := terms(text)
		counts := map[string]int{}
		for _, t := range docTerms {
			counts[t]++
		}
		for t, n := range counts {
			b.postings[t] = append(b.postings[t], posting{doc: i, freq: n})
		}
		b.docLen[i] = len(docTerms)
		total += b.docLen[i]
	}
	if len(texts) > 0 {
		b.avgLen = float64(total) / float64(len(texts))
	}
	return b
}

// Len returns the number of documents.
func (b *BM25) Len() int { return len(b.docLen) }

// idf is the Robertson-Spärck Jones weight with 1 added inside the log,
// as Lucene does, so a term in most documents still scores above zero.
func (b *BM25) idf(df int) float64 {
	n := float64(len(b.docLen))
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

// Search returns up to k documents that share a term with query, best
// first; ties keep corpus order. A query term counts once however often
// it repeats.
func (b *BM25) Search(query string, k int) []BM25Hit {
	scores := map[int]float64{}
	seen := map[string]bool{}
	for _, t := range terms(query) {
		if seen[t] {
			continue
		}
		seen[t] = true
		list := b.postings[t]
		if len(list) == 0 {
			continue
		}
		idf := b.idf(len(list))
		for _, p := range list {
			tf := float64(p.freq)
			norm := b.K1 * (1 - b.B + b.B*float64(b.docLen[p.doc])/b.avgLen)
			scores[p.doc] += idf * tf * (b.K1 + 1) / (tf + norm)
		}
	}

	hits := make([]BM25Hit, 0, len(scores))
	for doc, score := range scores {
		hits = append(hits, BM25Hit{Index: doc, Score: score})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Index < hits[j].Index
	})
	if k > 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits
}
