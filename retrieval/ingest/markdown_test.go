package ingest

import (
	"slices"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestFAQMarkdownFixture(t *testing.T) {
	t.Parallel()
	batch, rowErrs := mustParse(t, "testdata/faq.md", "")
	noRowErrors(t, rowErrs)

	var titles []string
	for _, d := range batch.Documents {
		titles = append(titles, d.Title)
		if d.Kind != salesagent.KindFAQ || d.Source != "faq.md" {
			t.Errorf("%q: kind %q source %q, want faq from faq.md", d.Title, d.Kind, d.Source)
		}
	}
	want := []string{"How long does delivery take?", "Can I change my order after paying?", "Do your jackets run small?", "What if the size is wrong?"}
	if !slices.Equal(titles, want) {
		t.Errorf("titles = %q, want %q (headings without text give no entry)", titles, want)
	}

	delivery := documentByTitle(t, batch, "How long does delivery take?")
	if delivery.Key != "faq/how-long-does-delivery-take" {
		t.Errorf("key = %q", delivery.Key)
	}
	if !strings.HasPrefix(delivery.Body, "Standard delivery takes 3 to 5 working days") || strings.Contains(delivery.Body, "Can I change") {
		t.Errorf("body = %q", delivery.Body)
	}
	jackets := documentByTitle(t, batch, "Do your jackets run small?")
	if !strings.Contains(jackets.Body, "# This line is inside a code block") {
		t.Errorf("a # line inside a code block cut the entry: %q", jackets.Body)
	}
}

func TestPolicyMarkdownFixture(t *testing.T) {
	t.Parallel()
	batch, rowErrs := mustParse(t, "testdata/policies.md", "")
	noRowErrors(t, rowErrs)

	if len(batch.Documents) != 4 {
		t.Fatalf("got %d documents, want 4", len(batch.Documents))
	}
	returns := documentByTitle(t, batch, "Returns")
	if returns.Kind != salesagent.KindPolicy || !strings.Contains(returns.Body, "- Gift cards cannot be returned.") {
		t.Errorf("returns = %+v", returns)
	}
	shipping := documentByTitle(t, batch, "Shipping")
	if strings.Contains(shipping.Body, "EU") {
		t.Errorf("shipping body runs into its subsection: %q", shipping.Body)
	}
	if documentByTitle(t, batch, "International shipping").Body != "We ship to the EU and the UK. Duties are paid by the recipient." {
		t.Error("international shipping body is wrong")
	}
}

func TestSizeGuideMarkdownFixture(t *testing.T) {
	t.Parallel()
	batch, rowErrs := mustParse(t, "testdata/size-guides.md", "")
	noRowErrors(t, rowErrs)

	var types []string
	for _, d := range batch.Documents {
		types = append(types, d.ProductType)
		if d.Kind != salesagent.KindSizeGuide || d.Table == nil {
			t.Errorf("%q: kind %q table %v", d.Title, d.Kind, d.Table)
		}
	}
	if !slices.Equal(types, []string{"Jackets", "Pants", "Shoes"}) {
		t.Fatalf("product types = %q", types)
	}

	jackets := documentByTitle(t, batch, "Jackets size guide")
	if !slices.Equal(jackets.Table.Columns, []string{"Size", "Chest (cm)", "Waist (cm)", "Sleeve (cm)"}) {
		t.Errorf("columns = %q", jackets.Table.Columns)
	}
	if len(jackets.Table.Rows) != 5 || !slices.Equal(jackets.Table.Rows[2], []string{"M", "94-99", "78-83", "85"}) {
		t.Errorf("rows = %q", jackets.Table.Rows)
	}
	if jackets.Table.Notes != "Measure your chest at the fullest point, under the arms." {
		t.Errorf("notes = %q", jackets.Table.Notes)
	}
	for _, want := range []string{
		"Size M: Chest (cm) 94-99, Waist (cm) 78-83, Sleeve (cm) 85.",
		"Measure your chest at the fullest point",
		"All measurements are body measurements in centimetres.",
	} {
		if !strings.Contains(jackets.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, jackets.Body)
		}
	}
	if strings.Contains(jackets.Body, "|") {
		t.Errorf("body keeps Markdown table syntax:\n%s", jackets.Body)
	}

	shoes := documentByTitle(t, batch, "Shoes size guide")
	if shoes.Table.Notes != "" || !slices.Equal(shoes.Table.Rows[0], []string{"40", "6.5", "25.4"}) {
		t.Errorf("shoes table = %+v", shoes.Table)
	}
}

func TestSizeGuideMarkdownBadSections(t *testing.T) {
	t.Parallel()
	const guide = "# Guides\n\n## Hats\n\nOne size fits all.\n\n## Gloves\n\n| Size | Hand (cm) |\n|---|---|\n| S | 18 |\n| M |\n"
	path := writeTemp(t, "sizes.md", guide)
	batch, rowErrs := mustParse(t, path, "")

	if len(rowErrs) != 1 {
		t.Fatalf("row errors = %v, want one for the section without a table", rowErrs)
	}
	e := rowErrs[0]
	if e.File != "sizes.md" || e.Line != 3 || e.Value != "Hats" || !strings.Contains(e.Error(), `no table under heading "Hats"`) {
		t.Errorf("row error = %v (line %d)", e, e.Line)
	}
	if len(batch.Documents) != 1 {
		t.Fatalf("got %d documents, want the gloves guide", len(batch.Documents))
	}
	if rows := batch.Documents[0].Table.Rows; !slices.Equal(rows[1], []string{"M", ""}) {
		t.Errorf("short row not padded: %q", rows)
	}
}

func TestMarkdownDuplicateHeadings(t *testing.T) {
	t.Parallel()
	path := writeTemp(t, "faq.md", "## Returns?\n\nYes.\n\n## Returns?\n\nWithin 30 days.\n\n##\n\nOrphan text.\n")
	batch, rowErrs := mustParse(t, path, FormatFAQMarkdown)

	if len(batch.Documents) != 2 || batch.Documents[0].Key != "faq/returns" || batch.Documents[1].Key != "faq/returns-2" {
		t.Errorf("documents = %+v, want keys faq/returns and faq/returns-2", batch.Documents)
	}
	if e, ok := findRowError(rowErrs, "heading has no text"); !ok || e.Line != 9 {
		t.Errorf("row errors = %v, want one for the empty heading on line 9", rowErrs)
	}
}

func TestTauBenchWikiPolicies(t *testing.T) {
	t.Parallel()
	path := sharedData(t, "tau-bench-retail", "v1", "wiki.md")
	batch, rowErrs := mustParse(t, path, FormatPolicyMarkdown)
	noRowErrors(t, rowErrs)

	var titles []string
	for _, d := range batch.Documents {
		titles = append(titles, d.Title)
	}
	want := []string{"Retail agent policy", "Domain basic", "Cancel pending order", "Modify pending order", "Modify payment", "Modify items", "Return delivered order", "Exchange delivered order"}
	if !slices.Equal(titles, want) {
		t.Errorf("titles = %q, want %q", titles, want)
	}
	cancel := documentByTitle(t, batch, "Cancel pending order")
	if !strings.Contains(cancel.Body, "'no longer needed' or 'ordered by mistake'") {
		t.Errorf("cancel policy body = %q", cancel.Body)
	}
}
