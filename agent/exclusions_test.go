package agent

import (
	"slices"
	"testing"
)

func TestExclusionsSplitMessage(t *testing.T) {
	message := "hiking -boots - and -socks for t-shirt weather"
	if got, want := exclusions(message), []string{"-boots", "-socks"}; !slices.Equal(got, want) {
		t.Errorf("exclusions(%q) = %q, want %q", message, got, want)
	}
	if got, want := withoutExclusions(message), "hiking - and for t-shirt weather"; got != want {
		t.Errorf("withoutExclusions(%q) = %q, want %q", message, got, want)
	}
}

func TestProductTypeNamedSkipsExcludedWords(t *testing.T) {
	types := []string{"Boots", "Jackets"}
	if got := productTypeNamed("hiking -boots", types); got != "" {
		t.Errorf(`productTypeNamed("hiking -boots") = %q, want none`, got)
	}
	if got := productTypeNamed("rain jacket -boots", types); got != "Jackets" {
		t.Errorf(`productTypeNamed("rain jacket -boots") = %q, want Jackets`, got)
	}
}
