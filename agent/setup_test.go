package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var shopCounter struct {
	sync.Mutex
	n int
}

// bundle is what a service test needs: a shop with an indexed catalog, a
// conversation with a known customer, and the service under test.
type bundle struct {
	db       *postgres.DB
	shop     *salesagent.Shop
	service  *Service
	registry *prometheus.Registry
	conv     *salesagent.Conversation
	ann, bob *salesagent.Customer
	faqID    int64
	returnID int64
	guideID  int64
	// docIDs maps each document's key to its id.
	docIDs map[string]int64
}

func intPtr(n int) *int { return &n }

func moneyPtr(m salesagent.Money) *salesagent.Money { return &m }

// testCatalog is a small shop: a jacket whose sizes are partly sold out, a
// shoe and a tee.
func testCatalog() []salesagent.Product {
	jacket := func(sku, size, colour string, stock int, price salesagent.Money) salesagent.Variant {
		return salesagent.Variant{
			ExternalID: sku, SKU: sku, Title: colour + " / " + size, Price: price, Stock: intPtr(stock), Available: true,
			Options: []salesagent.Option{{Name: "Size", Value: size}, {Name: "Color", Value: colour}},
		}
	}
	return []salesagent.Product{
		{
			ExternalID: "p-jacket", Handle: "summit-rain-jacket", Title: "Summit Rain Jacket", ProductType: "Jackets",
			Description: "A waterproof, breathable shell for wet hikes. Runs small: if you are between sizes, order the next size up. Packs into its own chest pocket.\n- **Care:** machine wash cold with a technical wash, then tumble dry low.",
			Variants: []salesagent.Variant{
				jacket("SRJ-BLU-S", "S", "Blue", 3, 8900),
				jacket("SRJ-BLU-M", "M", "Blue", 0, 8900),
				jacket("SRJ-BLU-L", "L", "Blue", 6, 8900),
				jacket("SRJ-BLK-M", "M", "Black", 4, 8900),
				jacket("SRJ-BLK-XL", "XL", "Black", 0, 9400),
			},
		},
		{
			ExternalID: "p-shoe", Handle: "trail-runner", Title: "Trail Runner", ProductType: "Shoes",
			Description: "A light trail running shoe with a grippy outsole. True to size.",
			Variants: []salesagent.Variant{
				{ExternalID: "TR-9", SKU: "TR-9", Title: "9", Price: 12000, Stock: intPtr(2), Available: true, Options: []salesagent.Option{{Name: "Size", Value: "9"}}},
				{ExternalID: "TR-10", SKU: "TR-10", Title: "10", Price: 12000, Stock: intPtr(7), Available: true, Options: []salesagent.Option{{Name: "Size", Value: "10"}}},
			},
		},
		{
			ExternalID: "p-tee", Handle: "merino-tee", Title: "Merino Tee", ProductType: "Tops",
			Description: "A soft merino wool tee that resists odour on long trips.",
			Variants: []salesagent.Variant{
				{ExternalID: "MT-M", SKU: "MT-M", Title: "M", Price: 3400, CompareAtPrice: moneyPtr(4200), Stock: intPtr(10), Available: true, Options: []salesagent.Option{{Name: "Size", Value: "M"}}},
			},
		},
	}
}

func testDocuments() []salesagent.Document {
	return []salesagent.Document{
		{
			Kind: salesagent.KindFAQ, Source: "test", Key: "shipping", Title: "Shipping",
			Body: "Where do you ship?\nWe ship to the United States and Canada. Shipping to Canada costs $15.00 and takes 5 to 8 business days. Orders over $100 ship free within the United States.",
		},
		{
			Kind: salesagent.KindPolicy, Source: "test", Key: "returns", Title: "Returns and exchanges",
			Body: "You can return unworn items within 30 days of delivery for a full refund. Worn shoes cannot be returned unless they are faulty. Exchanges for another size are free.",
		},
		{
			Kind: salesagent.KindSizeGuide, Source: "test", Key: "jackets", Title: "Jackets size guide", ProductType: "Jackets",
			Body: "Measure your chest at its fullest point.",
			Table: &salesagent.Table{
				Columns: []string{"Size", "Chest (cm)", "Height (cm)"},
				Rows:    [][]string{{"S", "86-93", "160-170"}, {"M", "94-101", "170-180"}, {"L", "102-109", "178-188"}, {"XL", "110-117", "185-195"}},
				Notes:   "Between sizes, take the larger one.",
			},
		},
	}
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, testDocuments())
}

// setupWith builds a bundle whose shop has the test catalog and docs.
func setupWith(t *testing.T, docs []salesagent.Document) *bundle {
	t.Helper()
	return setupCatalog(t, testCatalog(), docs)
}

// setupCatalog builds a bundle whose shop has the given products and docs.
func setupCatalog(t *testing.T, products []salesagent.Product, docs []salesagent.Document) *bundle {
	t.Helper()
	db := pgtest.DB(t)
	ctx := context.Background()

	shopCounter.Lock()
	shopCounter.n++
	slug := fmt.Sprintf("agent-%d-%d", time.Now().UnixNano()%1e6, shopCounter.n)
	shopCounter.Unlock()
	shop, _, err := db.EnsureShop(ctx, slug, "Northwind")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := db.UpsertProducts(ctx, shop.ID, products); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertDocuments(ctx, shop.ID, docs); err != nil {
		t.Fatal(err)
	}
	embedder := retrieval.NewLocalEmbedder()
	if _, err := retrieval.NewIndexer(db, embedder, nil).IndexShop(ctx, shop.ID); err != nil {
		t.Fatalf("index shop: %v", err)
	}

	ids, err := db.UpsertCustomers(ctx, shop.ID, []salesagent.Customer{
		{ExternalID: "c-ann", Email: "ann@example.com", Name: "Ann"},
		{ExternalID: "c-bob", Email: "bob@example.com", Name: "Bob"},
	})
	if err != nil {
		t.Fatal(err)
	}
	annID, bobID := ids["c-ann"], ids["c-bob"]
	placed := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
	total := salesagent.Money(8900)
	err = db.UpsertOrders(ctx, shop.ID, []salesagent.Order{
		{
			CustomerID: &annID, Number: "#1001", Status: "shipped", PlacedAt: &placed, Total: &total,
			Items:        []salesagent.OrderItem{{Name: "Summit Rain Jacket", SKU: "SRJ-BLU-S", Price: 8900, Quantity: 1, Options: []salesagent.Option{{Name: "Size", Value: "S"}}}},
			Fulfillments: []salesagent.Fulfillment{{Carrier: "UPS", TrackingIDs: []string{"1Z999AA10123456784"}}},
		},
		{CustomerID: &bobID, Number: "#1002", Status: "processing", Items: []salesagent.OrderItem{{Name: "Merino Tee", Price: 3400, Quantity: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}

	anon, err := db.CreateCustomer(ctx, shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, []byte(slug), &anon.ID)
	if err != nil {
		t.Fatal(err)
	}

	registry := prometheus.NewRegistry()
	metrics, err := NewMetrics(registry)
	if err != nil {
		t.Fatal(err)
	}
	service := NewService(db, retrieval.NewSearcher(db, embedder), nil)
	service.Metrics = metrics

	b := &bundle{db: db, shop: shop, service: service, registry: registry, conv: conv, docIDs: map[string]int64{}}
	b.ann, _ = db.CustomerByID(ctx, shop.ID, annID)
	b.bob, _ = db.CustomerByID(ctx, shop.ID, bobID)
	for _, d := range docs {
		b.docIDs[d.Key] = d.ID
		switch d.Key {
		case "shipping":
			b.faqID = d.ID
		case "returns":
			b.returnID = d.ID
		case "jackets":
			b.guideID = d.ID
		}
	}
	return b
}

// recorder is an Emitter that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []StreamEvent
}

func (r *recorder) Emit(_ context.Context, e StreamEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) ofType(typ StreamEventType) []StreamEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []StreamEvent
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) text() string {
	var b strings.Builder
	for _, e := range r.ofType(StreamDelta) {
		b.WriteString(e.Text)
	}
	return b.String()
}

// turnResult is one HandleMessage call's output.
type turnResult struct {
	reply  salesagent.Message
	stream *recorder
	sent   salesagent.Message
}

// say stores a shopper message, as the channel does, and runs the turn.
func (b *bundle) say(t *testing.T, text string, page PageContext) turnResult {
	t.Helper()
	ctx := context.Background()
	sent, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: b.conv.ID, Role: salesagent.RoleShopper, Body: text})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	reply, err := b.service.HandleMessage(ctx, b.shop, b.conv, sent, page, rec)
	if err != nil {
		t.Fatalf("HandleMessage(%q): %v", text, err)
	}
	return turnResult{reply: reply, stream: rec, sent: sent}
}

func (b *bundle) events(t *testing.T) []salesagent.Event {
	t.Helper()
	events, err := b.db.ConversationEvents(context.Background(), b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func countEvents(events []salesagent.Event, eventType, dataContains string) int {
	n := 0
	for _, e := range events {
		if e.Type == eventType && strings.Contains(string(e.Data), dataContains) {
			n++
		}
	}
	return n
}

func cardOf(m salesagent.Message, cardType string) *salesagent.Card {
	for i := range m.Cards {
		if m.Cards[i].Type == cardType {
			return &m.Cards[i]
		}
	}
	return nil
}

var jacketPage = PageContext{ProductHandle: "summit-rain-jacket", URL: "https://shop.example/products/summit-rain-jacket"}
