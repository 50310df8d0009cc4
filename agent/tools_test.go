package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

func TestRegistryDefinitionsAreSchemas(t *testing.T) {
	t.Parallel()
	tools := DefaultRegistry().Tools()
	want := []string{"apply_discount", "escalate_to_human", "order_status", "save_cart", "search_products", "send_size_guide"}
	if len(tools) != len(want) {
		t.Fatalf("registry has %d tools, want %d", len(tools), len(want))
	}
	for i, tool := range tools {
		if tool.Name != want[i] {
			t.Errorf("tool %d is %s, want %s", i, tool.Name, want[i])
		}
		if tool.Description == "" {
			t.Errorf("tool %s has no description", tool.Name)
		}
		var schema struct {
			Type                 string                     `json:"type"`
			Properties           map[string]json.RawMessage `json:"properties"`
			Required             []string                   `json:"required"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
		}
		if err := json.Unmarshal(tool.Parameters, &schema); err != nil {
			t.Errorf("tool %s parameters are not JSON: %v", tool.Name, err)
			continue
		}
		if schema.Type != "object" || len(schema.Properties) == 0 {
			t.Errorf("tool %s parameters are not an object schema with properties", tool.Name)
		}
		if schema.AdditionalProperties == nil || *schema.AdditionalProperties {
			t.Errorf("tool %s schema allows unknown arguments, but Run rejects them", tool.Name)
		}
		for _, name := range schema.Required {
			if _, ok := schema.Properties[name]; !ok {
				t.Errorf("tool %s requires %q, which it does not define", tool.Name, name)
			}
		}
	}
}

func TestToolsRejectBadArguments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.toolbox(t, jacketPage)
	ctx := context.Background()
	cases := []struct {
		tool, args, wantInMessage string
	}{
		{"search_products", `{"query": ""}`, "needs a query"},
		{"search_products", `{"query": "jacket", "colour": "red"}`, `unknown field "colour"`},
		{"search_products", `{"query": "jacket", "max_price": -5}`, "max_price -5 is invalid"},
		{"search_products", `{"query": "jacket", "limit": 50}`, "limit 50 is out of range"},
		{"search_products", `{"query": 7}`, `field "query" must be a string`},
		{"send_size_guide", `{"product": "no-such-thing"}`, `no product has the handle or SKU "no-such-thing"`},
		{"send_size_guide", `{"product_type": "Hats"}`, "no size guide for Hats"},
		{"save_cart", `{"items": [{"sku": "SRJ-BLU-S", "qty": 0}]}`, "qty 0"},
		{"save_cart", `{"items": [{"sku": "NOPE", "qty": 1}]}`, `SKU "NOPE", which the shop does not sell`},
		{"order_status", `{}`, "invalid order number"},
		{"order_status", `{"order_number": "1001; DROP TABLE"}`, "invalid order number"},
		{"order_status", `{"order_number": "1001", "email": "not-an-email"}`, `invalid email address "not-an-email"`},
		{"escalate_to_human", `{"reason": "  "}`, "needs a reason"},
		{"no_such_tool", `{}`, `unknown tool "no_such_tool"`},
	}
	for _, tc := range cases {
		_, err := tb.Call(ctx, tc.tool, json.RawMessage(tc.args))
		if err == nil {
			t.Errorf("%s(%s) succeeded, want a rejection", tc.tool, tc.args)
			continue
		}
		if code := salesagent.ErrorCode(err); code == salesagent.EINTERNAL {
			t.Errorf("%s(%s) failed with %v, want a rejection with a shopper-safe message", tc.tool, tc.args, err)
		}
		if msg := salesagent.ErrorMessage(err); !strings.Contains(msg, tc.wantInMessage) {
			t.Errorf("%s(%s) message %q, want it to contain %q", tc.tool, tc.args, msg, tc.wantInMessage)
		}
	}
	// Every call but the unknown tool is kept for the turn's events.
	if got := len(tb.Calls()); got != len(cases)-1 {
		t.Errorf("toolbox kept %d calls, want %d", got, len(cases)-1)
	}
}

func TestSearchProductsFiltersByPriceAndStock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.toolbox(t, PageContext{})
	ctx := context.Background()

	result, err := tb.Call(ctx, "search_products", json.RawMessage(`{"query": "rain jacket", "max_price": 90}`))
	if err != nil {
		t.Fatal(err)
	}
	data := result.Data.(SearchProductsData)
	if len(data.Products) != 1 || data.Products[0].Price != "$89.00" {
		t.Errorf("products under $90 = %+v, want the jacket priced only by its $89.00 variants", data.Products)
	}

	result, err = tb.Call(ctx, "search_products", json.RawMessage(`{"query": "rain jacket", "max_price": 50}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(result.Data.(SearchProductsData).Products); n != 0 || result.Card != nil {
		t.Errorf("products under $50 = %d with card %v, want none", n, result.Card)
	}
}

func TestSendSizeGuideByProductType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.toolbox(t, PageContext{})
	result, err := tb.Call(context.Background(), "send_size_guide", json.RawMessage(`{"product_type": "jackets"}`))
	if err != nil {
		t.Fatal(err)
	}
	data := result.Data.(SizeGuideData)
	if data.Title != "Jackets size guide" || data.Table == nil || len(data.Table.Rows) != 4 {
		t.Errorf("size guide = %+v, want the jackets guide with 4 rows", data)
	}
	if data.ProductTitle != "" || len(data.SizesInStock) != 0 {
		t.Errorf("guide by type reports product facts: %+v", data)
	}
	if result.Card == nil || result.Card.Type != salesagent.CardSizeGuide {
		t.Errorf("card = %+v, want a size_guide card", result.Card)
	}
}

// toolbox returns a toolbox for a turn on the bundle's conversation.
func (b *bundle) toolbox(t *testing.T, page PageContext) *Toolbox {
	t.Helper()
	ctx := context.Background()
	conv, err := b.db.ConversationByID(ctx, b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	product, err := b.service.productInView(ctx, b.shop.ID, page)
	if err != nil {
		t.Fatal(err)
	}
	turn := &Turn{Shop: b.shop, Conversation: conv, Page: page, Product: product}
	return &Toolbox{
		registry: b.service.registry, out: &recorder{}, logger: b.service.logger,
		env: ToolEnv{DB: b.db, Search: b.service.search, Turn: turn},
	}
}

// TestSearchProductsKeepsSynonymMatches checks that a product the search
// found only through the shop's synonyms reaches the shopper: "sneakers"
// shares no word with "Trail Runner".
func TestSearchProductsKeepsSynonymMatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rules := []salesagent.SynonymRule{{Line: 1, Inputs: []string{"sneakers"}, Outputs: []string{"trail runner"}}}
	if err := b.db.ReplaceSynonyms(ctx, b.shop.ID, rules); err != nil {
		t.Fatal(err)
	}
	tb := b.toolbox(t, PageContext{})

	result, err := tb.Call(ctx, "search_products", json.RawMessage(`{"query": "sneakers"}`))
	if err != nil {
		t.Fatal(err)
	}
	data := result.Data.(SearchProductsData)
	if len(data.Products) == 0 || data.Products[0].Title != "Trail Runner" {
		t.Fatalf("products for sneakers = %+v, want the Trail Runner first", data.Products)
	}

	// Without the synonym, the product shares no word with the query and
	// would be dropped as unrelated.
	shoe := &salesagent.Product{Title: "Trail Runner", ProductType: "Shoes"}
	if kept := keepMatching([]*salesagent.Product{shoe}, "sneakers", nil, true); len(kept) != 0 {
		t.Errorf("keepMatching without alternatives kept %d products, want 0", len(kept))
	}

	// A phrase alternative must be named whole.
	shell := &salesagent.Product{Title: "Rain Shell", Description: "Sheds water on wet days."}
	bottle := &salesagent.Product{Title: "Insulated Water Bottle"}
	keptProducts := keepMatching([]*salesagent.Product{shell, bottle}, "flask", []retrieval.Alternative{{For: "flask", Text: "water <-> bottl"}}, true)
	if len(keptProducts) != 1 || keptProducts[0] != bottle {
		t.Errorf("keepMatching for flask with alternative \"water bottle\" kept %d products, want only the bottle", len(keptProducts))
	}
}
