package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectRealData(t *testing.T) {
	t.Parallel()
	root := sharedData(t)
	tests := []struct {
		path string
		want Format
	}{
		{"shopify/product-csv/product_template_2023_format.csv", FormatShopifyCSV},
		{"shopify/product-csv/product_template_2024_format.csv", FormatShopifyCSV},
		{"magento-luma-catalog/raw/ConfigurableSampleData/products.csv", FormatMagentoCSV},
		{"magento-luma-catalog/raw/CatalogSampleData/SimpleProduct/products_gear_bags.csv", FormatMagentoCSV},
		{"magento-luma-catalog/raw/ReviewSampleData/products_reviews.csv", FormatMagentoCSV},
		{"magento-luma-catalog/raw/CmsSampleData/pages.csv", FormatMagentoCSV},
		{"magento-luma-catalog/raw", FormatMagentoCSV},
		{"magento-luma-catalog", FormatMagentoCSV},
		{"tau-bench-retail/v1/data", FormatTauBench},
		{"tau-bench-retail/v1", FormatTauBench},
		{"tau-bench-retail/v1/data/products.json", FormatTauBench},
		{"tau-bench-retail/v1/data/users.json", FormatTauBench},
		{"tau-bench-retail/v1/data/orders.json", FormatTauBench},
		{"tau-bench-retail/v1/wiki.md", FormatPolicyMarkdown},
		{"ecommerce-faq/Ecommerce_FAQ_Chatbot_dataset.json", FormatFAQJSON},
	}
	for _, tt := range tests {
		got, err := Detect(filepath.Join(root, tt.path))
		if err != nil || got != tt.want {
			t.Errorf("Detect(%s) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestDetectInline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    Format
	}{
		{"export.json", `{"products": [{"id": 1, "variants": []}]}`, FormatShopifyJSON},
		{"one.json", `{"product": {"id": 1}}`, FormatShopifyJSON},
		{"bare.json", `{"admin_graphql_api_id": "gid://shopify/Product/1", "id": 1, "title": "T", "variants": []}`, FormatShopifyJSON},
		{"list.json", `[{"id": 1, "title": "T", "variants": []}]`, FormatShopifyJSON},
		{"catalog.json", `{"42": {"name": "Mug", "product_id": "42", "variants": {}}}`, FormatTauBench},
		{"catalog.csv", "\ufeffHandle,Title,Variant Price\nmug,Mug,5\n", FormatShopifyCSV},
		{"export.csv", "URL handle,Title,Price\nmug,Mug,5\n", FormatShopifyCSV},
		{"help.md", "# Help\n\n## Can I pay later?\n\nNo.\n\n## Do you ship abroad?\n\nYes.\n", FormatFAQMarkdown},
		{"measure.md", "## Hats\n\n| Size | Head (cm) |\n|---|---|\n| M | 57 |\n", FormatSizeGuideMarkdown},
		{"about.md", "# About\n\nWe sell mugs.\n\n---\n\nSince 1999.\n", FormatPolicyMarkdown},
		{"chart.md", "## Hats\n\n| Size |\n|---|\n| M |\n", FormatSizeGuideMarkdown},
		{"shop-faq.md", "Anything.", FormatFAQMarkdown},
		{"size-chart.markdown", "Anything.", FormatSizeGuideMarkdown},
		{"returns.md", "## Can I return?\n\nYes.\n", FormatPolicyMarkdown},
		{"help.json", `{"questions": [{"question": "Can I pay later?", "answer": "No."}]}`, FormatFAQJSON},
		{"faqs.json", `{"title": "Help", "FAQs": [{"Question": "Q?", "Answer": "A."}]}`, FormatFAQJSON},
		{"qa.json", `[{"question": "Q?", "answer": "A."}]`, FormatFAQJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect(writeTemp(t, tt.name, tt.content))
			if err != nil || got != tt.want {
				t.Errorf("Detect(%s) = %q, %v; want %q", tt.name, got, err, tt.want)
			}
		})
	}
}

// TestDetectInvalidJSON checks that a file cut short, or otherwise not
// JSON, is reported as invalid JSON rather than as an unknown layout.
func TestDetectInvalidJSON(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{
		"cut.json":     `{"products": [{"id": 1, "title": "Mug", "variants": [{"sku": "A"`,
		"key.json":     `{"products": `,
		"array.json":   `[{"id": 1, "variants": [`,
		"garbage.json": `{"products" 1}`,
	} {
		path := writeTemp(t, name, content)
		_, err := Detect(path)
		if err == nil || !strings.Contains(err.Error(), "invalid JSON") || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "supported layout") {
			t.Errorf("Detect(%s) = %v, want an invalid JSON error naming the file", name, err)
		}
	}
}

func TestDetectUnknown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
	}{
		{"notes.txt", "hello"},
		{"data.json", `{"hello": "world"}`},
		{"people.csv", "name,email\nAnn,a@example.com\n"},
		{"questions.json", `{"questions": [{"text": "Q?"}]}`},
		{"pairs.json", `[{"question": "Q?"}]`},
		{"empty.csv", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, tt.name, tt.content)
			_, err := Detect(path)
			if err == nil {
				t.Fatalf("Detect(%s) succeeded", tt.name)
			}
			for _, want := range []string{path, "supported layouts", "Shopify", "Magento", "JSON FAQs", "τ-bench"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			// Only Markdown readers take any extension, so only a file
			// with an unknown extension is pointed at --format.
			hintsFormat := strings.Contains(err.Error(), "--format")
			if wantHint := filepath.Ext(tt.name) == ".txt"; hintsFormat != wantHint {
				t.Errorf("error %q mentions --format: %v, want %v", err, hintsFormat, wantHint)
			}
		})
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "faq.md"), []byte("## Q?\n\nA.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Detect(plain directory) error = %v, want one naming %s", err, dir)
	}
}
