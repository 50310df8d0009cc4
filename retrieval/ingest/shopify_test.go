package ingest

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestShopifyCSV2023Layout(t *testing.T) {
	t.Parallel()
	path := sharedData(t, "shopify", "product-csv", "product_template_2023_format.csv")
	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)

	if len(batch.Products) != 3 {
		t.Fatalf("got %d products, want 3 (shirt, jeans, beanie)", len(batch.Products))
	}

	shirt := productByID(t, batch, "example-shirt")
	if shirt.Title != "Example T-Shirt" || shirt.Vendor != "Acme" || shirt.ProductType != "Shirts" {
		t.Errorf("shirt fields = %q / %q / %q", shirt.Title, shirt.Vendor, shirt.ProductType)
	}
	if strings.Contains(shirt.Description, "<p>") || !strings.HasPrefix(shirt.Description, "This t-shirt is as simple") {
		t.Errorf("shirt description not stripped to text: %q", shirt.Description)
	}
	if !slices.Equal(shirt.Tags, []string{"Made to Order", "Shirt Tag"}) {
		t.Errorf("shirt tags = %q", shirt.Tags)
	}
	if len(shirt.Variants) != 12 {
		t.Fatalf("shirt has %d variants, want 12", len(shirt.Variants))
	}
	if got := distinctOption(shirt, "Color"); !slices.Equal(got, []string{"Green", "Blue", "Gray", "Purple"}) {
		t.Errorf("shirt colours = %q", got)
	}
	if got := distinctOption(shirt, "Size"); !slices.Equal(got, []string{"S", "M", "L"}) {
		t.Errorf("shirt sizes = %q", got)
	}
	blueM := variantBySKU(t, shirt, "SRT_COT_222")
	if blueM.Option("Color") != "Blue" || blueM.Option("Size") != "M" || blueM.Title != "Blue / M" {
		t.Errorf("SRT_COT_222 options = %+v, title %q", blueM.Options, blueM.Title)
	}
	if blueM.Price != money(t, "25") {
		t.Errorf("SRT_COT_222 price = %s, want 25.00", blueM.Price)
	}
	if blueM.Stock != nil {
		t.Errorf("SRT_COT_222 stock = %d, want nil because the inventory tracker is empty", *blueM.Stock)
	}
	if !blueM.Available {
		t.Error("active shirt variant is not available")
	}

	jeans := productByID(t, batch, "example-pants")
	if len(jeans.Variants) != 3 {
		t.Fatalf("jeans have %d variants, want 3 (the fourth row only adds an image)", len(jeans.Variants))
	}
	if got := []int{stockOf(jeans.Variants[0]), stockOf(jeans.Variants[1]), stockOf(jeans.Variants[2])}; !slices.Equal(got, []int{20, 15, 10}) {
		t.Errorf("jeans stock = %v, want [20 15 10]", got)
	}
	if jeans.Variants[0].CompareAtPrice == nil || *jeans.Variants[0].CompareAtPrice != money(t, "64.95") {
		t.Errorf("jeans compare-at price = %v, want 64.95", jeans.Variants[0].CompareAtPrice)
	}
	if jeans.Variants[0].Available || jeans.Attributes["status"] != "draft" {
		t.Errorf("draft jeans: available %v, status %q; want not available, draft", jeans.Variants[0].Available, jeans.Attributes["status"])
	}

	beanie := productByID(t, batch, "example-hat")
	if len(beanie.Variants) != 1 || len(beanie.Variants[0].Options) != 0 {
		t.Fatalf("beanie variants = %+v, want one without the Default Title option", beanie.Variants)
	}
	if beanie.Attributes["status"] != "archived" || beanie.Variants[0].Available {
		t.Errorf("archived beanie: status %q, available %v", beanie.Attributes["status"], beanie.Variants[0].Available)
	}
}

func TestShopifyCSV2024Layout(t *testing.T) {
	t.Parallel()
	path := sharedData(t, "shopify", "product-csv", "product_template_2024_format.csv")
	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)

	if len(batch.Products) != 2 {
		t.Fatalf("got %d products, want 2 (t-shirt, e-book)", len(batch.Products))
	}

	shirt := productByID(t, batch, "physical-product-the-band-t-shirt")
	if shirt.Title != "Physical Product “The Band” T-Shirt" || shirt.Vendor != "Harmony Threads" || shirt.ProductType != "Graphic shirt" {
		t.Errorf("shirt fields = %q / %q / %q", shirt.Title, shirt.Vendor, shirt.ProductType)
	}
	if len(shirt.Variants) != 12 {
		t.Fatalf("shirt has %d variants, want 12", len(shirt.Variants))
	}
	if got := distinctOption(shirt, "Size"); !slices.Equal(got, []string{"Small", "Medium", "Large", "XL"}) {
		t.Errorf("shirt sizes = %q; later rows must reuse the option names of the first", got)
	}
	if got := distinctOption(shirt, "Color"); !slices.Equal(got, []string{"green", "gray", "red"}) {
		t.Errorf("shirt colours = %q", got)
	}
	smallGreen := variantBySKU(t, shirt, "TheBandTShirt-SG")
	if smallGreen.Price != money(t, "19.99") || smallGreen.CompareAtPrice == nil || *smallGreen.CompareAtPrice != money(t, "24.99") {
		t.Errorf("TheBandTShirt-SG price %s compare-at %v, want 19.99 and 24.99", smallGreen.Price, smallGreen.CompareAtPrice)
	}
	if stockOf(smallGreen) != 47 {
		t.Errorf("TheBandTShirt-SG stock = %d, want 47", stockOf(smallGreen))
	}
	if stockOf(variantBySKU(t, shirt, "TheBandTShirt-XR")) != 40 {
		t.Errorf("TheBandTShirt-XR stock = %d, want 40", stockOf(variantBySKU(t, shirt, "TheBandTShirt-XR")))
	}

	book := productByID(t, batch, "digital-product-the-history-of-rock-music")
	if got := distinctOption(book, "Format"); !slices.Equal(got, []string{"PDF", "Audio", "Kindle"}) {
		t.Errorf("e-book formats = %q", got)
	}
	kindle := variantBySKU(t, book, "HRM-EBK-KND")
	if kindle.Stock != nil {
		t.Errorf("untracked e-book stock = %d, want nil", *kindle.Stock)
	}
	if kindle.Price != money(t, "9.99") {
		t.Errorf("Kindle price = %s, want 9.99", kindle.Price)
	}
}

func TestShopifyCSVBadRows(t *testing.T) {
	t.Parallel()
	const header = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Inventory Tracker,Variant Inventory Qty,Variant Price,Variant Compare At Price\n"
	tests := []struct {
		name      string
		rows      string
		wantLine  int
		wantField string
		wantText  string
		wantSKUs  []string
	}{
		{
			name:      "invalid price",
			rows:      "tee,Tee,Size,S,TEE-S,,,19.99,\ntee,,,M,TEE-M,,,abc,\n",
			wantLine:  3,
			wantField: "Variant Price",
			wantText:  `products.csv line 3, field "Variant Price": invalid price "abc"`,
			wantSKUs:  []string{"TEE-S"},
		},
		{
			name:      "missing price",
			rows:      "tee,Tee,Size,S,TEE-S,,,,\ntee,,,M,TEE-M,,,21,\n",
			wantLine:  2,
			wantField: "Variant Price",
			wantText:  "missing price",
			wantSKUs:  []string{"TEE-M"},
		},
		{
			name:      "missing handle",
			rows:      "tee,Tee,Size,S,TEE-S,,,19.99,\n,,,M,TEE-M,,,19.99,\n",
			wantLine:  3,
			wantField: "Handle",
			wantText:  "missing handle",
			wantSKUs:  []string{"TEE-S"},
		},
		{
			name:      "invalid inventory quantity",
			rows:      "tee,Tee,Size,S,TEE-S,shopify,many,19.99,\ntee,,,M,TEE-M,shopify,4,19.99,\n",
			wantLine:  2,
			wantField: "Variant Inventory Qty",
			wantText:  `invalid inventory quantity "many"`,
			wantSKUs:  []string{"TEE-M"},
		},
		{
			name:      "invalid compare-at price",
			rows:      "tee,Tee,Size,S,TEE-S,,,19.99,lots\ntee,,,M,TEE-M,,,19.99,25\n",
			wantLine:  2,
			wantField: "Variant Compare At Price",
			wantText:  `invalid price "lots"`,
			wantSKUs:  []string{"TEE-M"},
		},
		{
			name:      "unbalanced quote",
			rows:      "tee,Tee,Size,S,TEE-S,,,19.99,\ntee,\"Te\"e,,M,TEE-M,,,19.99,\ntee,,,L,TEE-L,,,19.99,\n",
			wantLine:  3,
			wantField: "",
			wantText:  "products.csv line 3: ",
			wantSKUs:  []string{"TEE-S", "TEE-L"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, "products.csv", header+tt.rows)
			batch, rowErrs := mustParse(t, path, FormatShopifyCSV)

			if len(rowErrs) != 1 {
				t.Fatalf("got %d row errors %v, want 1", len(rowErrs), rowErrs)
			}
			e := rowErrs[0]
			if e.File != "products.csv" || e.Line != tt.wantLine || e.Field != tt.wantField {
				t.Errorf("row error at %s line %d field %q, want products.csv line %d field %q", e.File, e.Line, e.Field, tt.wantLine, tt.wantField)
			}
			if !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", e.Error(), tt.wantText)
			}
			if !strings.Contains(e.Error(), "(fix: ") {
				t.Errorf("error %q gives no fix", e.Error())
			}

			var skus []string
			for _, p := range batch.Products {
				for _, v := range p.Variants {
					skus = append(skus, v.SKU)
				}
			}
			if !slices.Equal(skus, tt.wantSKUs) {
				t.Errorf("loaded SKUs %q, want %q", skus, tt.wantSKUs)
			}
		})
	}
}

func TestShopifyCSVMissingHandleColumn(t *testing.T) {
	t.Parallel()
	path := writeTemp(t, "products.csv", "Title,Variant Price\nTee,19.99\n")
	_, _, err := ParseFile(path, FormatShopifyCSV)
	if err == nil {
		t.Fatal("ParseFile accepted a CSV without a handle column")
	}
	if !strings.Contains(err.Error(), "products.csv") || !strings.Contains(err.Error(), `"URL handle"`) {
		t.Errorf("error %q should name the file and the missing column", err)
	}
}

func TestShopifyCSVFallbackSKU(t *testing.T) {
	t.Parallel()
	path := writeTemp(t, "products.csv", "Handle,Title,Option1 Name,Option1 Value,Variant Price\ncap,Cap,Color,Navy Blue,12\n")
	batch, rowErrs := mustParse(t, path, FormatShopifyCSV)
	noRowErrors(t, rowErrs)
	if got := batch.Products[0].Variants[0].SKU; got != "cap-navy-blue" {
		t.Errorf("fallback SKU = %q, want cap-navy-blue", got)
	}
}

func TestShopifyJSONWebhookExample(t *testing.T) {
	t.Parallel()
	example := sharedData(t, "shopify", "webhook-examples-2026-04", "products", "create.json")
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var wrapper struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(data, &wrapper); err != nil {
		t.Fatalf("decode %s: %v", example, err)
	}
	path := writeTemp(t, "product.json", string(wrapper.Response))

	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)
	if len(batch.Products) != 1 {
		t.Fatalf("got %d products, want 1", len(batch.Products))
	}
	p := batch.Products[0]

	// The numeric id in the example was rounded to 788032119674292900 by
	// the tool that scraped it, but the GraphQL id keeps the exact value.
	if p.ExternalID != "788032119674292922" {
		t.Errorf("product id = %s, want 788032119674292922", p.ExternalID)
	}
	if p.Handle != "example-t-shirt" || p.ProductType != "Shirts" || p.Vendor != "Acme" {
		t.Errorf("product fields = %q / %q / %q", p.Handle, p.ProductType, p.Vendor)
	}
	if !slices.Equal(p.Tags, []string{"example", "mens", "t-shirt"}) {
		t.Errorf("tags = %q", p.Tags)
	}
	if len(p.Variants) != 2 {
		t.Fatalf("got %d variants, want 2", len(p.Variants))
	}
	small := p.Variants[0]
	if small.SKU != "shopify-642667041472713922" || small.ExternalID != "642667041472713922" {
		t.Errorf("variant without SKU: sku %q id %q, want the shopify-<variant id> fallback", small.SKU, small.ExternalID)
	}
	if small.Price != money(t, "19.99") || stockOf(small) != 75 || small.Title != "Small" {
		t.Errorf("small variant: price %s stock %d title %q", small.Price, stockOf(small), small.Title)
	}
}

func TestShopifyJSONProductsExport(t *testing.T) {
	t.Parallel()
	const export = `{
  "products": [
    {
      "id": 9007199254740993,
      "title": "Trail Runner",
      "handle": "trail-runner",
      "body_html": "<p>Light shoe.</p><ul><li>Mesh upper</li><li>Grippy sole</li></ul>",
      "vendor": "Peak",
      "product_type": "Shoes",
      "tags": ["running", " trail "],
      "options": [{"name": "size", "position": 1}, {"name": "color", "position": 2}],
      "images": [{"src": "https://cdn.example/trail.jpg"}],
      "variants": [
        {"id": 9007199254740995, "sku": "TR-42-BLK", "option1": "42", "option2": "Black", "price": "89.00",
         "compare_at_price": null, "inventory_management": "shopify", "inventory_quantity": 4, "inventory_policy": "deny"},
        {"id": 9007199254740997, "sku": "", "option1": "43", "option2": "Black", "price": "89.00",
         "inventory_management": null, "inventory_quantity": 0},
        {"id": 9007199254740999, "sku": "TR-44-BLK", "option1": "44", "option2": "Black", "price": "89.00",
         "available": false}
      ]
    },
    {
      "id": "1234",
      "title": "Broken Sock",
      "status": "draft",
      "variants": [
        {"id": 55, "sku": "SOCK-1", "price": "cheap"},
        {"id": 56, "sku": "SOCK-2", "price": 7.5}
      ]
    }
  ]
}`
	path := writeTemp(t, "products.json", export)
	batch, rowErrs := mustParse(t, path, "")

	if len(rowErrs) != 1 {
		t.Fatalf("got row errors %v, want one for the bad price", rowErrs)
	}
	e := rowErrs[0]
	if e.Field != "products[1].variants[0].price" || e.Line != 22 || e.Value != "cheap" {
		t.Errorf("row error field %q line %d value %q, want products[1].variants[0].price, line 22 (where the product starts), cheap", e.Field, e.Line, e.Value)
	}

	runner := productByID(t, batch, "9007199254740993")
	if runner.Description != "Light shoe.\n\n- Mesh upper\n- Grippy sole" {
		t.Errorf("description = %q", runner.Description)
	}
	if !slices.Equal(runner.Tags, []string{"running", "trail"}) || runner.ImageURL != "https://cdn.example/trail.jpg" {
		t.Errorf("tags %q image %q", runner.Tags, runner.ImageURL)
	}
	tracked := variantBySKU(t, runner, "TR-42-BLK")
	if stockOf(tracked) != 4 || tracked.Option("Size") != "42" || tracked.Options[0].Name != "Size" || tracked.Options[1].Name != "Color" {
		t.Errorf("tracked variant: stock %d options %+v", stockOf(tracked), tracked.Options)
	}
	untracked := variantBySKU(t, runner, "shopify-9007199254740997")
	if untracked.Stock != nil || !untracked.Available {
		t.Errorf("untracked variant: stock %v available %v, want nil and true", untracked.Stock, untracked.Available)
	}
	if variantBySKU(t, runner, "TR-44-BLK").Available {
		t.Error(`variant with "available": false is available`)
	}

	sock := productByID(t, batch, "1234")
	if len(sock.Variants) != 1 || sock.Variants[0].Price != money(t, "7.50") {
		t.Fatalf("sock variants = %+v, want the one with price 7.50", sock.Variants)
	}
	if sock.Variants[0].Available || sock.Handle != "broken-sock" {
		t.Errorf("draft sock: available %v handle %q", sock.Variants[0].Available, sock.Handle)
	}
}
