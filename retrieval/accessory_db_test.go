package retrieval_test

import (
	"context"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

// TestSearchRanksProductAboveItsAccessories checks that a product title
// that names the query's words only after "for" ranks below the product
// itself, unless the shopper asked for the accessory.
func TestSearchRanksProductAboveItsAccessories(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	shop := newShop(t, db)
	products := []salesagent.Product{
		{ExternalID: "phone", Handle: "phone", Title: "Apple iPhone 5 16GB Smartphone", ProductType: "Phones",
			Description: "Unlocked smartphone with a 4-inch display.",
			Variants:    []salesagent.Variant{variant("PH-1", "", "Black", "199.00", intPtr(3))}},
		// The case's text names the phone more often, which full-text
		// ranking alone rewards.
		{ExternalID: "case", Handle: "case", Title: "Rugged Case for Apple iPhone 5", ProductType: "Cases",
			Description: "Made for the iPhone 5: the iPhone 5 fits snugly and every iPhone 5 button works.",
			Variants:    []salesagent.Variant{variant("CS-1", "", "Black", "19.00", intPtr(9))}},
	}
	if _, err := db.UpsertProducts(ctx, shop.ID, products); err != nil {
		t.Fatalf("UpsertProducts: %v", err)
	}
	if _, err := retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), nil).IndexShop(ctx, shop.ID); err != nil {
		t.Fatalf("IndexShop: %v", err)
	}
	searcher := retrieval.NewSearcher(db)

	// With two products, hybrid search may fuse a tie when vector search
	// ranks them the other way round, and fusion then keeps the full-text
	// order, so the hybrid checks follow the full-text ranking.

	cases := []struct {
		query, first string
	}{
		{"iphone 5", "phone"},
		{"apple iphone 5", "phone"},
		// The shopper names the accessory, or searches for something for
		// the phone, so the case comes first.
		{"iphone 5 case", "case"},
		{"something for iphone 5", "case"},
	}
	for _, c := range cases {
		q := retrieval.Query{Text: c.query, Kinds: []string{salesagent.KindProduct}, Limit: 5}
		for name, search := range map[string]func(context.Context, *salesagent.Shop, retrieval.Query) ([]retrieval.Hit, error){
			"full-text": searcher.SearchFullText, "hybrid": searcher.Search,
		} {
			hits, err := search(ctx, shop, q)
			if err != nil {
				t.Fatalf("%s search %q: %v", name, c.query, err)
			}
			if len(hits) == 0 || hits[0].Source.ProductID != products[indexOfHandle(products, c.first)].ID {
				t.Errorf("%s search %q: want %s first, got:%s", name, c.query, c.first, describe(hits))
			}
		}
	}
}

func indexOfHandle(products []salesagent.Product, handle string) int {
	for i, p := range products {
		if p.Handle == handle {
			return i
		}
	}
	panic("no product " + handle)
}
