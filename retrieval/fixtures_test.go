package retrieval_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var shopCounter atomic.Int64

// newShop creates an empty shop of its own for one test.
func newShop(t testing.TB, db *postgres.DB) *salesagent.Shop {
	t.Helper()
	slug := fmt.Sprintf("retrieval-%d", shopCounter.Add(1))
	shop, created, err := db.EnsureShop(context.Background(), slug, "Test "+slug)
	if err != nil {
		t.Fatalf("EnsureShop(%s): %v", slug, err)
	}
	if !created {
		t.Fatalf("EnsureShop(%s) found an existing shop", slug)
	}
	return shop
}

func money(s string) salesagent.Money {
	m, err := salesagent.ParseMoney(s)
	if err != nil {
		panic(err)
	}
	return m
}

func moneyPtr(s string) *salesagent.Money {
	m := money(s)
	return &m
}

func intPtr(n int) *int { return &n }

// variant builds a variant with Size and Colour options. A nil stock means
// the store does not track it.
func variant(sku, size, colour, price string, stock *int) salesagent.Variant {
	var options []salesagent.Option
	if size != "" {
		options = append(options, salesagent.Option{Name: "Size", Value: size})
	}
	if colour != "" {
		options = append(options, salesagent.Option{Name: "Colour", Value: colour})
	}
	return salesagent.Variant{ExternalID: sku, SKU: sku, Title: strings.TrimSpace(size + " " + colour),
		Options: options, Price: money(price), Stock: stock, Available: true}
}

// longDescription is a product description long enough to need three
// chunks.
var longDescription = strings.Join([]string{
	"The Ridgeline 45 is a trekking backpack for multi-day trips. Its adjustable back system fits torso lengths from 40 to 52 cm, and the hip belt carries most of the load so your shoulders stay fresh on long climbs.",
	"The main compartment opens from the top and from the front, so you can reach the sleeping bag at the bottom without unpacking everything. Two side pockets hold one-litre bottles, and a stretch front pocket takes a wet rain jacket.",
	"The body is made of 210-denier recycled nylon ripstop with a PFC-free water-repellent finish. A rain cover is stowed in the base pocket. All buckles are replaceable, and the frame sheet can be removed to save 180 grams.",
	"Capacity: 45 litres. Weight: 1.4 kg. Compatible with hydration bladders up to 3 litres; the hose exits on either side. Ice-axe loops and trekking-pole holders are on the front panel.",
	"Care: brush off dirt when dry, wash by hand in lukewarm water with a mild soap, and let the pack dry in the shade. Do not machine wash or tumble dry, because heat damages the coating.",
}, "\n\n")

// catalog is a small outdoor-clothing catalog with stock, prices and one
// single-variant product.
func catalog() []salesagent.Product {
	return []salesagent.Product{
		{
			ExternalID: "jacket-alpine", Handle: "alpine-rain-shell", Title: "Alpine Rain Shell Jacket",
			ProductType: "Jackets", Vendor: "Northwind", Tags: []string{"rain", "hiking"},
			Description: "A lightweight waterproof shell with taped seams and a hood that fits over a helmet. Packs into its own pocket.",
			Attributes:  map[string]string{"Material": "recycled nylon", "Fit": "regular"},
			Variants: []salesagent.Variant{
				variant("ALP-S-BLK", "S", "Black", "129.00", intPtr(0)),
				variant("ALP-M-BLK", "M", "Black", "129.00", intPtr(3)),
				variant("ALP-L-NVY", "L", "Navy", "129.00", nil),
			},
		},
		{
			ExternalID: "parka-summit", Handle: "summit-down-parka", Title: "Summit Down Parka",
			ProductType: "Jackets", Vendor: "Northwind", Tags: []string{"winter"},
			Description: "A warm down parka for city winters, filled with 700-fill responsibly sourced down.",
			Variants: []salesagent.Variant{
				variant("SUM-M", "M", "", "249.00", intPtr(0)),
				variant("SUM-L", "L", "", "249.00", intPtr(0)),
			},
		},
		{
			ExternalID: "shoe-trail", Handle: "trail-running-shoes", Title: "Trail Running Shoes",
			ProductType: "Shoes", Vendor: "Fleetfoot", Tags: []string{"running", "trail"},
			Description: "Grippy lugged outsole and a cushioned midsole for muddy trails.",
			Variants: []salesagent.Variant{
				variant("TRL-42", "42", "", "89.00", intPtr(5)),
				variant("TRL-44", "44", "", "99.00", intPtr(2)),
			},
		},
		{
			ExternalID: "base-merino", Handle: "merino-base-layer", Title: "Merino Wool Base Layer Top",
			ProductType: "Base layers", Vendor: "Northwind", Tags: []string{"merino", "thermal"},
			Description: "Soft merino wool that keeps you warm when wet and does not smell after days on the trail.",
			Variants: []salesagent.Variant{
				variant("MER-S", "S", "Grey", "59.00", intPtr(4)),
				variant("MER-M", "M", "Grey", "59.00", intPtr(4)),
			},
		},
		{
			ExternalID: "tee-cotton", Handle: "everyday-cotton-tee", Title: "Everyday Cotton T-Shirt",
			ProductType: "T-Shirts", Vendor: "Northwind",
			Description: "Organic cotton crew-neck tee.",
			Variants:    []salesagent.Variant{variant("TEE-001", "M", "White", "19.00", intPtr(10))},
		},
		{
			ExternalID: "socks-hiking", Handle: "hiking-socks-3-pack", Title: "Hiking Socks 3-Pack",
			ProductType: "Socks", Vendor: "Fleetfoot", Tags: []string{"hiking"},
			Description: "Cushioned wool-blend socks for long days in boots.",
			Variants:    []salesagent.Variant{variant("SOK-ML", "M/L", "", "14.00", intPtr(20)), variant("SOK-XL", "XL", "", "14.00", intPtr(1))},
		},
		{
			ExternalID: "pack-ridgeline", Handle: "ridgeline-45-backpack", Title: "Ridgeline 45 Trekking Backpack",
			ProductType: "Backpacks", Vendor: "Northwind", Tags: []string{"trekking"},
			Description: longDescription,
			Variants:    []salesagent.Variant{variant("RDG-45", "", "Olive", "179.00", intPtr(2))},
		},
	}
}

// documents are the shop's FAQ, a policy with sections and two size
// guides.
func documents() []salesagent.Document {
	return []salesagent.Document{
		{Kind: salesagent.KindFAQ, Source: "faq.md", Key: "shipping-time", Title: "How long does shipping take?",
			Body: "Orders leave our warehouse within 1 to 2 business days. Standard delivery then takes 3 to 5 business days within the US, and express delivery 1 to 2 days. You get a tracking link by email as soon as the parcel is on its way."},
		{Kind: salesagent.KindFAQ, Source: "faq.md", Key: "gift-cards", Title: "Do you sell gift cards?",
			Body: "Yes. Digital gift cards from $25 to $200 are sent by email and never expire."},
		{Kind: salesagent.KindFAQ, Source: "faq.md", Key: "care", Title: "How do I wash a waterproof jacket?",
			Body: "Close all zips, wash at 30 degrees with a technical cleaner, and tumble dry on low heat to restore the water-repellent finish."},
		{Kind: salesagent.KindPolicy, Source: "policies.md", Key: "returns", Title: "Returns policy",
			Body: "We want you to love your gear.\n\n## Refunds\nReturn unworn items within 30 days for a full refund to your original payment method. Refunds are issued within 5 days of the return reaching us.\n\n## Exchanges\nTo exchange an item for another size or colour, start a return and place a new order; we refund the first item when it arrives."},
		{Kind: salesagent.KindSizeGuide, Source: "size-guides.json", Key: "jackets", Title: "Jackets size guide", ProductType: "Jackets",
			Body: "Measure your chest at its widest point with your arms relaxed. If you are between sizes, choose the larger one to layer underneath.",
			Table: &salesagent.Table{Columns: []string{"Size", "Chest (cm)", "Waist (cm)"},
				Rows: [][]string{{"S", "88-94", "74-80"}, {"M", "95-101", "81-87"}, {"L", "102-108", "88-94"}, {"XL", "109-115", "95-101"}}}},
		{Kind: salesagent.KindSizeGuide, Source: "size-guides.json", Key: "shoes", Title: "Shoes size guide", ProductType: "Shoes",
			Body: "Measure your foot length from heel to longest toe, in the evening.",
			Table: &salesagent.Table{Columns: []string{"EU", "US", "Foot length (cm)"},
				Rows: [][]string{{"42", "8.5", "26.5"}, {"43", "9.5", "27.3"}, {"44", "10", "28.0"}}}},
	}
}

// fixture is an indexed shop with the catalog and documents above.
type fixture struct {
	db       *postgres.DB
	shop     *salesagent.Shop
	indexer  *retrieval.Indexer
	searcher *retrieval.Searcher
	products map[string]int64 // handle to id
	docs     map[string]int64 // key to id
	first    retrieval.IndexStats
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.DB(t)
	f := &fixture{db: db, shop: newShop(t, db), products: map[string]int64{}, docs: map[string]int64{}}
	f.indexer = retrieval.NewIndexer(db, retrieval.NewLocalEmbedder(), nil)
	f.searcher = retrieval.NewSearcher(db)

	products := catalog()
	if _, err := db.UpsertProducts(ctx, f.shop.ID, products); err != nil {
		t.Fatalf("UpsertProducts: %v", err)
	}
	for _, p := range products {
		f.products[p.Handle] = p.ID
	}
	docs := documents()
	if _, err := db.UpsertDocuments(ctx, f.shop.ID, docs); err != nil {
		t.Fatalf("UpsertDocuments: %v", err)
	}
	for _, d := range docs {
		f.docs[d.Key] = d.ID
	}

	stats, err := f.indexer.IndexShop(ctx, f.shop.ID)
	if err != nil {
		t.Fatalf("IndexShop: %v", err)
	}
	f.first = stats
	return f
}

func (f *fixture) search(t *testing.T, q retrieval.Query) []retrieval.Hit {
	t.Helper()
	hits, err := f.searcher.Search(context.Background(), f.shop, q)
	if err != nil {
		t.Fatalf("Search(%q): %v", q.Text, err)
	}
	return hits
}

// describe lists hits one per line, for failure messages.
func describe(hits []retrieval.Hit) string {
	var b strings.Builder
	for i, h := range hits {
		fmt.Fprintf(&b, "\n  %d. [%s] %s (product %d, document %d) score %.4f", i+1, h.Kind, h.Heading, h.Source.ProductID, h.Source.DocumentID, h.Score)
	}
	return b.String()
}
