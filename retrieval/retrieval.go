// Package retrieval finds the shop's facts that answer a shopper's message:
// it cuts products and documents into chunks, embeds them, and searches them
// with a hybrid of pgvector nearest neighbours and PostgreSQL full-text
// ranking.
package retrieval

import (
	"context"

	"github.com/salesagent/salesagent"
)

// Embedder turns texts into vectors. Vectors of different embedders coexist
// in one table, told apart by Name.
type Embedder interface {
	// Name identifies the embedder and its dimension, as in "local-hash-384".
	Name() string
	Dimensions() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Query is a search request within one shop.
type Query struct {
	Text string
	// Kinds limits results to chunk kinds (salesagent.KindProduct,
	// KindFAQ, KindPolicy, KindSizeGuide, KindPage); empty means all.
	Kinds []string
	// ProductType limits product and size-guide chunks to one type,
	// compared case-insensitively. Size guides without a type, and other
	// kinds, pass.
	ProductType string
	// MinPrice and MaxPrice limit products to those with a variant priced
	// in the range. Document chunks pass.
	MinPrice, MaxPrice *salesagent.Money
	// InStockOnly keeps products with at least one variant in stock; with
	// a price range, that variant must also be in the range. Document
	// chunks pass.
	InStockOnly bool
	// Limit is the number of hits to return; 0 means 8.
	Limit int
}

// Hit is one retrieved chunk with where it came from, so an answer can cite
// it.
type Hit struct {
	ChunkID     int64
	Kind        string
	Heading     string
	Content     string
	ProductType string
	// Score orders the hits of one search, higher first. Its scale depends
	// on the method: fused rank score, full-text rank or cosine similarity.
	Score  float64
	Source Source
}

// Source identifies the stored fact behind a hit.
type Source struct {
	ProductID     int64
	ProductHandle string
	// SKU is set when the chunk describes one variant.
	SKU           string
	DocumentID    int64
	DocumentTitle string
	Heading       string
}

// Citation converts the hit's source to a citation for a message.
func (h Hit) Citation() salesagent.Citation {
	title := h.Source.DocumentTitle
	if h.Source.ProductID != 0 {
		title = h.Heading
	}
	return salesagent.Citation{
		Kind:       h.Kind,
		ChunkID:    h.ChunkID,
		ProductID:  h.Source.ProductID,
		SKU:        h.Source.SKU,
		DocumentID: h.Source.DocumentID,
		Title:      title,
		Heading:    h.Source.Heading,
	}
}
