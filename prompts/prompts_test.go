package prompts

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata with the rendered prompts")

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test ./prompts -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("rendered prompt differs from %s (run go test ./prompts -update after checking the change)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestSystemPromptGolden(t *testing.T) {
	t.Parallel()
	cases := map[string]System{
		"system_full.golden": Sample(),
		"system_minimal.golden": {
			Shop: Shop{Name: "Tiny Shop"},
		},
		"system_no_sources.golden": {
			Shop:     Shop{Name: "Northwind", Currency: "EUR"},
			Policies: []string{"Discounts: none can be granted in chat."},
			Tools:    []Tool{{Name: "search_products", Description: "Search the catalog."}},
			Page:     Page{Cart: []CartLine{{SKU: "A-1", Quantity: 1}, {SKU: "B-2", Title: "Boot", Quantity: 3}}},
		},
	}
	for name, data := range cases {
		got, err := Default().System(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		golden(t, name, got)
	}
}

func TestSystemPromptStatesSources(t *testing.T) {
	t.Parallel()
	got, err := Default().System(Sample())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"shopping assistant of Northwind Outfitters",
		"[S1] Returns and exchanges (policy): You can return unworn items within 30 days of delivery.",
		"- send_size_guide: Show the size guide table for a product.",
		"- Product in view: Summit Rain Jacket [S2]",
		"- Cart: 2 × Merino Tee (MT-M)",
		"Shopper: Returning shopper Ann.",
		"Discounts: apply_discount can grant at most 10% once per conversation.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, got)
		}
	}
}

func TestLoadOverridesTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	override := "{{define \"unused\"}}{{end}}Sources for {{.Shop.Name}}:{{range .Sources}} [{{.ID}}]{{end}}"
	if err := os.WriteFile(filepath.Join(dir, "context.tmpl"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.System(Sample())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(got, "Sources for Northwind Outfitters: [S1] [S2]\n") {
		t.Errorf("prompt does not end with the overriding context.tmpl:\n%s", got)
	}
	if !strings.Contains(got, "shopping assistant of Northwind Outfitters") {
		t.Errorf("prompt lost the embedded system.tmpl:\n%s", got)
	}
}

func TestLoadRejectsBadTemplates(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		files map[string]string
		want  string
	}{
		"no templates":  {files: map[string]string{"notes.txt": "hello"}, want: "has no .tmpl files"},
		"syntax error":  {files: map[string]string{"system.tmpl": "{{if}}"}, want: "parse prompt templates in"},
		"unknown field": {files: map[string]string{"system.tmpl": "{{.Shop.Slogan}}"}, want: "can't evaluate field Slogan"},
	}
	for name, tc := range cases {
		dir := t.TempDir()
		for file, body := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load error = %v, want one containing %q", name, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load of a missing directory: error = %v, want no such file", err)
	}
}
