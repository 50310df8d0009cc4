package agent

import (
	"reflect"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestStreamPartsRejoin(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"",
		"One sentence",
		"First. Second! Third? Fourth",
		`From "Shipping": "We ship. It costs $15.00." Next.`,
		"Line one\nLine two\n\nLine three.  ",
	} {
		parts := streamParts(text)
		if joined := strings.Join(parts, ""); joined != text {
			t.Errorf("streamParts(%q) joined = %q", text, joined)
		}
		for _, p := range parts {
			if p == "" {
				t.Errorf("streamParts(%q) has an empty part", text)
			}
		}
	}
	if n := len(streamParts("First. Second! Third?")); n != 3 {
		t.Errorf("three sentences streamed in %d parts", n)
	}
}

func TestSplitSentences(t *testing.T) {
	t.Parallel()
	got := splitSentences("We ship to Canada, e.g. Toronto. It takes 5 days!\nReturns are free.")
	want := []string{"We ship to Canada, e.g. Toronto.", "It takes 5 days!", "Returns are free."}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitSentences = %q, want %q", got, want)
	}
}

func TestOrderNumberIn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text string
		bare bool
		want string
	}{
		{"where is my order #1001?", false, "1001"},
		{"order number: A-2002 please", false, "A-2002"},
		{"status of purchase 113542617735902", false, "113542617735902"},
		{"it's 1001", false, ""},
		{"it's 1001", true, "1001"},
		{"my email is ann1001@example.com", true, ""},
		{"how much is shipping", true, ""},
		{"What's the order status for 727, email john.doe@example.com", false, "727"},
		{"status of my order: 1001", false, "1001"},
		{"an order for 2 jackets", false, ""},
	}
	for _, tc := range cases {
		if got := orderNumberIn(tc.text, tc.bare); got != tc.want {
			t.Errorf("orderNumberIn(%q, %v) = %q, want %q", tc.text, tc.bare, got, tc.want)
		}
	}
}

func TestRequestedOptions(t *testing.T) {
	t.Parallel()
	jacket := testCatalog()[0]
	cases := []struct {
		text string
		want string
	}{
		{"do you have this in M", "size M"},
		{"is the blue one in stock", "Blue"},
		{"do you have it in medium in black?", "size M, Black"},
		{"S or L?", "size S or L"},
		{"M?", "size M"},
		{"in S or L please", "size S or L"},
		{"it's great", ""},
		{"what about XL", ""},
		{"do you have size xl", "size XL"},
	}
	for _, tc := range cases {
		if got := requestedLabel(requestedOptions(&jacket, tc.text)); got != tc.want {
			t.Errorf("requestedOptions(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestRequestedOptionsHalfSizes(t *testing.T) {
	t.Parallel()
	shoe := salesagent.Product{Title: "Trail Runner"}
	for _, size := range []string{"9", "10", "42", "42.5"} {
		shoe.Variants = append(shoe.Variants, salesagent.Variant{Options: []salesagent.Option{{Name: "Size", Value: size}}})
	}
	cases := []struct {
		text string
		want string
	}{
		{"I usually wear a 9.5", ""},
		{"I usually wear a 9", "size 9"},
		{"do you have a 10.5?", ""},
		{"is a 42,5 in stock", "size 42.5"},
		{"is a 42.5 in stock", "size 42.5"},
		{"do you have size 9 or 10", "size 9 or 10"},
	}
	for _, tc := range cases {
		if got := requestedLabel(requestedOptions(&shoe, tc.text)); got != tc.want {
			t.Errorf("requestedOptions(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestOptionSummaryKeepsCatalogOrder(t *testing.T) {
	t.Parallel()
	jacket := testCatalog()[0]
	got := optionSummary(jacket.Variants, inStockVariants(jacket.Variants))
	if want := " in size S, M and L, color Blue and Black"; got != want {
		t.Errorf("optionSummary = %q, want %q", got, want)
	}
	tee := salesagent.Product{Variants: []salesagent.Variant{{Options: []salesagent.Option{{Name: "Title", Value: "Default Title"}}}}}
	if got := optionSummary(tee.Variants, tee.Variants); got != "" {
		t.Errorf("optionSummary of a product without options = %q, want empty", got)
	}
}
