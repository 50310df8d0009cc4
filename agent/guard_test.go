package agent

import (
	"reflect"
	"strings"
	"testing"
)

func claimTexts(claims []claim) []string {
	var out []string
	for _, c := range claims {
		out = append(out, c.Kind+":"+c.Text)
	}
	return out
}

func TestFindClaimsKinds(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"It costs $12.34 or 15 USD.":                      {"price:$12.34", "price:15 USD"},
		"Only 3 left in size M, and the L is in stock.":   {"stock:3 left", "stock:in stock"},
		"We have size 10 in stock.":                       {"stock:in stock"},
		"Orders ship in 3–5 business days.":               {"delivery_time:3–5 business days"},
		"Returns are accepted within 30 days.":            {"policy_term:30 days"},
		"You get a 30-day trial and two weeks to decide.": {"policy_term:30-day", "policy_term:two weeks"},
		"Enjoy 15% off, or 12.5 percent on sale items.":   {"percent:15%", "percent:12.5 percent"},
		"The S is sold out; the tee is out of stock.":     {"stock:sold out", "stock:out of stock"},
		"It is waterproof and packs small.":               nil,
	}
	for text, want := range cases {
		got := claimTexts(findClaims(text))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("findClaims(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestEvidenceSupportsClaims(t *testing.T) {
	t.Parallel()
	ev := newEvidence(
		"Shipping: Shipping to Canada costs $15.00 and takes 5 to 8 business days. Orders over $100 ship free.",
		"Returns: You can return unworn items within 30 days of delivery.",
		"Summit Rain Jacket: Variants: Blue / S (SKU SRJ-BLU-S) $89.00, 3 in stock; Blue / M (SKU SRJ-BLU-M) $89.00, sold out.",
		`{"products":[{"title":"Merino Tee","price":"34.00","in_stock":true}]}`,
		"Discounts: apply_discount can grant at most 10% once per conversation.",
	)
	cases := []struct {
		reply string
		bad   []string
	}{
		{"Shipping to Canada costs $15 and takes 5–8 days.", nil},
		{"Orders over $100.00 ship free.", nil},
		{"Shipping to Canada takes 3-5 business days.", []string{"delivery_time:3-5 business days"}},
		{"The jacket costs $89.00 and only 3 left in S.", nil},
		{"The jacket costs $79.00.", []string{"price:$79.00"}},
		{"Only 2 left!", []string{"stock:2 left"}},
		{"The M is sold out but the S is in stock.", nil},
		{"The tee costs $34.00.", nil},
		{"Returns within 30 days; exchanges within 60 days.", []string{"policy_term:60 days"}},
		{"I can give you 10% off, not 25%.", []string{"percent:25%"}},
	}
	for _, tc := range cases {
		got := claimTexts(ev.unsupported(tc.reply))
		if !reflect.DeepEqual(got, tc.bad) {
			t.Errorf("unsupported(%q) = %q, want %q", tc.reply, got, tc.bad)
		}
	}

	if bad := newEvidence("No facts here.").unsupported("It is in stock."); len(bad) != 1 {
		t.Errorf("a stock claim without stock evidence passed: %v", bad)
	}
}

func TestRemoveSentencesKeepsRest(t *testing.T) {
	t.Parallel()
	text := "The jacket is $89.00. It ships in 2 days!\nIt is waterproof. Price: $1,299.50 now?"
	claims := newEvidence("$89.00").unsupported(text)
	got, spans := removeSentences(text, claims)
	if got != "The jacket is $89.00. It is waterproof." {
		t.Errorf("removeSentences = %q", got)
	}
	if len(spans) != 2 || text[spans[1][0]:spans[1][1]] != "It is waterproof." {
		t.Errorf("kept spans = %v", spans)
	}
	if n := len(sentenceSpans(text)); n != 4 {
		t.Errorf("text has %d sentences, want 4", n)
	}
}

func TestMarkerFilterSplitMarkers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		parts []string
		want  string
		ids   []string
	}{
		{[]string{"Costs $5 ", "[", "S", "1", "]", "."}, "Costs $5.", []string{"S1"}},
		{[]string{"A [S1][S2] b [S3, S4]", " c."}, "A b c.", []string{"S1", "S2", "S3", "S4"}},
		{[]string{"Sizes [XS to L] fit", " well."}, "Sizes [XS to L] fit well.", nil},
		{[]string{"Open bracket at the end ["}, "Open bracket at the end [", nil},
		{[]string{"  Leading space.", " [S2]"}, "Leading space.", []string{"S2"}},
		{[]string{"See [S12;", " 3]"}, "See", []string{"S12", "S3"}},
	}
	for _, tc := range cases {
		var streamed strings.Builder
		f := &markerFilter{emit: func(s string) { streamed.WriteString(s) }}
		for _, p := range tc.parts {
			f.write(p)
		}
		f.flush()
		var ids []string
		for _, m := range f.marks {
			ids = append(ids, m.id)
		}
		if f.text() != tc.want || streamed.String() != tc.want {
			t.Errorf("parts %q: text %q, streamed %q; want %q", tc.parts, f.text(), streamed.String(), tc.want)
		}
		if !reflect.DeepEqual(ids, tc.ids) {
			t.Errorf("parts %q: marker ids %v, want %v", tc.parts, ids, tc.ids)
		}
	}
}

func TestMarkerFilterSeparatesRounds(t *testing.T) {
	t.Parallel()
	f := &markerFilter{emit: func(string) {}}
	f.write("Let me check. ")
	f.nextRound()
	f.write("Found it [S1].")
	f.flush()
	if f.text() != "Let me check. Found it." {
		t.Errorf("text = %q", f.text())
	}
	if len(f.marks) != 1 || f.marks[0].offset != len("Let me check. Found it") {
		t.Errorf("marks = %+v, want S1 at the end of the second sentence", f.marks)
	}
}
