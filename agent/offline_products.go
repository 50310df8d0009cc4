package agent

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/kljensen/snowball/english"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// price answers a question on a price or a discount. A discount question
// quotes the shop's passage on discounts, and adds the sale price of the
// product in view when its variants have one. One that points at the
// product in view, as "is this on sale?", gets the product's price first,
// and the passage only when the product has no sale price.
func (c *composer) price(ctx context.Context) error {
	message := c.turn.Message.Body
	discount := mentionsDiscount(message)
	p := c.productAsked(!discount)
	// A discount question naming products, as "any jackets on sale?", is
	// answered by the products found with their sale prices.
	if discount && !pointsAtProduct(p, message) {
		if terms := productTerms(message, c.turn.Hits); terms != "" {
			found, err := c.findProducts(ctx, terms, false)
			if err != nil || found {
				return err
			}
		}
	}

	if p == nil && len(c.several) > 0 && !c.hasTopicNeed() {
		for _, named := range c.several {
			c.priceOf(named, discount)
		}
		return nil
	}
	if p == nil && len(c.ambiguous) > 0 && !c.hasTopicNeed() {
		c.askWhichProduct(c.ambiguous)
		return nil
	}
	// With shipping, returns or payment among the needs, "how much" asks
	// what that costs, which the topic's passage answers.
	if c.hasTopicNeed() || p == nil {
		switch {
		case discount:
			c.policy(NeedPrice)
			return nil
		case c.hasTopicNeed():
			return nil
		}
		return c.searchProducts(ctx, message, false)
	}
	c.priceOf(p, discount)
	return nil
}

// priceOf states the price of p, or of its variants the message names,
// with the sale price when the stored compare-at price is higher. A
// discount question also gets the shop's passage on discounts.
func (c *composer) priceOf(p *salesagent.Product, discount bool) {
	message := c.turn.Message.Body
	variants := p.Variants
	label := ""
	if requested := requestedOptions(p, message); len(requested) > 0 {
		if matching := variantsWith(p.Variants, requested); len(matching) > 0 {
			variants, label = matching, " in "+requestedLabel(requested)
		}
	}
	if len(variants) == 0 {
		if discount {
			c.policy(NeedPrice)
		}
		return
	}
	currency := c.turn.Shop.Currency
	price := priceRange(variants, currency)
	was := commonCompareAt(variants)
	pointed := pointsAtProduct(p, message)
	switch {
	case discount && was != nil:
		if !pointed {
			c.policy(NeedPrice)
		}
		c.say(fmt.Sprintf("The %s%s is on sale at %s, down from %s.", p.Title, label, price, was.Format(currency)))
	case discount && pointed:
		c.say(fmt.Sprintf("The %s%s costs %s, and no reduced price is listed for it.", p.Title, label, price))
		c.policy(NeedPrice)
	case discount:
		// The product's stored prices show no reduction to tell of.
		c.policy(NeedPrice)
		return
	case was != nil:
		c.say(fmt.Sprintf("The %s%s costs %s, down from %s.", p.Title, label, price, was.Format(currency)))
	default:
		c.say(fmt.Sprintf("The %s%s costs %s.", p.Title, label, price))
	}
	c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	c.grounded = true
}

// topicNeeds are the needs answered from the shop's passages.
var topicNeeds = []Need{NeedShipping, NeedReturns, NeedPayment}

// hasTopicNeed reports whether shipping, returns or payment was recognised.
func (c *composer) hasTopicNeed() bool {
	for _, n := range topicNeeds {
		if c.turn.HasNeed(n) {
			return true
		}
	}
	return false
}

// discountPattern finds a question about discounts or promotions. "Offer"
// and "code" alone do not count, as in "what shipping options do you
// offer".
var discountPattern = regexp.MustCompile(`(?i)\b(discount|coupon|promo|promotion|voucher|sale|deal|markdown|clearance|rebate)s?\b|\b(special|any) offers?\b|\boffers\b`)

func mentionsDiscount(text string) bool { return discountPattern.MatchString(text) }

// productSearch searches the catalog for what the message asks for. A
// message about discounts or a shop topic searches only for the products
// it names, as "jackets" in "are any jackets on sale", and none when it
// names none.
func (c *composer) productSearch(ctx context.Context) error {
	message := c.turn.Message.Body
	if !mentionsDiscount(message) && !c.hasTopicNeed() {
		return c.searchProducts(ctx, message, false)
	}
	terms := productTerms(message, c.turn.Hits)
	if terms == "" {
		return nil
	}
	// The passage on the topic answers when no product matches.
	_, err := c.findProducts(ctx, terms, false)
	return err
}

// topicQueryNoise are words of a discount or shop-topic question that name
// no product.
var topicQueryNoise = map[string]bool{}

func init() {
	for _, list := range topicWords {
		for s := range stemSet(list) {
			topicQueryNoise[s] = true
		}
	}
	for _, list := range coreWords {
		for s := range stemSet(list) {
			topicQueryNoise[s] = true
		}
	}
	for _, w := range []string{"deal", "deals", "promotion", "promotions", "special", "offers", "markdown", "clearance", "rebate", "cheap", "cheaper", "cheapest"} {
		topicQueryNoise[stem(w)] = true
	}
}

// productTerms returns the words of message that name a product: words of
// the title or type of a retrieved product, other than filler and the
// words of discounts and shop topics.
func productTerms(message string, hits []retrieval.Hit) string {
	named := map[string]bool{}
	for _, h := range hits {
		if h.Kind == salesagent.KindProduct {
			for _, s := range contentStems(h.Heading + " " + h.ProductType) {
				named[s] = true
			}
		}
	}
	var terms []string
	for _, w := range words(normalize(message)) {
		if len(w) < 2 || (english.IsStopWord(w) && !meaningfulStopWords[w]) || extraStopWords[w] {
			continue
		}
		s := stem(w)
		if !named[s] || queryNoise[s] || topicQueryNoise[s] || genericWords[s] || isNumber(s) {
			continue
		}
		terms = append(terms, w)
	}
	return strings.Join(terms, " ")
}

// maxPricePattern finds a price limit such as "under $100" or "below 1,299.99".
var maxPricePattern = regexp.MustCompile(`(?i)\b(?:under|below|less than|max(?:imum)?|up to|no more than|cheaper than)\s*[$€£]?\s*(\d[\d,]*(?:\.\d{1,2})?)`)

// maxPrice returns the price limit the message names, as in "under $100",
// or nil.
func (c *composer) maxPrice() *float64 {
	m := maxPricePattern.FindStringSubmatch(c.turn.Message.Body)
	if m == nil {
		return nil
	}
	amount, err := salesagent.ParseMoney(m[1])
	if err != nil || amount <= 0 {
		return nil
	}
	limit := float64(amount) / 100
	return &limit
}

// productTypeNamed returns the shop's product type that the message names,
// as "Boots" for "hiking boots", or "". Search results are limited to it,
// so "waterproof jacket" lists no fleece or daypack.
func (c *composer) productTypeNamed() string {
	return productTypeNamed(c.turn.Message.Body, hitProductTypes(append(append([]retrieval.Hit(nil), c.turn.ProductHits...), c.turn.Hits...)))
}

// searchProducts calls search_products with query, and with the price
// limit the message names, as in "under $100", and lists the products
// found in the reply. When it finds none, compose reports that later,
// unless a passage matches the message.
func (c *composer) searchProducts(ctx context.Context, query string, inStock bool) error {
	found, err := c.findProducts(ctx, query, inStock)
	if err == nil && !found {
		c.noMatch = true
	}
	return err
}

// findProducts runs one product search per reply and lists what it found.
// found is false when the search found nothing, and true when it found
// products or a search ran before.
func (c *composer) findProducts(ctx context.Context, query string, inStock bool) (found bool, err error) {
	if c.searched {
		return true, nil
	}
	c.searched = true

	args := searchProductsArgs{
		Query: shorten(strings.TrimSpace(query), maxQueryLength), InStock: inStock,
		MaxPrice: c.maxPrice(), ProductType: c.productTypeNamed(),
	}
	result, err := c.tools.CallWith(ctx, "search_products", args)
	if rejected(err) {
		c.say("Could you tell me a bit more about what you're looking for?")
		return true, nil
	}
	if err != nil {
		return false, err
	}

	if len(result.Data.(SearchProductsData).Products) == 0 {
		return false, nil
	}
	c.listFound(result)
	return true, nil
}

// listProducts writes found products as "Trail Tech Tee ($29.00, down
// from $38.00, in stock)", naming the option values asked for.
func listProducts(products []ProductSummary) string {
	items := make([]string, len(products))
	for i, p := range products {
		price := p.Price
		if p.WasPrice != "" {
			price += ", down from " + p.WasPrice
		}
		title := p.Title
		if p.Options != "" {
			title += " in " + p.Options
		}
		items[i] = fmt.Sprintf("%s (%s, %s)", title, price, stockWord(p.InStock))
	}
	return joinList(items)
}
