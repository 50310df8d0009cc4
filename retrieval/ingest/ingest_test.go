package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestRowErrorFormat(t *testing.T) {
	t.Parallel()
	e := RowError{File: "products.csv", Line: 14, Field: "Variant Price", Value: "abc", Err: errors.New(`invalid price "abc" (fix: write 19.99)`)}
	want := `products.csv line 14, field "Variant Price": invalid price "abc" (fix: write 19.99)`
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}

	noField := RowError{File: "faq.md", Err: errors.New("boom")}
	if noField.Error() != "faq.md: boom" {
		t.Errorf("Error() = %q, want %q", noField.Error(), "faq.md: boom")
	}
	if !errors.Is(e, e.Err) {
		t.Error("RowError does not unwrap to its cause")
	}
}

// copyFile copies a fixture into dir under name.
func copyFile(t *testing.T, from, dir, name string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestParsePathsPlainDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, "testdata/faq.md", dir, "faq.md")
	copyFile(t, "testdata/policies.md", dir, "policies.md")
	copyFile(t, "testdata/size-guides.md", dir, "guides/size-guides.md")
	for name, content := range map[string]string{
		"catalog/products.csv": "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price\nmug,Mug,Color,Red,MUG-R,8\nmug,,,Blue,MUG-B,8\n",
		"README.md":            "# How this folder is laid out\n",
		"logo.png":             "not an image",
		".drafts/faq.md":       "## Draft?\n\nHidden.\n",
		"odd.json":             `{"hello": "world"}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var calls [][2]int
	batch, rowErrs, err := ParsePaths([]string{dir}, "", func(done, total int) {
		calls = append(calls, [2]int{done, total})
	})
	if err != nil {
		t.Fatalf("ParsePaths: %v", err)
	}

	if len(rowErrs) != 1 || !strings.Contains(rowErrs[0].Error(), "odd.json") {
		t.Errorf("row errors = %v, want one for the undetectable odd.json", rowErrs)
	}
	if !slices.Equal(calls, [][2]int{{1, 4}, {2, 4}, {3, 4}, {4, 4}}) {
		t.Errorf("progress calls = %v, want 1..4 of 4", calls)
	}
	kinds := map[string]int{}
	for _, d := range batch.Documents {
		kinds[d.Kind]++
	}
	if kinds[salesagent.KindFAQ] != 4 || kinds[salesagent.KindPolicy] != 4 || kinds[salesagent.KindSizeGuide] != 3 {
		t.Errorf("documents by kind = %v, want 4 faq, 4 policy, 3 size guides (and no README or hidden draft)", kinds)
	}
	if len(batch.Products) != 1 || len(batch.Products[0].Variants) != 2 {
		t.Errorf("products = %+v, want the mug with 2 variants", batch.Products)
	}
}

func TestParsePathsDuplicates(t *testing.T) {
	t.Parallel()
	csv := writeTemp(t, "products.csv", "Handle,Title,Variant SKU,Variant Price\nmug,Mug,MUG-1,8\n")
	other := writeTemp(t, "more.csv", "Handle,Title,Variant SKU,Variant Price\nmug-2,Mug Two,MUG-1,9\n")

	batch, rowErrs, err := ParsePaths([]string{csv, csv, other, "testdata/faq.md", "testdata/faq.md"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Mug Two's only variant repeats a SKU, so nothing of it is left to
	// sell and the product is skipped.
	if len(batch.Products) != 1 || len(batch.Documents) != 4 {
		t.Fatalf("got %d products and %d documents, want 1 and 4", len(batch.Products), len(batch.Documents))
	}
	if e, ok := findRowError(rowErrs, `duplicate product id "mug", first seen in products.csv line 2`); !ok {
		t.Errorf("row errors %v lack the duplicate product", rowErrs)
	} else if e.File != "products.csv" || e.Line != 2 {
		t.Errorf("duplicate product error at %s line %d", e.File, e.Line)
	}
	if _, ok := findRowError(rowErrs, `more.csv line 2, field "sku": duplicate variant SKU "MUG-1"`); !ok {
		t.Errorf("row errors %v lack the duplicate SKU", rowErrs)
	}
	if _, ok := findRowError(rowErrs, `duplicate faq document key "faq/how-long-does-delivery-take"`); !ok {
		t.Errorf("row errors %v lack the duplicate document", rowErrs)
	}
	if len(rowErrs) != 6 {
		t.Errorf("got %d row errors, want 6 (1 product, 1 SKU, 4 documents): %v", len(rowErrs), rowErrs)
	}
}

func TestParsePathsRejectsAmountsAboveMax(t *testing.T) {
	t.Parallel()
	products := writeTemp(t, "products.csv", "Handle,Title,Variant SKU,Variant Price,Variant Compare At Price\n"+
		"cap,Cap,CAP-1,10.00,\n"+
		"max,Max,MAX-1,9999999999.99,9999999999.99\n"+
		"gold,Gold,GOLD-1,10000000000.00,\n"+
		"sale,Sale,SALE-1,10.00,10000000000.00\n")
	orders := writeTemp(t, "orders.json", `[
		{"id": 1, "number": "1", "order_key": "k", "status": "completed", "total": "20.00",
		 "line_items": [{"name": "Cap", "product_id": 1, "quantity": 2, "price": "10.00"}]},
		{"id": 2, "number": "2", "order_key": "k", "status": "completed", "total": "10000000000.00", "line_items": []},
		{"id": 3, "number": "3", "order_key": "k", "status": "completed", "total": "1.00",
		 "line_items": [{"name": "Gold", "product_id": 3, "quantity": 1, "price": "10000000000"}]}]`)

	batch, rowErrs, err := ParsePaths([]string{products, orders}, "", nil)
	if err != nil {
		t.Fatal(err)
	}

	var handles []string
	for _, p := range batch.Products {
		handles = append(handles, p.Handle)
	}
	if !slices.Equal(handles, []string{"cap", "max"}) {
		t.Errorf("loaded products %q, want cap and max", handles)
	}
	if len(batch.Orders) != 1 || batch.Orders[0].Number != "1" {
		t.Errorf("loaded %d orders (%+v), want only order 1", len(batch.Orders), batch.Orders)
	}

	tests := []struct {
		substr, file, field string
		line                int
	}{
		{`price of variant "GOLD-1" is 10000000000.00`, "products.csv", "price", 4},
		{`compare-at price of variant "SALE-1" is 10000000000.00`, "products.csv", "compare_at_price", 5},
		{"total of order 2 is 10000000000.00", "orders.json", "total", 4},
		{"price of line 1 (Gold) of order 3 is 10000000000.00", "orders.json", "items[0].price", 5},
	}
	for _, tt := range tests {
		e, ok := findRowError(rowErrs, tt.substr)
		if !ok {
			t.Errorf("no row error containing %q in %v", tt.substr, rowErrs)
			continue
		}
		if e.File != tt.file || e.Line != tt.line || e.Field != tt.field {
			t.Errorf("%q at %s line %d field %q, want %s line %d field %q", tt.substr, e.File, e.Line, e.Field, tt.file, tt.line, tt.field)
		}
		for _, want := range []string{"maximum of 9999999999.99", "fix:"} {
			if !strings.Contains(e.Error(), want) {
				t.Errorf("row error %q does not contain %q", e, want)
			}
		}
	}
	if len(rowErrs) != len(tests) {
		t.Errorf("got %d row errors, want %d: %v", len(rowErrs), len(tests), rowErrs)
	}
}

func TestParsePathsDuplicateHandle(t *testing.T) {
	t.Parallel()
	path := writeTemp(t, "products.json", `{"products": [
		{"id": 1, "handle": "mug", "title": "Mug", "variants": [{"id": 10, "sku": "A", "price": "1.00"}]},
		{"id": 2, "handle": "mug", "title": "Mug", "variants": [{"id": 20, "sku": "B", "price": "1.00"}]}]}`)
	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)
	if batch.Products[0].Handle != "mug" || batch.Products[1].Handle != "mug-2" {
		t.Errorf("handles = %q, %q; want mug and mug-2 (handle plus product id)", batch.Products[0].Handle, batch.Products[1].Handle)
	}
	if len(batch.Notices) != 1 || !strings.Contains(batch.Notices[0], `handle "mug" of product 2 is taken`) || !strings.Contains(batch.Notices[0], `"mug-2"`) {
		t.Errorf("notices = %q, want one naming the taken handle and the new one", batch.Notices)
	}
}

func TestParsePathsOverride(t *testing.T) {
	t.Parallel()
	batch, rowErrs, err := ParsePaths([]string{"testdata/faq.md"}, FormatPolicyMarkdown, nil)
	if err != nil {
		t.Fatal(err)
	}
	noRowErrors(t, rowErrs)
	for _, d := range batch.Documents {
		if d.Kind != salesagent.KindPolicy {
			t.Errorf("%q has kind %q, want policy from the override", d.Title, d.Kind)
		}
	}

	_, _, err = ParsePaths([]string{"testdata/faq.md"}, "markdown", nil)
	if err == nil || !strings.Contains(err.Error(), `"markdown"`) || !strings.Contains(err.Error(), "faq-md") {
		t.Errorf("unknown override error = %v, want one naming the value and the formats", err)
	}
}

func TestParseFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.csv")
	if _, _, err := ParseFile(missing, FormatShopifyCSV); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file error = %v, want one naming %s", err, missing)
	}

	broken := writeTemp(t, "products.json", `{"products": [{"id": 1,`)
	if _, _, err := ParseFile(broken, FormatShopifyJSON); err == nil || !strings.Contains(err.Error(), "products.json") {
		t.Errorf("truncated JSON error = %v, want one naming the file", err)
	}

	empty := writeTemp(t, "products.csv", "")
	if _, _, err := ParseFile(empty, FormatShopifyCSV); err == nil || !strings.Contains(err.Error(), "no header row") {
		t.Errorf("empty CSV error = %v", err)
	}

	if _, _, err := ParseFile("testdata", FormatFAQMarkdown); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory with a single-file format error = %v", err)
	}
}

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"plain   text\n here", "plain text\nhere"},
		{"<p>One <b>bold</b> word.</p><p>Two.</p>", "One bold word.\n\nTwo."},
		{"<p>&bull; A.<br />&bull; B.</p>", "• A.\n• B."},
		{"<ul>\n  <li>x</li>\n  <li>y</li>\n</ul>", "- x\n- y"},
		{"<table><tr><th>Size</th><th>Chest<br/>cm</th></tr><tr><td>M</td><td>96</td></tr></table>", "Size | Chest cm\nM | 96"},
		{"<p>Hi<script>alert(1)</script> there</p>", "Hi there"},
		{"Tee &amp; Co<p>unclosed<p>next", "Tee & Co\n\nunclosed\n\nnext"},
	}
	for _, tt := range tests {
		if got := htmlToText(tt.in); got != tt.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSlugifyAndTitleCase(t *testing.T) {
	t.Parallel()
	slugs := map[string]string{
		"Mars HeatTech™ Pullover":       "mars-heattech-pullover",
		"Sprite Stasis Ball 55 cm gray": "sprite-stasis-ball-55-cm-gray",
		"Women's Tees & Tanks":          "womens-tees-tanks",
		"  --  ":                        "",
	}
	for in, want := range slugs {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
	names := map[string]string{"size": "Size", "backrest height": "Backrest Height", "EU size": "EU Size", "band_material": "Band Material"}
	for in, want := range names {
		if got := titleCase(in); got != want {
			t.Errorf("titleCase(%q) = %q, want %q", in, got, want)
		}
	}
}
