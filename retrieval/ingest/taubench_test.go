package ingest

import (
	"slices"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestTauBenchData(t *testing.T) {
	t.Parallel()
	dataDir := sharedData(t, "tau-bench-retail", "v1", "data")
	done := 0
	batch, rowErrs, err := ParsePaths([]string{dataDir}, "", func(d, total int) {
		done = d
		if total != 4 {
			t.Errorf("progress total = %d, want 4 (three data files and wiki.md)", total)
		}
	})
	if err != nil {
		t.Fatalf("ParsePaths(%s): %v", dataDir, err)
	}
	noRowErrors(t, rowErrs)
	if done != 4 {
		t.Errorf("progress reached %d, want 4", done)
	}

	variants, available := 0, 0
	for _, p := range batch.Products {
		for _, v := range p.Variants {
			variants++
			if v.Available {
				available++
			}
			if v.Stock != nil {
				t.Errorf("variant %s has stock %d; τ-bench only has an available flag", v.SKU, *v.Stock)
			}
		}
	}
	if len(batch.Products) != 50 || variants != 591 || available != 379 {
		t.Errorf("got %d products, %d variants, %d available; want 50, 591, 379", len(batch.Products), variants, available)
	}
	if len(batch.Customers) != 500 || len(batch.Orders) != 1000 {
		t.Errorf("got %d customers and %d orders, want 500 and 1000", len(batch.Customers), len(batch.Orders))
	}
	if len(batch.Documents) != 8 || batch.Documents[0].Kind != salesagent.KindPolicy {
		t.Errorf("got %d policy documents from wiki.md, want 8", len(batch.Documents))
	}

	tee := productByID(t, batch, "9523456873")
	if tee.Title != "T-Shirt" || tee.ProductType != "T-Shirt" || tee.Handle != "t-shirt-9523456873" {
		t.Errorf("t-shirt = %q / %q / %q", tee.Title, tee.ProductType, tee.Handle)
	}
	blueM := variantBySKU(t, tee, "9612497925")
	wantOptions := []salesagent.Option{{Name: "Color", Value: "blue"}, {Name: "Size", Value: "M"}, {Name: "Material", Value: "cotton"}, {Name: "Style", Value: "crew neck"}}
	if !slices.Equal(blueM.Options, wantOptions) || blueM.Price != money(t, "50.88") || blueM.Title != "blue / M / cotton / crew neck" {
		t.Errorf("variant 9612497925 = %+v", blueM)
	}

	statuses := map[string]int{}
	for _, o := range batch.Orders {
		statuses[o.Status]++
	}
	wantStatuses := map[string]int{"pending": 423, "delivered": 373, "processed": 102, "cancelled": 102}
	for status, want := range wantStatuses {
		if statuses[status] != want {
			t.Errorf("%d %s orders, want %d", statuses[status], status, want)
		}
	}

	order := batch.Orders[slices.IndexFunc(batch.Orders, func(o Order) bool { return o.Number == "#W2611340" })]
	if order.CustomerExternalID != "james_li_5688" || order.Status != "processed" || len(order.Items) != 2 {
		t.Fatalf("order #W2611340 = %+v", order)
	}
	bottle := order.Items[0]
	if bottle.Name != "Water Bottle" || bottle.SKU != "6469567736" || bottle.ProductID != "8310926033" || bottle.Price != money(t, "47.84") || bottle.Quantity != 1 {
		t.Errorf("first item = %+v", bottle)
	}
	if bottle.Options[0] != (salesagent.Option{Name: "Capacity", Value: "1000ml"}) {
		t.Errorf("first item options = %+v", bottle.Options)
	}
	if chair := order.Items[1]; chair.Options[3] != (salesagent.Option{Name: "Backrest Height", Value: "standard"}) {
		t.Errorf("second item options = %+v", chair.Options)
	}
	if order.Total == nil || *order.Total != money(t, "536.65") {
		t.Errorf("total = %v, want 536.65", order.Total)
	}
	if len(order.Fulfillments) != 1 || !slices.Equal(order.Fulfillments[0].TrackingIDs, []string{"357962501027"}) ||
		!slices.Equal(order.Fulfillments[0].ItemSKUs, []string{"6469567736", "8426249116"}) {
		t.Errorf("fulfillments = %+v", order.Fulfillments)
	}

	noah := batch.Customers[slices.IndexFunc(batch.Customers, func(c salesagent.Customer) bool { return c.ExternalID == "noah_brown_6181" })]
	if noah.Name != "Noah Brown" || noah.Email != "noah.brown7922@example.com" {
		t.Errorf("customer noah_brown_6181 = %+v", noah)
	}
}

func TestTauBenchSingleFile(t *testing.T) {
	t.Parallel()
	path := sharedData(t, "tau-bench-retail", "v1", "data", "orders.json")
	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)
	if len(batch.Orders) != 1000 || len(batch.Products) != 0 || len(batch.Customers) != 0 {
		t.Errorf("orders.json gave %d orders, %d products, %d customers; want 1000, 0, 0", len(batch.Orders), len(batch.Products), len(batch.Customers))
	}
	if batch.Orders[0].Number != "#W2611340" {
		t.Errorf("first order = %q, want file order kept (#W2611340)", batch.Orders[0].Number)
	}
}

func TestTauBenchBadEntries(t *testing.T) {
	t.Parallel()
	const orders = `{
  "#W1": {"order_id": "#W1", "user_id": "ann_1", "status": "pending",
          "items": [{"name": "Mug", "product_id": "1", "item_id": "11", "price": 9.5, "options": {"color": "red"}}],
          "fulfillments": []},
  "#W2": {"order_id": "#W2", "user_id": "bo_2", "status": "pending",
          "items": [{"name": "Mug", "product_id": "1", "item_id": "11", "price": 1e3, "options": {}}],
          "fulfillments": []}
}`
	path := writeTemp(t, "orders.json", orders)
	batch, rowErrs := mustParse(t, path, FormatTauBench)

	if len(batch.Orders) != 1 || batch.Orders[0].Number != "#W1" {
		t.Fatalf("orders = %+v, want only #W1", batch.Orders)
	}
	if *batch.Orders[0].Total != money(t, "9.50") || batch.Orders[0].Fulfillments != nil {
		t.Errorf("order #W1 = %+v", batch.Orders[0])
	}
	if len(rowErrs) != 1 {
		t.Fatalf("row errors = %v, want 1", rowErrs)
	}
	e := rowErrs[0]
	if e.File != "orders.json" || e.Line != 5 || e.Field != "#W2.items[0].price" || !strings.Contains(e.Error(), `invalid price "1e3"`) {
		t.Errorf("row error = %v (line %d, field %q)", e, e.Line, e.Field)
	}
}
