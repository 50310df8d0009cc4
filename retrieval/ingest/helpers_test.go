package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/shareddata"
)

// sharedData returns the path of a file or folder under the shared public
// test data; see shareddata.Path.
func sharedData(t *testing.T, parts ...string) string {
	t.Helper()
	return shareddata.Path(t, parts...)
}

// writeTemp writes content to name in a fresh temporary directory and
// returns the file's path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// mustParse parses a file and fails the test on a whole-file error.
func mustParse(t *testing.T, path string, format Format) (*Batch, []RowError) {
	t.Helper()
	batch, rowErrs, err := ParseFile(path, format)
	if err != nil {
		t.Fatalf("ParseFile(%s, %q): %v", path, format, err)
	}
	return batch, rowErrs
}

// noRowErrors fails the test when any RowError came back.
func noRowErrors(t *testing.T, rowErrs []RowError) {
	t.Helper()
	for _, e := range rowErrs {
		t.Errorf("unexpected row error: %v", e)
	}
}

// productByID returns the product with the external id or fails the test.
func productByID(t *testing.T, b *Batch, id string) salesagent.Product {
	t.Helper()
	for _, p := range b.Products {
		if p.ExternalID == id {
			return p
		}
	}
	t.Fatalf("no product with external id %q among %d products", id, len(b.Products))
	return salesagent.Product{}
}

// variantBySKU returns the variant with the SKU or fails the test.
func variantBySKU(t *testing.T, p salesagent.Product, sku string) salesagent.Variant {
	t.Helper()
	for _, v := range p.Variants {
		if v.SKU == sku {
			return v
		}
	}
	t.Fatalf("product %s has no variant %q", p.ExternalID, sku)
	return salesagent.Variant{}
}

// documentByTitle returns the document with the title or fails the test.
func documentByTitle(t *testing.T, b *Batch, title string) salesagent.Document {
	t.Helper()
	for _, d := range b.Documents {
		if d.Title == title {
			return d
		}
	}
	t.Fatalf("no document titled %q among %d documents", title, len(b.Documents))
	return salesagent.Document{}
}

// distinctOption returns the distinct values of one option across variants,
// in first-seen order.
func distinctOption(p salesagent.Product, name string) []string {
	var values []string
	seen := map[string]bool{}
	for _, v := range p.Variants {
		value := v.Option(name)
		if value != "" && !seen[value] {
			seen[value] = true
			values = append(values, value)
		}
	}
	return values
}

// findRowError returns the first RowError whose message contains substr.
func findRowError(rowErrs []RowError, substr string) (RowError, bool) {
	for _, e := range rowErrs {
		if strings.Contains(e.Error(), substr) {
			return e, true
		}
	}
	return RowError{}, false
}

// stockOf returns the stock of a variant, or -1 when it is not tracked.
func stockOf(v salesagent.Variant) int {
	if v.Stock == nil {
		return -1
	}
	return *v.Stock
}

// money parses an amount for comparisons.
func money(t *testing.T, s string) salesagent.Money {
	t.Helper()
	m, err := salesagent.ParseMoney(s)
	if err != nil {
		t.Fatalf("parse money %q: %v", s, err)
	}
	return m
}
