package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/salesagent/salesagent"
)

// namesOption reports whether the message names a size, colour or other
// option value of the product in view, or a colour.
func (c *composer) namesOption() bool {
	p := c.product
	if p == nil {
		return false
	}
	requested, missing := resolveColours(p, c.turn.Message.Body, requestedOptions(p, c.turn.Message.Body))
	return len(requested) > 0 || len(missing) > 0
}

// productAsked returns the message's product, as resolveSubject chose it.
// The product in view is skipped when the message names another product
// or product type, as "how much is the backpack" does beside a jacket. A
// product search need also turns from the product in view when search is
// set and the message does not point at it.
func (c *composer) productAsked(search bool) *salesagent.Product {
	p := c.product
	if p == nil {
		return nil
	}
	message := c.turn.Message.Body
	if c.named || pointsAtProduct(p, message) {
		return p
	}
	if namesOtherThing(p, message, c.turn.Hits) || (search && c.turn.HasNeed(NeedProductSearch)) {
		return nil
	}
	return p
}

// stock answers a stock question for the message's product, or for each
// of the products it names, from their stored variants. Without a product
// it searches the catalog for products in stock.
func (c *composer) stock(ctx context.Context) error {
	if len(c.ambiguous) > 0 {
		c.askWhichProduct(c.ambiguous)
		return nil
	}
	if c.product == nil && len(c.several) > 0 {
		for _, p := range c.several {
			c.stockOf(p)
		}
		return nil
	}
	p := c.productAsked(false)
	if p == nil {
		return c.searchProducts(ctx, c.turn.Message.Body, true)
	}
	c.stockOf(p)
	return nil
}

// stockOf answers for the variants of p that the message names, or for
// all of p when it names none.
func (c *composer) stockOf(p *salesagent.Product) {
	message := c.turn.Message.Body
	requested, missing := resolveColours(p, message, requestedOptions(p, message))
	if len(requested) == 0 && len(missing) == 0 && c.saidStock {
		return
	}
	c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	c.grounded = true
	c.saidStock = true
	currency := c.turn.Shop.Currency

	if len(missing) > 0 {
		c.say(notOffered(p, missing))
	}
	if len(requested) == 0 {
		c.say(stockSummary(p, currency))
		return
	}

	label := requestedLabel(requested)
	matching := variantsWith(p.Variants, requested)
	if len(matching) == 0 {
		c.say(fmt.Sprintf("The %s doesn't come in %s.", p.Title, label))
		if clause := inStockClause(p); clause != "" {
			c.say("It is in stock" + clause + ".")
		}
		return
	}
	inStock := inStockVariants(matching)
	if len(inStock) == 0 {
		c.say(fmt.Sprintf("The %s in %s is sold out right now.", p.Title, label))
		alternatives := nearbyInStock(p, requested)
		if len(alternatives) == 0 {
			if clause := inStockClause(p); clause != "" {
				alternatives = []string{"It is still in stock" + clause + "."}
			}
		}
		for _, sentence := range alternatives {
			c.say(sentence)
		}
		return
	}
	split, ok := splitByOtherOption(p, requested, matching)
	if len(missing) > 0 && ok {
		// The shopper's colour is not offered, so the answer is for the
		// size they named, colour by colour.
		c.say(fmt.Sprintf("In %s, the %s is in stock in %s at %s.%s", label, p.Title, split.name(split.available), priceRange(inStock, currency), fewLeft(inStock)))
		if len(split.soldOut) > 0 {
			c.say(fmt.Sprintf("It is sold out in %s in %s.", label, split.name(split.soldOut)))
		}
		return
	}
	lead := "Yes, the"
	if len(missing) > 0 {
		lead = "The"
	}
	c.say(fmt.Sprintf("%s %s in %s is in stock at %s.%s", lead, p.Title, label, priceRange(inStock, currency), fewLeft(inStock)))
	if ok {
		c.say(split.sentence())
	}
}

// notOffered writes that p does not come in the colours the shopper
// named, and lists the colours it comes in.
func notOffered(p *salesagent.Product, missing []string) string {
	option := optionNamed(p, isColourOption)
	colours := valuesOf(p.Variants, option)
	if len(colours) == 0 {
		return fmt.Sprintf("The %s has no color options, so I can't offer it in %s.", p.Title, joinOr(missing))
	}
	return fmt.Sprintf("The %s doesn't come in %s. Its %s options are %s.", p.Title, joinOr(missing), strings.ToLower(option), joinList(colours))
}

// stockSummary writes a sentence on what of p is in stock and at what
// price.
func stockSummary(p *salesagent.Product, currency string) string {
	inStock := inStockVariants(p.Variants)
	if len(inStock) == 0 {
		return fmt.Sprintf("The %s is sold out right now.", p.Title)
	}
	if groups := sizesByColour(p.Variants); groups != nil {
		colours := valuesOf(p.Variants, optionNamed(p, isColourOption))
		return fmt.Sprintf("The %s is in stock at %s: %s.", p.Title, priceRange(inStock, currency), describeSizesByColour(groups, colours))
	}
	return fmt.Sprintf("The %s is in stock%s at %s.", p.Title, optionSummary(p.Variants, inStock), priceRange(inStock, currency))
}

// inStockClause writes what of p is in stock as a clause to follow "It is
// in stock": sizes by colour when p has both, as ": Blue in sizes S and L;
// Black in size M", or else the option values, as " in size S and M". It
// is empty when nothing is in stock.
func inStockClause(p *salesagent.Product) string {
	inStock := inStockVariants(p.Variants)
	if len(inStock) == 0 {
		return ""
	}
	if groups := sizesByColour(p.Variants); groups != nil {
		return ": " + describeSizesByColour(groups, valuesOf(p.Variants, optionNamed(p, isColourOption)))
	}
	return optionSummary(p.Variants, inStock)
}

// singleValue returns the one value requested for an option matched by
// match, or "" when the option was not requested or got several values.
func singleValue(requested []requestedOption, match func(string) bool) string {
	for _, r := range requested {
		if match(r.name) && len(r.values) == 1 {
			return r.values[0]
		}
	}
	return ""
}

// nearbyInStock suggests what is in stock next to a sold-out size and
// colour: the same size in other colours and the same colour in other
// sizes.
func nearbyInStock(p *salesagent.Product, requested []requestedOption) []string {
	sizeName, colourName := optionNamed(p, isSizeOption), optionNamed(p, isColourOption)
	size, colour := singleValue(requested, isSizeOption), singleValue(requested, isColourOption)
	if size == "" || colour == "" {
		return nil
	}
	var sentences []string
	sameSize := valuesOf(inStockVariants(variantsWith(p.Variants, []requestedOption{{name: sizeName, values: []string{size}}})), colourName)
	if len(sameSize) > 0 {
		sentences = append(sentences, fmt.Sprintf("Size %s is in stock in %s.", size, joinList(sameSize)))
	}
	sameColour := valuesOf(inStockVariants(variantsWith(p.Variants, []requestedOption{{name: colourName, values: []string{colour}}})), sizeName)
	if len(sameColour) > 0 {
		sentences = append(sentences, fmt.Sprintf("%s is in stock in %s.", colour, sizeWord(sameColour)))
	}
	return sentences
}

// optionSplit is the stock of a requested size across colours, or of a
// requested colour across sizes.
type optionSplit struct {
	// subject is the requested value, as "Size M" or "Blue".
	subject string
	// bySize is set when the split is across sizes.
	bySize             bool
	other              string
	available, soldOut []string
}

// splitByOtherOption splits the stock of a request naming only a size
// across colours, or of one naming only a colour across sizes, so a size
// is never taken to be in stock in every colour. ok is false when the
// request names both, several values, or p lacks either option.
func splitByOtherOption(p *salesagent.Product, requested []requestedOption, matching []salesagent.Variant) (split optionSplit, ok bool) {
	sizeName, colourName := optionNamed(p, isSizeOption), optionNamed(p, isColourOption)
	if sizeName == "" || colourName == "" || len(valuesOf(p.Variants, colourName)) < 2 || len(valuesOf(p.Variants, sizeName)) < 2 {
		return optionSplit{}, false
	}
	size, colour := singleValue(requested, isSizeOption), singleValue(requested, isColourOption)
	switch {
	case size != "" && colour == "":
		split = optionSplit{subject: "Size " + size, other: colourName}
	case colour != "" && size == "":
		split = optionSplit{subject: colour, other: sizeName, bySize: true}
	default:
		return optionSplit{}, false
	}

	split.available = valuesOf(inStockVariants(matching), split.other)
	for _, value := range valuesOf(matching, split.other) {
		if !containsString(split.available, value) {
			split.soldOut = append(split.soldOut, value)
		}
	}
	return split, true
}

// name writes values of the other option, as "sizes S and L" or "Blue and
// Black".
func (s optionSplit) name(values []string) string {
	if s.bySize {
		return sizeWord(values)
	}
	return joinList(values)
}

// sentence writes where the requested value is in stock, as "Size M is in
// stock in Black and sold out in Blue." It is empty when a single value of
// the other option is in stock and none is sold out, which the reply has
// already stated.
func (s optionSplit) sentence() string {
	if len(s.soldOut) == 0 {
		if len(s.available) < 2 {
			return ""
		}
		return fmt.Sprintf("%s is in stock in every %s: %s.", s.subject, strings.ToLower(s.other), joinList(s.available))
	}
	return fmt.Sprintf("%s is in stock in %s and sold out in %s.", s.subject, s.name(s.available), s.name(s.soldOut))
}
