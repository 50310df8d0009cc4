package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestFAQJSONRealData(t *testing.T) {
	t.Parallel()
	path := sharedData(t, "ecommerce-faq", "Ecommerce_FAQ_Chatbot_dataset.json")

	format, err := Detect(path)
	if err != nil || format != FormatFAQJSON {
		t.Fatalf("Detect = %q, %v; want %q", format, err, FormatFAQJSON)
	}
	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)
	if len(batch.Documents) != 79 {
		t.Errorf("%d documents, want the 79 question and answer pairs", len(batch.Documents))
	}

	payment := documentByTitle(t, batch, "What payment methods do you accept?")
	if payment.Kind != salesagent.KindFAQ {
		t.Errorf("kind = %q, want %q", payment.Kind, salesagent.KindFAQ)
	}
	if payment.Source != "Ecommerce_FAQ_Chatbot_dataset.json" {
		t.Errorf("source = %q, want the file name", payment.Source)
	}
	if payment.Key != "Ecommerce_FAQ_Chatbot_dataset/what-payment-methods-do-you-accept" {
		t.Errorf("key = %q", payment.Key)
	}
	if !strings.HasPrefix(payment.Body, "We accept major credit cards") {
		t.Errorf("body = %q, want the answer text", payment.Body)
	}

	for _, d := range batch.Documents {
		if strings.Contains(d.Body, `"question"`) || strings.Contains(d.Body, `"answer"`) {
			t.Errorf("%q has raw JSON in its body: %q", d.Title, d.Body)
		}
	}
}

func TestFAQJSONMatchesMarkdownShape(t *testing.T) {
	t.Parallel()
	markdown := writeTemp(t, "help.md", "## Can I pay later?\n\nNo, we take payment when you order.\n\n## Do you ship abroad?\n\nYes, to the EU and the UK.\n")
	fromMarkdown, rowErrs := mustParse(t, markdown, FormatFAQMarkdown)
	noRowErrors(t, rowErrs)

	layouts := map[string]string{
		"object": `{"title": "Help", "questions": [
  {"question": "Can I pay later?", "answer": "No, we take payment when you order."},
  {"question": "Do you ship abroad?", "answer": "Yes, to the EU and the UK."}
]}`,
		"array": `[
  {"Question": "  Can I pay\n later?", "Answer": " No, we take payment when you order. "},
  {"question": "Do you ship abroad?", "answer": "Yes, to the EU and the UK.", "category": "shipping"}
]`,
	}
	for layout, content := range layouts {
		t.Run(layout, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, "help.json", content)
			fromJSON, rowErrs := mustParse(t, path, "")
			noRowErrors(t, rowErrs)
			if len(fromJSON.Documents) != len(fromMarkdown.Documents) {
				t.Fatalf("%d documents from JSON, %d from Markdown", len(fromJSON.Documents), len(fromMarkdown.Documents))
			}
			for i, got := range fromJSON.Documents {
				want := fromMarkdown.Documents[i]
				want.Source = "help.json"
				if got.Kind != want.Kind || got.Key != want.Key || got.Title != want.Title || got.Body != want.Body || got.Source != want.Source {
					t.Errorf("document %d = %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestFAQJSONRowErrors(t *testing.T) {
	t.Parallel()
	content := `{"questions": [
  {"question": "Can I pay later?", "answer": "No."},
  {"question": "Where is my parcel?"},
  {"answer": "Orphan answer."},
  "not an entry",
  {"question": "Can I pay later?", "answer": "Still no."}
]}`
	batch, rowErrs := mustParse(t, writeTemp(t, "faq.json", content), FormatFAQJSON)

	if len(batch.Documents) != 2 {
		t.Fatalf("%d documents, want the 2 complete entries", len(batch.Documents))
	}
	if batch.Documents[0].Key != "faq/can-i-pay-later" || batch.Documents[1].Key != "faq/can-i-pay-later-2" {
		t.Errorf("keys = %q, %q; want a repeated question made unique", batch.Documents[0].Key, batch.Documents[1].Key)
	}

	tests := []struct {
		substr string
		line   int
		field  string
	}{
		{`missing "answer" to "Where is my parcel?"`, 3, "questions[1]"},
		{`missing "question"`, 4, "questions[2]"},
		{"not a JSON object", 5, "questions[3]"},
	}
	for _, tt := range tests {
		e, ok := findRowError(rowErrs, tt.substr)
		if !ok {
			t.Errorf("no row error containing %q in %v", tt.substr, rowErrs)
			continue
		}
		if e.Line != tt.line || e.Field != tt.field {
			t.Errorf("%q at line %d field %q, want line %d field %q", tt.substr, e.Line, e.Field, tt.line, tt.field)
		}
		if !strings.Contains(e.Error(), "fix:") {
			t.Errorf("row error %q has no fix", e)
		}
	}
	if len(rowErrs) != len(tests) {
		t.Errorf("row errors = %v, want %d", rowErrs, len(tests))
	}
}

func TestFAQJSONConvertsHTML(t *testing.T) {
	t.Parallel()
	content := `[
  {"question": "<strong>Can I return</strong> sale items?", "answer": "<p>Returns within <strong>14 days</strong>.</p><ul><li>Unworn</li><li>With tags</li></ul>"},
  {"question": "Do you ship to R&amp;D labs?", "answer": "Yes &mdash; worldwide."},
  {"question": "Is shipping free?", "answer": "For orders < 50 EUR it costs 4 EUR.\n\n- Tracked\n- Insured"}
]`
	batch, rowErrs := mustParse(t, writeTemp(t, "faq.json", content), FormatFAQJSON)
	noRowErrors(t, rowErrs)

	returns := documentByTitle(t, batch, "Can I return sale items?")
	if want := "Returns within 14 days.\n\n- Unworn\n- With tags"; returns.Body != want {
		t.Errorf("HTML answer = %q, want %q", returns.Body, want)
	}
	labs := documentByTitle(t, batch, "Do you ship to R&D labs?")
	if want := "Yes \u2014 worldwide."; labs.Body != want {
		t.Errorf("answer with an entity = %q, want %q", labs.Body, want)
	}
	// Text without HTML tags keeps its Markdown line breaks.
	free := documentByTitle(t, batch, "Is shipping free?")
	if want := "For orders < 50 EUR it costs 4 EUR.\n\n- Tracked\n- Insured"; free.Body != want {
		t.Errorf("plain answer = %q, want %q", free.Body, want)
	}
}

func TestFAQJSONWholeFileErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"no list":   `{"title": "Help"}`,
		"scalar":    `"Help"`,
		"truncated": `{"questions": [{"question": "Q?",`,
		"not array": `{"questions": {"question": "Q?", "answer": "A."}}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := writeTemp(t, "faq.json", content)
			_, _, err := ParseFile(path, FormatFAQJSON)
			if err == nil {
				t.Fatal("ParseFile succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

func TestMarkdownFormatsRejectJSONAndCSV(t *testing.T) {
	t.Parallel()
	faqJSON := `{"questions": [{"question": "What payment methods do you accept?", "answer": "Cards."}]}`
	csvRows := "Handle,Title,Variant Price\nmug,Mug,5.00\ncup,Cup,4.00\n"
	tests := []struct {
		name, content, kind, fix string
	}{
		{"faq.json", faqJSON, "JSON", "--format faq-json"},
		{"faq.md", "\n  " + faqJSON, "JSON", "--format faq-json"},
		{"faq.txt", `[{"question": "Q?", "answer": "A."}]`, "JSON", "--format faq-json"},
		{"cut.md", `{"questions": [{"question": "Q?", "answer": "A`, "JSON", "--format faq-json"},
		{"products.csv", csvRows, "CSV", "leave out --format"},
		{"products.md", csvRows, "CSV", "--format shopify-csv"},
	}
	for _, tt := range tests {
		for _, format := range []Format{FormatFAQMarkdown, FormatPolicyMarkdown, FormatSizeGuideMarkdown} {
			t.Run(tt.name+"/"+string(format), func(t *testing.T) {
				t.Parallel()
				path := writeTemp(t, tt.name, tt.content)
				_, _, err := ParseFile(path, format)
				if err == nil {
					t.Fatal("ParseFile succeeded")
				}
				for _, want := range []string{path, tt.kind + ", not Markdown", tt.fix} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				// Detection would read a .md or .txt file as Markdown
				// again, so leaving out --format cannot help there.
				ext := filepath.Ext(tt.name)
				if ext != ".json" && ext != ".csv" && strings.Contains(err.Error(), "leave out --format") {
					t.Errorf("error %q tells the user to leave out --format for a %s file", err, ext)
				}
			})
		}
	}
}

func TestMarkdownWithCommasOrLinksStillParses(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"link first":  "[Back to the shop](/)\n\n## Can I pay later?\n\nNo.\n",
		"prose":       "We ship worldwide, quickly, and cheaply.\nReturns are free, easy, and quick.\nAsk us, anytime, anywhere.\n",
		"list":        "- Cards, PayPal, vouchers\n- Gift cards, store credit, cash\n",
		"liquid":      "{{ shop.name }} answers, quickly, always.\n\n## Hours?\n\nNine to five.\n",
		"short lines": "Open daily\nClosed on holidays\n",
		"reference":   "[1]: https://example.com/terms\n\n## Can I return sale items?\n\nYes, see [the terms][1].\n",
		"year note":   "[2024 update] We changed our return window.\n\n## How long?\n\n30 days.\n",
		"sale link":   "[-20% sale](/sale)\n\n## Does the sale stack?\n\nNo.\n",
		"quote":       "[\"Best shop ever\" - a customer]\n\n## Who are you?\n\nA small shop.\n",
		"link bar":    "[Home](/), [Shop](/shop), [Contact](/contact)\n[Terms](/terms), [Privacy](/privacy), [Returns](/returns)\n",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			batch, rowErrs := mustParse(t, writeTemp(t, "notes.md", content), FormatPolicyMarkdown)
			noRowErrors(t, rowErrs)
			if len(batch.Documents) == 0 {
				t.Error("no documents parsed")
			}
		})
	}
}

func TestParsePathsDetectsFAQJSONInDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"faq.json": `{"questions": [{"question": "Do you gift wrap?", "answer": "Yes, for 2 EUR."}]}`,
		"faq.md":   "## Do you ship abroad?\n\nYes.\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	batch, rowErrs, err := ParsePaths([]string{dir}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	noRowErrors(t, rowErrs)
	wrap := documentByTitle(t, batch, "Do you gift wrap?")
	if wrap.Kind != salesagent.KindFAQ || wrap.Body != "Yes, for 2 EUR." {
		t.Errorf("JSON entry = %+v", wrap)
	}
	if abroad := documentByTitle(t, batch, "Do you ship abroad?"); abroad.Source != "faq.md" {
		t.Errorf("Markdown entry source = %q", abroad.Source)
	}
}
