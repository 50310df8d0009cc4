package eval

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// validScenario is a scenario file's text that Load accepts.
const validScenario = `{
  "name": "demo-shipping-canada",
  "group": "shipping",
  "shop": "demo",
  "source": "demo/shop/faq.md",
  "turns": [{"shopper": "Do you ship to Canada?", "expect": {"must_contain": ["$19.95", ["5-8 business days", "5 to 8 business days"]]}}]
}`

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSingleAndArray(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", validScenario)
	second := strings.Replace(validScenario, "demo-shipping-canada", "demo-shipping-canada-again", 1)
	if err := os.Mkdir(filepath.Join(dir, "more"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "more"), "b.json", "["+second+"]")
	writeFile(t, dir, "notes.md", "not a scenario")

	scenarios, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(scenarios) != 2 {
		t.Fatalf("Load returned %d scenarios, want 2", len(scenarios))
	}
	s := scenarios[0]
	if s.Name != "demo-shipping-canada" || s.File != filepath.Join(dir, "a.json") {
		t.Errorf("first scenario = %s from %s, want demo-shipping-canada from a.json", s.Name, s.File)
	}
	facts := s.Turns[0].Expect.MustContain
	if len(facts) != 2 || len(facts[0]) != 1 || len(facts[1]) != 2 {
		t.Errorf("must_contain = %q, want one single fact and one with 2 alternatives", facts)
	}
}

func TestLoadRejectsInvalidScenarios(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"syntax error", "[\n{\"name\": }", []string{"line 2", "invalid JSON"}},
		{"unknown field", strings.Replace(validScenario, `"must_contain"`, `"must_contains"`, 1), []string{`unknown field "must_contains"`}},
		{"unknown group", strings.Replace(validScenario, `"shipping"`, `"shiping"`, 1), []string{`invalid group "shiping"`, "order_status"}},
		{"unknown shop", strings.Replace(validScenario, `"shop": "demo"`, `"shop": "luma"`, 1), []string{`invalid shop "luma"`, "demo, tau"}},
		{"bad name", strings.Replace(validScenario, "demo-shipping-canada", "Demo Shipping", 1), []string{`invalid name "Demo Shipping"`}},
		{"no source", strings.Replace(validScenario, `"source": "demo/shop/faq.md",`, "", 1), []string{`missing "source"`}},
		{"no turns", `{"name": "a-b", "group": "shipping", "shop": "demo", "source": "faq.md", "turns": []}`, []string{`missing "turns"`}},
		{"unknown tool", strings.Replace(validScenario, `"must_contain"`, `"tools_called": ["track_order"], "must_contain"`, 1), []string{`unknown tool "track_order"`, "order_status"}},
		{"bad discount cap", strings.Replace(validScenario, `"must_contain"`, `"max_discount_percent": 150, "must_contain"`, 1), []string{"invalid max_discount_percent 150"}},
		{"unknown card", strings.Replace(validScenario, `"must_contain"`, `"cards": ["coupon"], "must_contain"`, 1), []string{`unknown card type "coupon"`}},
		{"bad fact", strings.Replace(validScenario, `"$19.95"`, `19.95`, 1), []string{"a fact must be a string or an array"}},
		{"no expectations", strings.Replace(validScenario, `"must_contain": ["$19.95", ["5-8 business days", "5 to 8 business days"]]`, ``, 1), []string{"no expectations"}},
		{"empty message", strings.Replace(validScenario, "Do you ship to Canada?", " ", 1), []string{"turn 1", `missing "shopper"`}},
		{"bad cart", strings.Replace(validScenario, `"turns"`, `"page": {"cart": [{"sku": "NW-RJ-M-FOR", "qty": 0}]}, "turns"`, 1), []string{"cart line 1 (NW-RJ-M-FOR) has qty 0"}},
		{"duplicate name", "[" + validScenario + "," + validScenario + "]", []string{`scenario name "demo-shipping-canada" is also used`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "bad.json", tt.text)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted an invalid scenario file")
			}
			for _, want := range append(tt.want, "bad.json") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadMissingPath(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "give a scenario file or a folder") {
		t.Errorf("Load of a missing path: err = %v, want one naming the fix", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no scenario files") {
		t.Errorf("Load of an empty folder: err = %v, want no scenario files", err)
	}
}

func TestShippedScenarios(t *testing.T) {
	scenarios, err := Load(filepath.Join("..", "..", "evals"))
	if err != nil {
		t.Fatalf("Load evals: %v", err)
	}
	if len(scenarios) < 40 {
		t.Errorf("evals holds %d scenarios, want at least 40", len(scenarios))
	}
	groups := map[string]int{}
	shops := map[string]int{}
	for _, s := range scenarios {
		groups[s.Group]++
		shops[s.Shop]++
	}
	for _, g := range Groups {
		if groups[g] == 0 {
			t.Errorf("evals has no scenario of group %s", g)
		}
	}
	for _, shop := range Shops {
		if shops[shop] == 0 {
			t.Errorf("evals has no scenario of shop %s", shop)
		}
	}
	if !slices.ContainsFunc(scenarios, func(s *Scenario) bool { return len(s.Turns) > 1 }) {
		t.Error("evals has no scenario of more than one turn")
	}
}
