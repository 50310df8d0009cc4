package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/salesagent/salesagent"
)

// addSeedFiles adds the files matching pattern under the shared data as
// fuzz seeds when the data is present.
func addSeedFiles(f *testing.F, pattern string) {
	f.Helper()
	dir, err := os.Getwd()
	if err != nil {
		return
	}
	for ; ; dir = filepath.Dir(dir) {
		matches, _ := filepath.Glob(filepath.Join(dir, "shared", "data", pattern))
		for _, path := range matches {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
		if len(matches) > 0 || filepath.Dir(dir) == dir {
			return
		}
	}
}

func FuzzParseShopifyCSV(f *testing.F) {
	f.Add([]byte("Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Inventory Tracker,Variant Inventory Qty,Variant Price\ntee,Tee,Size,S,T-S,shopify,3,19.99\ntee,,,M,,,,20\n"))
	f.Add([]byte("URL handle,Title,Price\n,,\nx,\"a\"b\",1\n"))
	f.Add([]byte("\ufeffHandle\n"))
	addSeedFiles(f, "shopify/product-csv/*.csv")

	f.Fuzz(func(t *testing.T, data []byte) {
		batch, rowErrs, err := parseShopifyCSV("products.csv", data)
		if err != nil {
			return
		}
		for _, e := range rowErrs {
			if e.File != "products.csv" || e.Error() == "" {
				t.Errorf("row error without file: %+v", e)
			}
		}
		for _, p := range batch.Products {
			if p.Handle == "" || p.ExternalID == "" {
				t.Errorf("product without handle or id: %+v", p)
			}
			for _, v := range p.Variants {
				if v.SKU == "" {
					t.Errorf("variant without SKU in %q", p.Handle)
				}
				for _, o := range v.Options {
					if o.Name == "" || o.Value == "" {
						t.Errorf("empty option %+v in %q", o, p.Handle)
					}
				}
			}
		}
	})
}

func FuzzParseMarkdown(f *testing.F) {
	for _, name := range []string{"faq.md", "policies.md", "size-guides.md"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("##\n\n| a |\n|---|\n\n### b\n```\n## c\n"))
	f.Add([]byte("Title\n=====\n\ntext\n\nSub\n---\n\n| x | y |\n|---|---|\n| 1 |\n"))
	addSeedFiles(f, "tau-bench-retail/v1/wiki.md")

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []parser{parseFAQMarkdown, parsePolicyMarkdown, parseSizeGuideMarkdown} {
			batch, rowErrs, err := parse("doc.md", data)
			if kind := structuredKind("doc.md", data); kind != "" {
				if err == nil || !strings.Contains(err.Error(), kind) {
					t.Fatalf("markdown parser error for %s content = %v, want one naming %s", kind, err, kind)
				}
				continue
			}
			if err != nil {
				t.Fatalf("markdown parser returned a whole-file error: %v", err)
			}
			for _, e := range rowErrs {
				if e.File != "doc.md" || e.Line < 1 {
					t.Errorf("row error without file or line: %+v", e)
				}
			}
			keys := map[string]bool{}
			for _, d := range batch.Documents {
				if d.Title == "" || d.Key == "" || strings.TrimSpace(d.Body) == "" {
					t.Errorf("incomplete document: %+v", d)
				}
				if keys[d.Key] {
					t.Errorf("key %q used twice", d.Key)
				}
				keys[d.Key] = true
				if utf8.Valid(data) && !utf8.ValidString(d.Body) {
					t.Errorf("valid UTF-8 input gave an invalid body for %q", d.Title)
				}
				if d.Table != nil {
					for _, row := range d.Table.Rows {
						if len(row) < len(d.Table.Columns) {
							t.Errorf("row %q shorter than columns %q", row, d.Table.Columns)
						}
					}
				}
			}
		}
	})
}

func FuzzParseFAQJSON(f *testing.F) {
	f.Add([]byte(`{"questions": [{"question": "Q?", "answer": "A."}, {"question": "Q?"}, 3]}`))
	f.Add([]byte(`[{"Question": " Q? ", "Answer": "A."}, {"answer": null}]`))
	addSeedFiles(f, "ecommerce-faq/*.json")

	f.Fuzz(func(t *testing.T, data []byte) {
		batch, rowErrs, err := parseFAQJSON("faq.json", data)
		if err != nil {
			return
		}
		for _, e := range rowErrs {
			if e.File != "faq.json" || e.Line < 1 {
				t.Errorf("row error without file or line: %+v", e)
			}
		}
		keys := map[string]bool{}
		for _, d := range batch.Documents {
			if d.Kind != salesagent.KindFAQ || d.Title == "" || strings.TrimSpace(d.Body) == "" {
				t.Errorf("incomplete document: %+v", d)
			}
			if keys[d.Key] {
				t.Errorf("key %q used twice", d.Key)
			}
			keys[d.Key] = true
		}
	})
}

func FuzzHTMLToText(f *testing.F) {
	f.Add("<p>a<br>b</p><ul><li>c</li></ul><table><tr><td>1</td><td>2</td></tr></table>")
	f.Add("<h2>x</h2>text<h3>y")
	f.Add("&bull;<script>z")
	f.Fuzz(func(t *testing.T, s string) {
		out := htmlToText(s)
		if strings.Contains(out, "\n\n\n") {
			t.Errorf("more than one blank line in %q", out)
		}
		for _, sec := range splitHTML(s, 3) {
			if sec.Title == "" && sec.Body == "" {
				t.Errorf("empty section from %q", s)
			}
		}
	})
}
