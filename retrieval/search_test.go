package retrieval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

func TestSearchSizingQueryFindsSizeGuide(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "which jacket size should I order with a 100 cm chest?"})
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	if hits[0].Kind != salesagent.KindSizeGuide || hits[0].Source.DocumentID != f.docs["jackets"] {
		t.Errorf("first hit is not the jackets size guide:%s", describe(hits))
	}
}

func TestSearchShippingQueryFindsShippingFAQ(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "how many days until my parcel is delivered"})
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	if hits[0].Source.DocumentID != f.docs["shipping-time"] {
		t.Errorf("first hit is not the shipping FAQ:%s", describe(hits))
	}
}

func TestSearchProductSources(t *testing.T) {
	t.Parallel()
	f := setup(t)

	hits := f.search(t, retrieval.Query{Text: "organic cotton t-shirt", Kinds: []string{salesagent.KindProduct}, Limit: 1})
	if len(hits) != 1 {
		t.Fatalf("got %d hits, want 1", len(hits))
	}
	src := hits[0].Source
	if src.ProductID != f.products["everyday-cotton-tee"] || src.ProductHandle != "everyday-cotton-tee" {
		t.Errorf("source = %+v, want the cotton tee", src)
	}
	if src.SKU != "TEE-001" {
		t.Errorf("SKU of a single-variant product = %q, want TEE-001", src.SKU)
	}
	if src.DocumentID != 0 || src.DocumentTitle != "" {
		t.Errorf("product hit has document source %+v", src)
	}
	if c := hits[0].Citation(); c.Title != "Everyday Cotton T-Shirt" || c.ProductID != src.ProductID || c.SKU != "TEE-001" {
		t.Errorf("citation = %+v", c)
	}

	hits = f.search(t, retrieval.Query{Text: "trail running shoes", Kinds: []string{salesagent.KindProduct}, Limit: 1})
	if len(hits) != 1 || hits[0].Source.SKU != "" {
		t.Errorf("multi-variant product hit should have no SKU:%s", describe(hits))
	}
}

func TestSearchDocumentSources(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "exchange for another size", Kinds: []string{salesagent.KindPolicy}, Limit: 1})
	if len(hits) != 1 {
		t.Fatalf("got %d hits, want 1", len(hits))
	}
	h := hits[0]
	if h.Source.DocumentID != f.docs["returns"] || h.Source.DocumentTitle != "Returns policy" {
		t.Errorf("source = %+v, want the returns policy", h.Source)
	}
	if h.Heading != "Exchanges" || h.Source.Heading != "Exchanges" {
		t.Errorf("heading = %q, source heading = %q, want the section heading Exchanges", h.Heading, h.Source.Heading)
	}
	if !strings.HasPrefix(h.Content, "Returns policy\n") {
		t.Errorf("section chunk should start with the document title:\n%s", h.Content)
	}
	if h.Source.ProductID != 0 || h.Source.ProductHandle != "" {
		t.Errorf("document hit has product source %+v", h.Source)
	}
	if c := h.Citation(); c.Title != "Returns policy" || c.Heading != "Exchanges" || c.DocumentID != h.Source.DocumentID {
		t.Errorf("citation = %+v", c)
	}
}

// productIDs returns the distinct products of the hits.
func productIDs(hits []retrieval.Hit) map[int64]bool {
	out := map[int64]bool{}
	for _, h := range hits {
		if h.Source.ProductID != 0 {
			out[h.Source.ProductID] = true
		}
	}
	return out
}

func TestSearchPriceRange(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "jacket shoes socks backpack shirt parka merino", Kinds: []string{salesagent.KindProduct},
		MinPrice: moneyPtr("50"), MaxPrice: moneyPtr("130"), Limit: 20})

	got := productIDs(hits)
	for _, handle := range []string{"alpine-rain-shell", "trail-running-shoes", "merino-base-layer"} {
		if !got[f.products[handle]] {
			t.Errorf("%s (priced in range) missing:%s", handle, describe(hits))
		}
	}
	for _, handle := range []string{"summit-down-parka", "everyday-cotton-tee", "hiking-socks-3-pack", "ridgeline-45-backpack"} {
		if got[f.products[handle]] {
			t.Errorf("%s (priced out of range) returned:%s", handle, describe(hits))
		}
	}

	// One variant of the shoes (89.00) is in range, the other (99.00) not.
	hits = f.search(t, retrieval.Query{Text: "running shoes", Kinds: []string{salesagent.KindProduct}, MaxPrice: moneyPtr("90")})
	if !productIDs(hits)[f.products["trail-running-shoes"]] {
		t.Errorf("shoes with a variant at 89.00 missing under a 90.00 maximum:%s", describe(hits))
	}
	hits = f.search(t, retrieval.Query{Text: "running shoes", Kinds: []string{salesagent.KindProduct}, MaxPrice: moneyPtr("88.99")})
	if productIDs(hits)[f.products["trail-running-shoes"]] {
		t.Errorf("shoes returned under a 88.99 maximum:%s", describe(hits))
	}
}

func TestSearchInStockOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	q := retrieval.Query{Text: "warm jacket parka", Kinds: []string{salesagent.KindProduct}, Limit: 20}
	if !productIDs(f.search(t, q))[f.products["summit-down-parka"]] {
		t.Fatal("sold-out parka not found without the stock filter")
	}

	q.InStockOnly = true
	hits := f.search(t, q)
	got := productIDs(hits)
	if got[f.products["summit-down-parka"]] {
		t.Errorf("sold-out parka returned with InStockOnly:%s", describe(hits))
	}
	// The jacket has an untracked variant that is available.
	if !got[f.products["alpine-rain-shell"]] {
		t.Errorf("jacket with stock missing with InStockOnly:%s", describe(hits))
	}
}

func TestSearchKinds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "waterproof jacket", Kinds: []string{salesagent.KindFAQ}})
	if len(hits) == 0 {
		t.Fatal("no FAQ hits")
	}
	for _, h := range hits {
		if h.Kind != salesagent.KindFAQ {
			t.Errorf("hit of kind %s with Kinds=[faq]:%s", h.Kind, describe(hits))
		}
	}
	if hits[0].Source.DocumentID != f.docs["care"] {
		t.Errorf("first FAQ hit is not the jacket care answer:%s", describe(hits))
	}

	hits = f.search(t, retrieval.Query{Text: "waterproof jacket", Kinds: []string{salesagent.KindProduct, salesagent.KindSizeGuide}, Limit: 20})
	for _, h := range hits {
		if h.Kind != salesagent.KindProduct && h.Kind != salesagent.KindSizeGuide {
			t.Errorf("hit of kind %s with Kinds=[product size_guide]", h.Kind)
		}
	}
}

func TestSearchProductType(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "size guide measure", ProductType: "shoes", Limit: 20})
	sawShoesGuide := false
	for _, h := range hits {
		switch h.Kind {
		case salesagent.KindProduct, salesagent.KindSizeGuide:
			if !strings.EqualFold(h.ProductType, "Shoes") {
				t.Errorf("%s hit of type %q with ProductType=shoes", h.Kind, h.ProductType)
			}
		}
		if h.Source.DocumentID == f.docs["shoes"] {
			sawShoesGuide = true
		}
	}
	if !sawShoesGuide {
		t.Errorf("shoes size guide missing:%s", describe(hits))
	}
}

func TestSearchShopIsolation(t *testing.T) {
	t.Parallel()
	a := setup(t)
	b := setup(t)

	// Shop B loses one product, so a query for it must find nothing of A.
	ctx := context.Background()
	if _, err := b.db.Pool.Exec(ctx, `DELETE FROM products WHERE shop_id = $1 AND handle = 'summit-down-parka'`, b.shop.ID); err != nil {
		t.Fatal(err)
	}
	aChunks := map[int64]bool{}
	rows, err := a.db.Pool.Query(ctx, `SELECT id FROM chunks WHERE shop_id = $1`, a.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		aChunks[id] = true
	}
	rows.Close()

	queries := []string{"summit down parka", "waterproof jacket", "shipping", "returns refund", "size chart"}
	for _, text := range queries {
		for name, search := range map[string]func(context.Context, *salesagent.Shop, retrieval.Query) ([]retrieval.Hit, error){
			"hybrid": b.searcher.Search, "full-text": b.searcher.SearchFullText, "vector": b.searcher.SearchVector,
		} {
			hits, err := search(ctx, b.shop, retrieval.Query{Text: text, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hits {
				if aChunks[h.ChunkID] {
					t.Errorf("%s search %q in shop B returned shop A's chunk %d (%s)", name, text, h.ChunkID, h.Heading)
				}
				if h.Source.ProductID == a.products["summit-down-parka"] {
					t.Errorf("%s search %q in shop B returned shop A's parka", name, text)
				}
			}
		}
	}
}

func TestSearchBaselines(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	q := retrieval.Query{Text: "merino wool base layer", Limit: 3}

	text, err := f.searcher.SearchFullText(ctx, f.shop, q)
	if err != nil {
		t.Fatal(err)
	}
	vector, err := f.searcher.SearchVector(ctx, f.shop, q)
	if err != nil {
		t.Fatal(err)
	}
	for name, hits := range map[string][]retrieval.Hit{"full-text": text, "vector": vector} {
		if len(hits) == 0 || len(hits) > 3 {
			t.Errorf("%s returned %d hits, want 1 to 3", name, len(hits))
			continue
		}
		if hits[0].Source.ProductID != f.products["merino-base-layer"] {
			t.Errorf("%s first hit is not the merino top:%s", name, describe(hits))
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Score > hits[i-1].Score {
				t.Errorf("%s scores not descending:%s", name, describe(hits))
			}
		}
	}
	// Full-text puts a chunk with every term above one with some.
	if text[0].Score < 1 {
		t.Errorf("full-text score of an all-terms match = %v, want at least 1", text[0].Score)
	}
}

func TestSearchPartialWordMatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// No chunk has "helmet" and "skiing" together, so websearch_to_tsquery
	// alone finds nothing; the OR-ed query still ranks the jacket.
	hits, err := f.searcher.SearchFullText(context.Background(), f.shop, retrieval.Query{Text: "skiing helmet", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].Source.ProductID != f.products["alpine-rain-shell"] {
		t.Errorf("partial match did not find the jacket with a helmet hood:%s", describe(hits))
	}
}

func TestSearchNegatedWord(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits, err := f.searcher.SearchFullText(context.Background(), f.shop, retrieval.Query{Text: "hiking -socks", Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	for _, h := range hits {
		if h.Source.ProductID == f.products["hiking-socks-3-pack"] {
			t.Errorf("-socks returned the socks:%s", describe(hits))
		}
	}
}

func TestSearchNegatedWordHybrid(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "hiking -socks", Limit: 20})
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	for _, h := range hits {
		if h.Source.ProductID == f.products["hiking-socks-3-pack"] {
			t.Errorf("-socks returned the socks through vector search:%s", describe(hits))
		}
	}
}

func TestSearchRejectsBadQuery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cases := map[string]retrieval.Query{
		"empty text":     {Text: "  "},
		"negative limit": {Text: "jacket", Limit: -1},
		"huge limit":     {Text: "jacket", Limit: 1000},
		"unknown kind":   {Text: "jacket", Kinds: []string{"blog"}},
		"inverted price": {Text: "jacket", MinPrice: moneyPtr("100"), MaxPrice: moneyPtr("10")},
	}
	for name, q := range cases {
		_, err := f.searcher.Search(context.Background(), f.shop, q)
		if salesagent.ErrorCode(err) != salesagent.EINVALID {
			t.Errorf("%s: error = %v, want an invalid-input error", name, err)
		}
	}
}

func TestSearchUnknownEmbedder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	// The searcher reads the active embedder from the shop row, not from
	// the loaded shop.
	if _, err := f.db.Pool.Exec(context.Background(), `UPDATE shops SET embedder = 'openai-text-embedding-3-small' WHERE id = $1`, f.shop.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.searcher.Search(context.Background(), f.shop, retrieval.Query{Text: "jacket"})
	if err == nil || !strings.Contains(err.Error(), "openai-text-embedding-3-small") {
		t.Errorf("search with an unknown embedder: error = %v, want one naming it", err)
	}
}

func TestSearchStopWordsOnly(t *testing.T) {
	t.Parallel()
	f := setup(t)
	hits := f.search(t, retrieval.Query{Text: "the and of"})
	if len(hits) != 0 {
		t.Errorf("stop-word query returned hits:%s", describe(hits))
	}
}
