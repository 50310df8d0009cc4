package retrieval

import (
	"testing"

	"github.com/salesagent/salesagent"
)

// ruleFor builds the accessory rule of a query whose lexemes are given, as
// parseTextQuery would group them.
func ruleFor(text string, lexemes ...string) *accessoryRule {
	var tq textQuery
	for _, l := range lexemes {
		tq.groups = append(tq.groups, termGroup{source: l, lexemes: []string{l}, weight: 1})
	}
	return newAccessoryRule(text, tq)
}

func TestAccessoryRuleServes(t *testing.T) {
	cases := []struct {
		query   string
		lexemes []string
		title   string
		want    bool
	}{
		// The query's words come only after the connector: an accessory.
		{"iphone 5", []string{"iphon", "5"}, "Otterbox Defender Case for iPhone 5 - Black", true},
		{"epson projector", []string{"epson", "projector"}, "Replacement Lamp compatible with Epson Projectors", true},
		{"lenovo laptop", []string{"lenovo", "laptop"}, "Lenmar Battery for IBM (Lenovo) Laptop Computers", true},
		{"kayak", []string{"kayak"}, "Roof Rack Pads Fits Most Kayaks", true},
		{"kayak", []string{"kayak"}, "Universal Cradle to fit a kayak", true},
		{"xbox 360", []string{"xbox", "360"}, "Charging Station works with Xbox 360 controllers", true},
		// The title names the thing itself, with or without a connector.
		{"iphone 5", []string{"iphon", "5"}, "Apple iPhone 5 16GB for AT&T", false},
		{"iphone 5", []string{"iphon", "5"}, "Apple iPhone 5 16GB White", false},
		{"epson projector", []string{"epson", "projector"}, "Epson PowerLite Projector with Remote", false},
		// The shopper named the accessory, which comes before the connector.
		{"iphone 5 case", []string{"iphon", "5", "case"}, "Otterbox Defender Case for iPhone 5", false},
		// A connector inside a hyphenated name is no connector.
		{"whirlpool tub", []string{"whirlpool", "tub"}, "KOHLER Tea-for-Two 5.5 ft. Whirlpool Tub", false},
		// A connector needs a word before it.
		{"iphone 6", []string{"iphon", "6"}, "For iPhone 6 Slim Case", false},
		// No query word after the connector, so the rule does not apply.
		{"phone case", []string{"phone", "case"}, "Leather Wallet for Travel", false},
	}
	for _, c := range cases {
		if got := ruleFor(c.query, c.lexemes...).serves(c.title); got != c.want {
			t.Errorf("query %q, title %q: serves = %v, want %v", c.query, c.title, got, c.want)
		}
	}
}

func TestAccessoryRuleOffWhenQueryHasConnector(t *testing.T) {
	for _, query := range []string{"case for iphone 5", "lamp compatible with epson", "rack fits kayak", "works with xbox"} {
		if r := ruleFor(query, "iphon", "5"); r != nil {
			t.Errorf("query %q: rule applies, want none since the shopper asked for an accessory", query)
		}
	}
	if r := ruleFor("iphone 5"); r != nil {
		t.Errorf("query without terms: rule applies, want none")
	}
}

func TestAccessoryRuleDemote(t *testing.T) {
	r := ruleFor("iphone 5", "iphon", "5")
	hits := []Hit{
		{ChunkID: 1, Kind: salesagent.KindProduct, Heading: "Case for iPhone 5", Score: 10},
		{ChunkID: 2, Kind: salesagent.KindFAQ, Heading: "Screen repairs for iPhone 5", Score: 9},
		{ChunkID: 3, Kind: salesagent.KindProduct, Heading: "Apple iPhone 5 16GB", Score: 8},
		{ChunkID: 4, Kind: salesagent.KindProduct, Heading: "Apple iPhone 4S", Score: 4},
	}
	got := r.demote(hits)
	wantOrder := []int64{2, 3, 1, 4}
	for i, id := range wantOrder {
		if got[i].ChunkID != id {
			t.Fatalf("order after demote = %v, want chunk ids %v", chunkIDs(got), wantOrder)
		}
	}
	if got[2].Score != 10*accessoryFactor {
		t.Errorf("demoted score = %v, want %v", got[2].Score, 10*accessoryFactor)
	}
	if got[0].Score != 9 {
		t.Errorf("FAQ score = %v, want it unchanged at 9", got[0].Score)
	}

	var none *accessoryRule
	unchanged := []Hit{{ChunkID: 1, Kind: salesagent.KindProduct, Heading: "Case for iPhone 5", Score: 10}}
	if out := none.demote(unchanged); out[0].Score != 10 {
		t.Errorf("nil rule changed a score to %v", out[0].Score)
	}
}

func chunkIDs(hits []Hit) []int64 {
	ids := make([]int64, len(hits))
	for i, h := range hits {
		ids[i] = h.ChunkID
	}
	return ids
}

// BenchmarkAccessoryDemote measures the rule on the 400 full-text hits that
// hybrid search ranks for 100 results, a quarter of them accessories.
func BenchmarkAccessoryDemote(b *testing.B) {
	r := ruleFor("epson projector", "epson", "projector")
	titles := []string{
		"Replacement Lamp with Housing for Epson Projectors",
		"Epson PowerLite 1761W WXGA 3LCD Projector",
		"Projector Screen 100 in. Diagonal 16:9 Pull Down",
		"Epson Home Cinema 2150 Wireless 1080p Projector",
	}
	hits := make([]Hit, 400)
	for i := range hits {
		hits[i] = Hit{ChunkID: int64(i), Kind: salesagent.KindProduct, Heading: titles[i%len(titles)], Score: float64(len(hits) - i)}
	}
	work := make([]Hit, len(hits))
	for b.Loop() {
		copy(work, hits)
		r.demote(work)
	}
}
