package retrieval_test

import (
	"context"
	"math"
	"testing"

	"github.com/salesagent/salesagent/retrieval"
)

func cosine(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot
}

func TestLocalEmbedderShapeAndDeterminism(t *testing.T) {
	e := retrieval.NewLocalEmbedder()
	if e.Name() != "local-hash-384" || e.Dimensions() != 384 {
		t.Fatalf("Name, Dimensions = %q, %d", e.Name(), e.Dimensions())
	}
	texts := []string{"Waterproof rain jacket", "Merino wool socks", ""}
	first, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := e.Embed(context.Background(), texts)
	if len(first) != len(texts) {
		t.Fatalf("got %d vectors for %d texts", len(first), len(texts))
	}
	for i, v := range first {
		if len(v) != 384 {
			t.Errorf("vector %d has %d dimensions", i, len(v))
		}
		for j := range v {
			if v[j] != second[i][j] {
				t.Fatalf("vector %d differs between calls at %d", i, j)
			}
		}
	}
	for i := 0; i < 2; i++ {
		if norm := math.Sqrt(cosine(first[i], first[i])); math.Abs(norm-1) > 1e-5 {
			t.Errorf("vector %d has norm %v, want 1", i, norm)
		}
	}
	if cosine(first[2], first[2]) != 0 {
		t.Error("empty text should give the zero vector")
	}
}

func TestLocalEmbedderSimilarity(t *testing.T) {
	e := retrieval.NewLocalEmbedder()
	sim := func(a, b string) float64 { return cosine(e.EmbedText(a), e.EmbedText(b)) }

	cases := []struct {
		query, near, far string
	}{
		// Shared stems: plural and -ing forms.
		{"waterproof jacket", "waterproofing jackets", "garden hose"},
		// Character n-grams tolerate a typo.
		{"jaket", "jacket", "sandal"},
		// Hyphenation does not matter.
		{"tshirt", "t-shirt", "sweater"},
		// Accents are removed.
		{"cafe table", "Café table", "lamp"},
		// Word order counts through bigrams.
		{"rain jacket", "rain jacket", "jacket rain"},
		// Only the shared word links these two: "waterproof" and "rain
		// shell" have nothing in common for this embedder.
		{"waterproof jacket", "rain shell jacket", "rain shell"},
	}
	for _, c := range cases {
		near, far := sim(c.query, c.near), sim(c.query, c.far)
		if near <= far {
			t.Errorf("sim(%q, %q) = %.3f, not above sim(%q, %q) = %.3f", c.query, c.near, near, c.query, c.far, far)
		}
	}

	// Synonyms without shared letters stay apart: the limit of a lexical
	// embedder.
	if s := sim("sneakers", "trainers"); s > 0.3 {
		t.Errorf("sim(sneakers, trainers) = %.3f; a hashing embedder should not know synonyms", s)
	}
}

func TestLocalEmbedderHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := retrieval.NewLocalEmbedder().Embed(ctx, []string{"jacket"}); err == nil {
		t.Error("Embed with a cancelled context succeeded")
	}
}

// benchText is a product chunk of typical length.
const benchText = `Alpine Rain Shell Jacket
Jackets by Northwind.
Tags: rain, hiking.
A lightweight waterproof shell with taped seams and a hood that fits over a helmet. Packs into its own pocket. The 2.5-layer recycled nylon face fabric is treated with a PFC-free water-repellent finish, and pit zips let heat out on steep climbs.
Fit: regular
Material: recycled nylon
Size: XS, S, M, L, XL
Colour: Black, Navy, Moss
Price: $129.00 to $139.00, on sale (was $160.00).
In stock: Size S, M, L; Colour Black, Navy.`

func BenchmarkLocalEmbed(b *testing.B) {
	e := retrieval.NewLocalEmbedder()
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		e.EmbedText(benchText)
	}
}

func BenchmarkLocalEmbedQuery(b *testing.B) {
	e := retrieval.NewLocalEmbedder()
	for b.Loop() {
		e.EmbedText("waterproof rain jacket for hiking")
	}
}
