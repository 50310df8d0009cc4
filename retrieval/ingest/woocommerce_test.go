package ingest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
)

func TestWooCommerceRealData(t *testing.T) {
	t.Parallel()
	dir := sharedData(t, "woocommerce", "rest-api-v3-examples")

	batch, rowErrs, err := ParsePaths([]string{dir}, "", nil)
	if err != nil {
		t.Fatalf("ParsePaths(%s): %v", dir, err)
	}

	// The variable product "Ship Your Idea" has no price and no variations
	// in the example, and product 794 and order 727 appear both alone and
	// in the lists.
	if len(rowErrs) != 3 {
		t.Errorf("got %d row errors, want 3: %v", len(rowErrs), rowErrs)
	}
	noPrice, ok := findRowError(rowErrs, "variable product 799 has no price")
	if !ok {
		t.Errorf("no row error for the unpriced variable product 799 in %v", rowErrs)
	} else if noPrice.File != "products_list.json" || noPrice.Field != "[0].price" || !strings.Contains(noPrice.Error(), "fix: give the product's variations prices") {
		t.Errorf("row error for product 799 = %v", noPrice)
	}
	if _, ok := findRowError(rowErrs, `duplicate product id "794"`); !ok {
		t.Errorf("no duplicate row error for product 794 in %v", rowErrs)
	}
	if _, ok := findRowError(rowErrs, `duplicate order number "727"`); !ok {
		t.Errorf("no duplicate row error for order 727 in %v", rowErrs)
	}

	if len(batch.Products) != 1 {
		t.Fatalf("got %d products, want 1 (794)", len(batch.Products))
	}
	premium := productByID(t, batch, "794")
	if premium.Title != "Premium Quality" || premium.Handle != "premium-quality-19" || premium.ProductType != "Clothing" {
		t.Errorf("product 794 = %q / %q / %q", premium.Title, premium.Handle, premium.ProductType)
	}
	if premium.ImageURL != "https://example.com/wp-content/uploads/2017/03/T_2_front-4.jpg" {
		t.Errorf("image = %q", premium.ImageURL)
	}
	if premium.Attributes["category"] != "Clothing, T-shirts" {
		t.Errorf("category attribute = %q", premium.Attributes["category"])
	}
	if !strings.HasPrefix(premium.Description, "Pellentesque habitant morbi tristique") || strings.Contains(premium.Description, "<p>") {
		t.Errorf("description = %q", premium.Description)
	}
	v := variantBySKU(t, premium, "woocommerce-794")
	// product.json is read before product_deleted.json (24.54), which
	// loads nothing.
	if v.Price != money(t, "21.99") || v.CompareAtPrice != nil || v.Stock != nil || !v.Available {
		t.Errorf("variant of 794 = %+v", v)
	}

	if len(batch.Customers) != 1 {
		t.Fatalf("got %d customers, want 1", len(batch.Customers))
	}
	john := batch.Customers[0]
	want := salesagent.Customer{ExternalID: "25", Email: "john.doe@example.com", Name: "John Doe", Phone: "(555) 555-5555"}
	if john.ExternalID != want.ExternalID || john.Email != want.Email || john.Name != want.Name || john.Phone != want.Phone {
		t.Errorf("customer = %+v, want %+v", john, want)
	}

	if len(batch.Orders) != 2 {
		t.Fatalf("got %d orders, want 727 and 723", len(batch.Orders))
	}
	guest := batch.Orders[slices.IndexFunc(batch.Orders, func(o Order) bool { return o.Number == "727" })]
	if guest.Status != "processing" || *guest.Total != money(t, "29.35") || guest.CustomerEmail != "john.doe@example.com" {
		t.Errorf("order 727 = %+v", guest)
	}
	if guest.CustomerExternalID != "25" {
		t.Errorf("guest order 727 linked to customer %q, want 25 by its billing email", guest.CustomerExternalID)
	}
	if guest.PlacedAt == nil || !guest.PlacedAt.Equal(time.Date(2017, 3, 22, 19, 28, 2, 0, time.UTC)) {
		t.Errorf("order 727 placed at %v, want 2017-03-22 19:28:02 UTC", guest.PlacedAt)
	}
	if len(guest.Items) != 2 {
		t.Fatalf("order 727 has %d items, want 2", len(guest.Items))
	}
	single := guest.Items[0]
	if single.Name != "Woo Single #1" || single.SKU != "woocommerce-93" || single.ProductID != "93" || single.Quantity != 2 || single.Price != money(t, "3") {
		t.Errorf("first item of 727 = %+v", single)
	}
	shirt := guest.Items[1]
	if shirt.Name != "Ship Your Idea – Color: Black, Size: M Test" || shirt.SKU != "Bar3" || shirt.Quantity != 1 || shirt.Price != money(t, "12") {
		t.Errorf("second item of 727 = %+v", shirt)
	}
	wantOptions := []salesagent.Option{{Name: "Color", Value: "black"}, {Name: "Size", Value: "M Test"}}
	if !slices.Equal(shirt.Options, wantOptions) {
		t.Errorf("options of the second item = %+v, want %+v", shirt.Options, wantOptions)
	}

	registered := batch.Orders[slices.IndexFunc(batch.Orders, func(o Order) bool { return o.Number == "723" })]
	if registered.Status != "completed" || *registered.Total != money(t, "39.00") || registered.CustomerExternalID != "26" || registered.CustomerEmail != "" {
		t.Errorf("order 723 = %+v", registered)
	}
	if len(registered.Items) != 2 || registered.Items[1].Name != "Woo Ninja" || registered.Items[1].Price != money(t, "20") {
		t.Errorf("items of 723 = %+v", registered.Items)
	}
}

func TestWooCommerceDeletedFilesLoadNothing(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"product_deleted.json", "order_deleted.json"} {
		path := sharedData(t, "woocommerce", "rest-api-v3-examples", name)
		if got, err := Detect(path); err != nil || got != FormatWooCommerceJSON {
			t.Errorf("Detect(%s) = %q, %v; want %q", name, got, err, FormatWooCommerceJSON)
		}
		batch, rowErrs := mustParse(t, path, "")
		noRowErrors(t, rowErrs)
		if len(batch.Products)+len(batch.Orders) != 0 {
			t.Errorf("%s loaded %d products and %d orders, want none", name, len(batch.Products), len(batch.Orders))
		}
	}
}

func TestDetectWooCommerceRealData(t *testing.T) {
	t.Parallel()
	dir := sharedData(t, "woocommerce", "rest-api-v3-examples")
	for _, name := range []string{"products_list.json", "product.json", "customer.json", "orders_list.json", "order.json"} {
		if got, err := Detect(filepath.Join(dir, name)); err != nil || got != FormatWooCommerceJSON {
			t.Errorf("Detect(%s) = %q, %v; want %q", name, got, err, FormatWooCommerceJSON)
		}
	}
}

func TestDetectWooCommerceInline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    Format
	}{
		{"product.json", `{"id": 1, "name": "Mug", "permalink": "https://shop.test/mug/", "type": "simple", "regular_price": "5"}`, FormatWooCommerceJSON},
		{"products.json", `[{"id": 1, "name": "Mug", "stock_status": "instock"}]`, FormatWooCommerceJSON},
		{"customer.json", `{"id": 2, "email": "a@example.com", "billing": {}, "shipping": {}}`, FormatWooCommerceJSON},
		{"order.json", `{"id": 3, "order_key": "wc_order_x", "line_items": []}`, FormatWooCommerceJSON},
		{"orders.json", `[{"id": 3, "number": "3", "billing": {}, "line_items": []}]`, FormatWooCommerceJSON},
		// A Shopify order has "number" and "line_items" but no "order_key"
		// and no "billing", so it stays unsupported.
		{"shopify-order.json", `{"id": 4, "number": 1, "line_items": [], "billing_address": {}}`, ""},
		{"products-shopify.json", `[{"id": 1, "title": "T", "variants": []}]`, FormatShopifyJSON},
	}
	for _, tt := range tests {
		got, err := Detect(writeTemp(t, tt.name, tt.content))
		if tt.want == "" {
			if err == nil {
				t.Errorf("Detect(%s) = %q, want an error", tt.name, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Detect(%s) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// wooProductJSON returns a published simple product with the given extra
// fields, which replace the defaults of the same name.
func wooProductJSON(id, extra string) string {
	return `{"id": ` + id + `, "name": "Tee ` + id + `", "slug": "tee-` + id + `", "type": "simple", "status": "publish",
		"sku": "TEE-` + id + `", "price": "20.00", "regular_price": "20.00", "sale_price": "",
		"manage_stock": false, "stock_quantity": null, "stock_status": "instock"` + extra + `}`
}

// parseWoo parses inline WooCommerce JSON and fails the test on a
// whole-file error.
func parseWoo(t *testing.T, name, content string) (*Batch, []RowError) {
	t.Helper()
	batch, rowErrs, err := parseWooCommerceJSON(name, []byte(content))
	if err != nil {
		t.Fatalf("parseWooCommerceJSON(%s): %v", name, err)
	}
	return batch, rowErrs
}

func TestWooCommerceSalePrice(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "products.json", `[`+
		wooProductJSON("1", `, "price": "15.00", "sale_price": "15.00", "on_sale": true`)+`,`+
		wooProductJSON("2", `, "price": "", "sale_price": "12.50", "on_sale": true`)+`,`+
		wooProductJSON("3", `, "sale_price": "15.00", "on_sale": false`)+`]`)
	noRowErrors(t, rowErrs)

	tests := []struct {
		id, price, compareAt string
	}{
		{"1", "15.00", "20.00"},
		{"2", "12.50", "20.00"},
		// A scheduled sale leaves "price" at the regular price.
		{"3", "20.00", ""},
	}
	for _, tt := range tests {
		v := variantBySKU(t, productByID(t, batch, tt.id), "TEE-"+tt.id)
		if v.Price != money(t, tt.price) {
			t.Errorf("product %s price = %s, want %s", tt.id, v.Price, tt.price)
		}
		switch {
		case tt.compareAt == "" && v.CompareAtPrice != nil:
			t.Errorf("product %s compare-at = %s, want none", tt.id, *v.CompareAtPrice)
		case tt.compareAt != "" && (v.CompareAtPrice == nil || *v.CompareAtPrice != money(t, tt.compareAt)):
			t.Errorf("product %s compare-at = %v, want %s", tt.id, v.CompareAtPrice, tt.compareAt)
		}
	}
}

func TestWooCommerceNamesWithHTML(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "products.json", `[`+
		wooProductJSON("1", `, "name": "<b>Bold</b> Hat &amp; Scarf"`)+`,`+
		wooProductJSON("2", `, "name": "Tom & Jerry <3 Tee"`)+`]`)
	noRowErrors(t, rowErrs)
	if got := productByID(t, batch, "1").Title; got != "Bold Hat & Scarf" {
		t.Errorf("name with tags and entities = %q, want %q", got, "Bold Hat & Scarf")
	}
	if got := productByID(t, batch, "2").Title; got != "Tom & Jerry <3 Tee" {
		t.Errorf("name with a bare & and <3 = %q, want it unchanged", got)
	}

	orders, rowErrs := parseWoo(t, "orders.json", `[{"id": 1, "number": "1", "order_key": "k", "status": "completed",
		"line_items": [{"name": "<em>Bold</em> Hat &amp; Scarf", "product_id": 1, "quantity": 1, "price": "5.00"}]}]`)
	noRowErrors(t, rowErrs)
	if got := orders.Orders[0].Items[0].Name; got != "Bold Hat & Scarf" {
		t.Errorf("order line name = %q, want %q", got, "Bold Hat & Scarf")
	}
}

func TestWooCommerceStock(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "products.json", `[`+
		wooProductJSON("1", `, "stock_status": "outofstock"`)+`,`+
		wooProductJSON("2", `, "manage_stock": true, "stock_quantity": 7, "backorders": "no"`)+`,`+
		wooProductJSON("3", `, "manage_stock": false, "stock_quantity": 7`)+`,`+
		wooProductJSON("4", `, "manage_stock": true, "stock_quantity": 0, "backorders": "notify", "stock_status": "onbackorder"`)+`]`)
	noRowErrors(t, rowErrs)

	tests := []struct {
		id        string
		stock     int
		available bool
		inStock   bool
	}{
		{"1", -1, false, false},
		{"2", 7, true, true},
		{"3", -1, true, true},
		{"4", -1, true, true},
	}
	for _, tt := range tests {
		v := variantBySKU(t, productByID(t, batch, tt.id), "TEE-"+tt.id)
		if stockOf(v) != tt.stock || v.Available != tt.available || v.InStock() != tt.inStock {
			t.Errorf("product %s: stock %d, available %v, in stock %v; want %d, %v, %v",
				tt.id, stockOf(v), v.Available, v.InStock(), tt.stock, tt.available, tt.inStock)
		}
	}
	if got := productByID(t, batch, "4").Attributes["stock_status"]; got != "on backorder" {
		t.Errorf("backorder product stock_status attribute = %q", got)
	}
}

func TestWooCommerceVariableProduct(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "product.json", wooProductJSON("9", `, "type": "variable", "sku": "", "price": "18.00", "regular_price": "",
		"description": "<p>Soft <b>cotton</b>.</p>", "short_description": "<p>Our best tee.</p>",
		"categories": [{"id": 3, "name": "Tops &amp; Tees"}, {"id": 4, "name": "Sale"}],
		"tags": [{"id": 5, "name": "summer"}],
		"images": [{"id": 6, "src": "https://shop.test/tee.jpg"}],
		"attributes": [
			{"id": 1, "name": "Color", "visible": false, "variation": true, "options": ["Black", "Green"]},
			{"id": 0, "name": "Fabric Weight", "visible": true, "variation": false, "options": ["180 gsm"]},
			{"id": 0, "name": "Internal", "visible": false, "variation": false, "options": ["x"]}],
		"variations": [101, 102]`))
	noRowErrors(t, rowErrs)

	p := productByID(t, batch, "9")
	if len(p.Variants) != 1 {
		t.Fatalf("variable product has %d variants, want 1 built from its own price", len(p.Variants))
	}
	v := p.Variants[0]
	if v.SKU != "woocommerce-9" || v.Price != money(t, "18.00") || v.CompareAtPrice != nil {
		t.Errorf("variant = %+v", v)
	}
	if p.ProductType != "Tops & Tees" || p.Attributes["category"] != "Tops & Tees, Sale" {
		t.Errorf("product type %q, category %q", p.ProductType, p.Attributes["category"])
	}
	if p.Attributes["color"] != "Black, Green" || p.Attributes["fabric_weight"] != "180 gsm" {
		t.Errorf("attributes = %v", p.Attributes)
	}
	if _, ok := p.Attributes["internal"]; ok {
		t.Errorf("hidden attribute loaded: %v", p.Attributes)
	}
	if p.Description != "Our best tee.\n\nSoft cotton." {
		t.Errorf("description = %q", p.Description)
	}
	if !slices.Equal(p.Tags, []string{"summer"}) || p.ImageURL != "https://shop.test/tee.jpg" {
		t.Errorf("tags %q, image %q", p.Tags, p.ImageURL)
	}
}

func TestWooCommerceSkipsUnpublished(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "products.json", `[`+
		wooProductJSON("1", `, "status": "draft"`)+`,`+
		wooProductJSON("2", `, "status": "private"`)+`,`+
		wooProductJSON("3", `, "status": "trash"`)+`,`+
		wooProductJSON("4", `, "status": "draft", "price": "oops"`)+`,`+
		wooProductJSON("5", ``)+`]`)
	noRowErrors(t, rowErrs)
	if len(batch.Products) != 1 || batch.Products[0].ExternalID != "5" {
		t.Errorf("got %d products, want only the published product 5", len(batch.Products))
	}

	orders, rowErrs := parseWoo(t, "orders.json", `[
		{"id": 1, "number": "1", "order_key": "k1", "status": "trash", "line_items": []},
		{"id": 2, "number": "2", "order_key": "k2", "status": "on-hold", "line_items": []}]`)
	noRowErrors(t, rowErrs)
	if len(orders.Orders) != 1 || orders.Orders[0].Number != "2" || orders.Orders[0].Status != "on hold" {
		t.Errorf("orders = %+v, want only order 2, on hold", orders.Orders)
	}
}

func TestWooCommerceBadRows(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "products.json", `[`+
		wooProductJSON("1", `, "price": "twelve"`)+`,`+
		wooProductJSON("2", `, "name": ""`)+`,`+
		wooProductJSON("3", `, "price": "", "regular_price": ""`)+`,`+
		wooProductJSON("4", `, "manage_stock": true, "stock_quantity": 2.5`)+`,`+
		`{"id": 5, "title": "not woo"}`+`,`+
		wooProductJSON("6", ``)+`]`)

	if len(batch.Products) != 1 || batch.Products[0].ExternalID != "6" {
		t.Errorf("got %d products, want only product 6", len(batch.Products))
	}
	tests := []struct {
		field, message string
	}{
		{"[0].price", `invalid price "twelve"`},
		{"[1].name", "product 2 has no name"},
		{"[2].regular_price", "product 3 has no price"},
		{"[3].stock_quantity", `invalid stock quantity "2.5"`},
		{"[4]", "not a WooCommerce product, customer or order"},
	}
	if len(rowErrs) != len(tests) {
		t.Fatalf("got %d row errors, want %d: %v", len(rowErrs), len(tests), rowErrs)
	}
	for i, tt := range tests {
		e := rowErrs[i]
		if e.File != "products.json" || e.Line < 1 || e.Field != tt.field || !strings.Contains(e.Error(), tt.message) || !strings.Contains(e.Error(), "(fix: ") {
			t.Errorf("row error %d = %v (line %d, field %q); want field %q with %q and a fix", i, e, e.Line, e.Field, tt.field, tt.message)
		}
	}
}

func TestWooCommerceOrderLines(t *testing.T) {
	t.Parallel()
	batch, rowErrs := parseWoo(t, "orders.json", `[
		{"id": 10, "number": "10", "order_key": "k", "status": "pending", "customer_id": 0, "total": "25.00",
		 "date_created": "2024-05-01T10:00:00", "date_created_gmt": null,
		 "billing": {"email": "guest@example.com"},
		 "line_items": [
			{"name": "Mug", "product_id": 7, "variation_id": 0, "quantity": 3, "sku": "", "price": 8.333333, "subtotal": "25.00",
			 "meta_data": [{"key": "_reduced_stock", "value": "3"}, {"key": "gift", "value": {"a": 1}},
				{"key": "pa_color", "value": "blue", "display_key": "Color", "display_value": "<p>Blue</p>"}]},
			{"name": "Card", "product_id": 8, "quantity": 2, "subtotal": "5.00"}]},
		{"id": 11, "number": "11", "order_key": "k", "status": "processing", "total": "5", "line_items": [
			{"name": "Bad", "product_id": 9, "quantity": 1, "price": "1e999"}]}]`)

	if len(rowErrs) != 1 || rowErrs[0].Field != "[1].line_items[0].price" {
		t.Errorf("row errors = %v, want one for the price of order 11", rowErrs)
	}
	if len(batch.Orders) != 1 {
		t.Fatalf("got %d orders, want order 10", len(batch.Orders))
	}
	o := batch.Orders[0]
	if o.Status != "pending payment" || o.CustomerExternalID != "" || o.CustomerEmail != "guest@example.com" {
		t.Errorf("order 10 = %+v", o)
	}
	if o.PlacedAt == nil || !o.PlacedAt.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("placed at %v, want the local date_created read as UTC", o.PlacedAt)
	}
	mug, card := o.Items[0], o.Items[1]
	if mug.Price != money(t, "8.33") || mug.Quantity != 3 || mug.SKU != "woocommerce-7" {
		t.Errorf("mug = %+v", mug)
	}
	if !slices.Equal(mug.Options, []salesagent.Option{{Name: "Color", Value: "Blue"}}) {
		t.Errorf("mug options = %+v, want only Color = Blue", mug.Options)
	}
	if card.Price != money(t, "2.50") || card.Quantity != 2 {
		t.Errorf("card without a unit price = %+v, want 2.50 from the subtotal", card)
	}
}

func TestWooCommerceGuestOrderLink(t *testing.T) {
	t.Parallel()
	customers := writeTemp(t, "customers.json", `[{"id": 40, "email": "Ann@Example.com", "first_name": "", "last_name": "",
		"billing": {"first_name": "Ann", "last_name": "Lee", "phone": "555"}, "shipping": {}}]`)
	orders := writeTemp(t, "orders.json", `[
		{"id": 1, "number": "1", "order_key": "k", "status": "completed", "customer_id": 0, "billing": {"email": "ann@example.com"}, "line_items": []},
		{"id": 2, "number": "2", "order_key": "k", "status": "completed", "customer_id": 0, "billing": {"email": "bob@example.com"}, "line_items": []}]`)

	batch, rowErrs, err := ParsePaths([]string{customers, orders}, "", nil)
	if err != nil {
		t.Fatalf("ParsePaths: %v", err)
	}
	noRowErrors(t, rowErrs)
	if len(batch.Customers) != 1 || batch.Customers[0].Name != "Ann Lee" || batch.Customers[0].Phone != "555" {
		t.Errorf("customers = %+v, want Ann Lee with the billing name and phone", batch.Customers)
	}
	if got := batch.Orders[0].CustomerExternalID; got != "40" {
		t.Errorf("order 1 linked to %q, want 40 by email", got)
	}
	if got := batch.Orders[1].CustomerExternalID; got != "" {
		t.Errorf("order 2 linked to %q, want no customer", got)
	}
}

func TestCentsRounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		divisor int
		want    salesagent.Money
	}{
		{"3", 1, 300},
		{"8.335", 1, 834},
		{"-8.335", 1, -834},
		{"25.00", 3, 833},
		{"0.005", 1, 1},
	}
	for _, tt := range tests {
		got, err := centsRounded(tt.in, tt.divisor)
		if err != nil || got != tt.want {
			t.Errorf("centsRounded(%q, %d) = %d, %v; want %d", tt.in, tt.divisor, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1e2", "abc", "1.2.3", strings.Repeat("9", 40)} {
		if _, err := centsRounded(bad, 1); err == nil {
			t.Errorf("centsRounded(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzParseWooCommerceJSON(f *testing.F) {
	f.Add([]byte(`[` + wooProductJSON("1", `, "price": "15", "sale_price": "15", "on_sale": true, "manage_stock": true, "stock_quantity": 3`) + `, {"id": 2}]`))
	f.Add([]byte(`{"id": 3, "order_key": "k", "number": "", "total": "x", "line_items": [{"quantity": "2", "subtotal": "1.5"}]}`))
	f.Add([]byte(`[{"id": 0, "email": "a@example.com", "billing": {}, "shipping": {}}, 5, null]`))
	addSeedFiles(f, "woocommerce/rest-api-v3-examples/*.json")

	f.Fuzz(func(t *testing.T, data []byte) {
		batch, rowErrs, err := parseWooCommerceJSON("woo.json", data)
		if err != nil {
			return
		}
		for _, e := range rowErrs {
			if e.File != "woo.json" || e.Line < 1 || !strings.Contains(e.Error(), "(fix: ") {
				t.Errorf("row error without file, line or fix: %+v", e)
			}
		}
		for _, p := range batch.Products {
			if p.ExternalID == "" || p.Title == "" || p.Handle == "" && slugify(p.Title) != "" || len(p.Variants) != 1 {
				t.Errorf("incomplete product: %+v", p)
			}
			for _, v := range p.Variants {
				if v.SKU == "" || (v.CompareAtPrice != nil && *v.CompareAtPrice <= v.Price) {
					t.Errorf("bad variant in %q: %+v", p.ExternalID, v)
				}
			}
		}
		for _, c := range batch.Customers {
			if c.ExternalID == "" || c.ExternalID == "0" {
				t.Errorf("customer without id: %+v", c)
			}
		}
		for _, o := range batch.Orders {
			if o.Number == "" {
				t.Errorf("order without number: %+v", o)
			}
		}
	})
}
