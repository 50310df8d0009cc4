package agent

import (
	"regexp"
	"strings"

	"github.com/salesagent/salesagent"
)

// A model may state a price that the sources hold, but for another
// product: "the Ridgeline Rain Jacket is on sale for $89.00" when the
// jacket costs $149 and a fleece $89. The flat evidence accepts it, so
// prices stated of one named product are checked against that product's
// own prices as well.

// priceOfPattern matches the words between a product's name and a price
// stated as its price: "is", "costs", "for", "at", "now", "priced at".
var priceOfPattern = regexp.MustCompile(`(?i)^[^.;:!?$€£]{0,40}?\b(?:is|are|costs?|for|at|now|priced|sells|down to|only)\b[^.;:!?$€£]{0,20}$`)

// otherAmountWords mark a price that is not the product's own, as a
// shipping fee stated in the same sentence.
var otherAmountWords = regexp.MustCompile(`(?i)\b(?:ship|shipping|delivery|postage|fee|tax|duties|discount|off|save|saving|gift card|credit|refund|deposit)\b`)

// productPrices maps each product of the turn (in view, named, earlier or
// found by search_products), by lowercase title, to its variants' prices
// in cents, now and before a sale.
func (t *llmTurn) productPrices() map[string]map[int64]bool {
	prices := map[string]map[int64]bool{}
	add := func(title string, cents int64) {
		key := strings.ToLower(strings.TrimSpace(title))
		if key == "" {
			return
		}
		if prices[key] == nil {
			prices[key] = map[int64]bool{}
		}
		prices[key][cents] = true
	}
	addProduct := func(p *salesagent.Product) {
		if p == nil {
			return
		}
		for _, v := range p.Variants {
			add(p.Title, int64(v.Price))
			if v.CompareAtPrice != nil {
				add(p.Title, int64(*v.CompareAtPrice))
			}
		}
	}
	addProduct(t.turn.Product)
	for _, p := range t.turn.Named {
		addProduct(p)
	}
	for _, p := range t.turn.Earlier {
		addProduct(p)
	}
	for _, r := range t.results {
		data, ok := r.Data.(SearchProductsData)
		if !ok {
			continue
		}
		for _, p := range data.Products {
			for _, c := range findClaims(p.Price + " " + p.WasPrice) {
				if c.Kind == claimPrice {
					add(p.Title, c.cents)
				}
			}
		}
	}
	return prices
}

// misattributedPrices returns the price claims of text, beyond those in
// already, that a sentence states as the price of exactly one of the
// turn's products, right after its name, and that do not match any price
// of that product.
func (t *llmTurn) misattributedPrices(text string, already []claim) []claim {
	claims := findClaims(text)
	if !containsKind(claims, claimPrice) {
		return nil
	}
	prices := t.productPrices()
	if len(prices) == 0 {
		return nil
	}
	lower := strings.ToLower(text)
	spans := sentenceSpans(text)
	var bad []claim
	for _, c := range claims {
		if c.Kind != claimPrice || containsClaim(already, c) {
			continue
		}
		span := spanAround(spans, len(text), c.start, c.end)
		sentence := lower[span[0]:c.start]
		var named string
		var at int
		for title := range prices {
			if i := strings.LastIndex(sentence, title); i >= 0 {
				if named != "" && named != title {
					// With two products named, the price may be either's.
					named = ""
					break
				}
				named, at = title, i+len(title)
			}
		}
		if named == "" {
			continue
		}
		between := sentence[at:]
		if !priceOfPattern.MatchString(between) || otherAmountWords.MatchString(between) || otherAmountWords.MatchString(lower[c.end:min(len(lower), c.end+30)]) {
			continue
		}
		if !prices[named][c.cents] {
			bad = append(bad, c)
		}
	}
	return bad
}

func containsKind(claims []claim, kind string) bool {
	for _, c := range claims {
		if c.Kind == kind {
			return true
		}
	}
	return false
}

func containsClaim(claims []claim, c claim) bool {
	for _, have := range claims {
		if have.start == c.start && have.end == c.end {
			return true
		}
	}
	return false
}
