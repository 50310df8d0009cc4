package agent

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kljensen/snowball/english"

	"github.com/salesagent/salesagent"
)

// withoutNeed returns needs without need.
func withoutNeed(needs []Need, need Need) []Need {
	out := make([]Need, 0, len(needs))
	for _, n := range needs {
		if n != need {
			out = append(out, n)
		}
	}
	return out
}

// similarPattern finds a request for other products like a named one.
var similarPattern = regexp.MustCompile(`(?i)\b(similar|like the|alternatives?|instead of|other than|cheaper than)\b`)

// adjustNeeds fits the recognised needs to the products the message is
// about. A message that names a product and one of its option values, as
// "the tee in medium white", asks about that variant's stock, and one
// naming a single product is not a catalog search.
func (c *composer) adjustNeeds(needs []Need) []Need {
	variantNeed := false
	for _, n := range needs {
		if n == NeedStock || n == NeedPrice || n == NeedSizing {
			variantNeed = true
		}
	}
	if c.product != nil && c.named {
		if !similarPattern.MatchString(c.turn.Message.Body) {
			needs = withoutNeed(needs, NeedProductSearch)
		}
		if !variantNeed && c.namesOption() {
			needs = append(needs, NeedStock)
		}
	}
	// "this fleece jacket" on the Fleece Jacket's page asks about that
	// product, not for a search.
	if c.product != nil && !c.named && c.product == c.turn.Product && pointsByName(c.product, c.turn.Message.Body) &&
		!similarPattern.MatchString(c.turn.Message.Body) {
		needs = withoutNeed(needs, NeedProductSearch)
	}
	if len(c.ambiguous) > 0 && !variantNeed {
		needs = append(needs, NeedStock)
	}
	// "Do you have the Cabin hoodie in size M?" is about the stock of M,
	// not about fit, so it gets stock rather than the size guide.
	if c.product != nil && slices.Contains(needs, NeedSizing) && availabilityPattern.MatchString(c.turn.Message.Body) &&
		!sizingAdvicePattern.MatchString(c.turn.Message.Body) {
		needs = withoutNeed(needs, NeedSizing)
		if !slices.Contains(needs, NeedStock) {
			needs = append(needs, NeedStock)
		}
	}
	return needs
}

var (
	// availabilityPattern finds a question whether something is there to
	// buy.
	availabilityPattern = regexp.MustCompile(`(?i)\bdo you (have|sell|stock|carry)\b|\b(in stock|available|availability)\b|\b(is|are) there\b|\bany left\b`)
	// sizingAdvicePattern finds a request for help choosing a size.
	sizingAdvicePattern = regexp.MustCompile(`(?i)\b(which|what) size\b|\bfit(s|ting)?\b|\bruns? (small|large|big|true)\b|\bbetween sizes\b|\bsize (guide|chart)\b|\bshould i (get|order|take|buy)\b|\bmeasure|\b(chest|waist|hips?|height|inseam)\b|\b(cm|inch|inches)\b|\bi (usually |normally )?wear\b`)
)

// pointsByName reports whether message points at p with a word such as
// "this" followed by a word of p's title or type, as "this fleece jacket".
func pointsByName(p *salesagent.Product, message string) bool {
	own := setOf(stems(p.Title + " " + p.ProductType))
	tokens := words(normalize(message))
	for i, w := range tokens {
		if !pointingWords[w] || w == "it" || w == "them" {
			continue
		}
		for _, next := range tokens[i+1 : min(i+3, len(tokens))] {
			if own[stem(next)] && !english.IsStopWord(next) {
				return true
			}
		}
	}
	return false
}

// Patterns of catalog questions that search_products alone does not
// answer.
var (
	// comparePattern finds a request to compare products.
	comparePattern = regexp.MustCompile(`(?i)\b(differences?|differ|compare[sd]?|comparison|versus|vs\.?|better|than|which (one|is|should))\b`)
	// warmthPattern finds a question on how warm products are.
	warmthPattern = regexp.MustCompile(`(?i)\b(warm|warmer|warmest|warmth|insulated|insulation|insulating|coldest|cold weather)\b`)
	// saleListPattern finds a request for the products on sale, as
	// against a question on discount codes.
	saleListPattern = regexp.MustCompile(`(?i)\b(on sale|sale items?|clearance|markdowns?|marked down|reduced|deals?)\b`)
	// priceDropPattern finds a request for the difference after a price
	// fell on something the shopper already bought.
	priceDropPattern = regexp.MustCompile(`(?i)\bprice (adjustments?|drops?|protection)\b|\bdifference (back|refunded)\b|\brefund (me )?the difference\b|\b(bought|purchased|ordered)\b.*\b(price (dropped|went down|fell)|cheaper now)\b`)
)

// priceAdjustmentQuestion is the question a price adjustment policy
// answers, which a message that priceDropPattern matches asks.
const priceAdjustmentQuestion = "If the price is lowered after my order, do you refund the difference?"

// catalogQuestion answers the catalog questions that need more than a
// search: a request for a price adjustment, a comparison of named
// products, a ranking by warmth and a list of products on sale. It reports
// whether it answered.
func (c *composer) catalogQuestion(ctx context.Context) (bool, error) {
	message := c.turn.Message.Body
	// "They're on sale now, can I get the difference back?" asks for the
	// price adjustment policy, not for the products on sale.
	if priceDropPattern.MatchString(message) {
		// The policy's own words pick its sentence, because the shopper's
		// "bought" and "sale" would pick its exceptions.
		if best, ok := bestPassage(c.turn.Hits, priceAdjustmentQuestion, NeedPrice, policyKinds...); ok {
			c.quote(best)
			return true, nil
		}
	}
	if compared := c.comparedProducts(); len(compared) >= 2 && (comparePattern.MatchString(message) || c.turn.HasNeed(NeedProductSearch)) {
		c.compare(compared)
		return true, nil
	}
	if c.product == nil && len(c.several) == 0 && warmthPattern.MatchString(message) {
		if productType := c.productTypeNamed(); productType != "" {
			return c.rankWarmth(ctx, productType)
		}
	}
	if c.product == nil && len(c.several) == 0 && !c.hasTopicNeed() && mentionsDiscount(message) &&
		(saleListPattern.MatchString(message) || c.maxPrice() != nil) {
		return c.listSale(ctx)
	}
	return false, nil
}

// comparedProducts returns the products a comparison is between: those
// the message names, with the product in view when the message points at
// it, as "how does this compare to the Tempo?" does.
func (c *composer) comparedProducts() []*salesagent.Product {
	products := append([]*salesagent.Product(nil), c.turn.Named...)
	if p := c.turn.Product; p != nil {
		pointed := false
		for _, w := range words(normalize(c.turn.Message.Body)) {
			pointed = pointed || pointingWords[w]
		}
		included := false
		for _, named := range products {
			included = included || named.ID == p.ID
		}
		if pointed && !included {
			products = append([]*salesagent.Product{p}, products...)
		}
	}
	return products
}

// compare states, product by product, the price, the sizes in stock, the
// fit note and the key facts of each description, and shows their tiles.
func (c *composer) compare(products []*salesagent.Product) {
	currency := c.turn.Shop.Currency
	titles := make([]string, len(products))
	card := &salesagent.Card{Type: salesagent.CardProducts, Title: "Compared"}
	for i, p := range products {
		titles[i] = p.Title
		card.Products = append(card.Products, productTile(p, currency))
	}
	c.say(fmt.Sprintf("Here's how the %s compare:", joinList(titles)))
	for _, p := range products {
		c.say(p.Title + ": " + availability(p, currency))
		if facts := keyFacts(p.Description); len(facts) > 0 {
			c.say(fmt.Sprintf("Its description says: %q", strings.Join(facts, " ")))
		}
		c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	}
	c.cards = append(c.cards, *card)
	c.grounded = true
	c.saidStock = true
}

// productTile shows p in a products card.
func productTile(p *salesagent.Product, currency string) salesagent.ProductTile {
	return salesagent.ProductTile{
		Handle: p.Handle, Title: p.Title, Price: priceRange(p.Variants, currency),
		ImageURL: p.ImageURL, InStock: anyInStock(p.Variants),
	}
}

// availability writes p's price and what of it is in stock, as "$135.00,
// in stock in sizes 7, 8 and 9, sold out in size 13."
func availability(p *salesagent.Product, currency string) string {
	price := priceRange(p.Variants, currency)
	if was := commonCompareAt(p.Variants); was != nil {
		price += ", down from " + was.Format(currency)
	}
	inStock, soldOut := sizesByStock(p.Variants)
	switch {
	case len(inStock) == 0 && len(soldOut) == 0:
		if clause := inStockClause(p); clause != "" {
			return price + ", in stock" + clause + "."
		}
		return price + ", sold out."
	case len(inStock) == 0:
		return price + ", sold out in every size."
	case len(soldOut) == 0:
		return fmt.Sprintf("%s, in stock in %s.", price, sizeWord(inStock))
	}
	return fmt.Sprintf("%s, in stock in %s, sold out in %s.", price, sizeWord(inStock), sizeWord(soldOut))
}

// factLabels are the labels of description lines that state comparable
// facts, in the order a comparison quotes them.
var factLabels = []string{"fit", "specs", "temperature", "materials", "weight"}

// maxKeyFacts is how many description lines a comparison quotes for each
// product, after its first sentence.
const maxKeyFacts = 3

// keyFacts returns the first sentence of a description and its labelled
// lines on fit, specs, materials and weight, as "Fit: runs small.", in
// the order of factLabels. A labelled line is cut to its first sentence.
func keyFacts(description string) []string {
	sentences := splitSentences(description)
	if len(sentences) == 0 {
		return nil
	}
	facts := []string{cleanMarkdown(sentences[0])}
	labelled := map[string]string{}
	for _, line := range strings.Split(description, "\n") {
		line = cleanMarkdown(line)
		label, _, ok := strings.Cut(line, ":")
		if !ok || len(strings.Fields(label)) > 3 {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(label))
		if _, seen := labelled[key]; !seen {
			labelled[key] = splitSentences(line)[0]
		}
	}
	for _, label := range factLabels {
		if line, ok := labelled[label]; ok && len(facts) <= maxKeyFacts {
			facts = append(facts, line)
		}
	}
	return facts
}

// warmthStems are the stems of words by which a description states how
// warm a product is.
var warmthStems = stemSet([]string{"warm", "warmest", "warmer", "warmth", "insulated", "insulation", "fill", "loft", "thermal", "down"})

// notWarmthLabels label description lines whose warmth words speak of
// something else, as "warm" in "Care: a warm gentle cycle" does.
var notWarmthLabels = map[string]bool{"fit": true, "care": true, "good to know": true}

// warmthFacts returns up to two sentences of a description that state
// insulation or warmth. It also reports whether one calls the product the
// warmest.
func warmthFacts(description string) (facts []string, warmest bool) {
	for _, line := range strings.Split(description, "\n") {
		line = cleanMarkdown(line)
		if label, _, ok := strings.Cut(line, ":"); ok && notWarmthLabels[strings.ToLower(strings.TrimSpace(label))] {
			continue
		}
		for _, sentence := range splitSentences(line) {
			found := false
			for _, s := range stems(sentence) {
				found = found || warmthStems[s]
				warmest = warmest || s == stem("warmest")
			}
			if found && len(facts) < 2 {
				facts = append(facts, sentence)
			}
		}
	}
	return facts, warmest
}

// maxRanked is how many products of a type a warmth question compares.
const maxRanked = 10

// rankWarmth answers which product of a type is warmest from what the
// descriptions state: the product a description calls the warmest first,
// then those stating insulation, each with its sentences. The others are
// named as stating none. It never ranks by anything the data lacks.
func (c *composer) rankWarmth(ctx context.Context, productType string) (bool, error) {
	c.searched = true
	result, err := c.tools.CallWith(ctx, "search_products", searchProductsArgs{
		Query: productType, ProductType: productType, MaxPrice: c.maxPrice(), Limit: maxRanked,
	})
	if rejected(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	data := result.Data.(SearchProductsData)
	if len(data.Products) == 0 {
		return false, nil
	}
	c.use(result)

	type ranked struct {
		product ProductSummary
		facts   []string
		warmest bool
	}
	var stating []ranked
	var silent []string
	for _, p := range data.Products {
		facts, warmest := warmthFacts(p.Description)
		if len(facts) == 0 {
			silent = append(silent, p.Title)
			continue
		}
		stating = append(stating, ranked{product: p, facts: facts, warmest: warmest})
	}
	sort.SliceStable(stating, func(a, b int) bool { return stating[a].warmest && !stating[b].warmest })

	kind := strings.ToLower(productType)
	if len(stating) == 0 {
		c.say(fmt.Sprintf("None of the descriptions of our %s states its insulation, so I can't rank them by warmth. They are the %s.", kind, listProducts(data.Products)))
		return true, nil
	}
	c.say(fmt.Sprintf("Going by what the descriptions of our %s state about warmth:", kind))
	for _, r := range stating {
		c.say(fmt.Sprintf("The %s (%s) description says: %q", r.product.Title, r.product.Price, strings.Join(r.facts, " ")))
	}
	if len(silent) > 0 {
		c.say(fmt.Sprintf("The descriptions of the %s state no insulation.", joinList(silent)))
	}
	return true, nil
}

// listSale lists the products on sale, under the message's price limit
// and of the product type it names. When none is on sale, it says so and
// lets the discount passage answer.
func (c *composer) listSale(ctx context.Context) (bool, error) {
	c.searched = true
	query := productTerms(c.turn.Message.Body, c.turn.ProductHits)
	if query == "" {
		query = "sale"
	}
	result, err := c.tools.CallWith(ctx, "search_products", searchProductsArgs{
		Query: shorten(query, maxQueryLength), ProductType: c.productTypeNamed(), MaxPrice: c.maxPrice(), OnSale: true,
	})
	if rejected(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	data := result.Data.(SearchProductsData)
	limit := ""
	if m := maxPricePattern.FindStringSubmatch(c.turn.Message.Body); m != nil {
		if amount, err := salesagent.ParseMoney(m[1]); err == nil {
			limit = " under " + amount.Format(c.turn.Shop.Currency)
		}
	}
	if len(data.Products) == 0 {
		c.say(fmt.Sprintf("I couldn't find any products on sale%s right now.", limit))
		return false, nil
	}
	c.use(result)
	c.say(fmt.Sprintf("On sale%s: %s.", limit, listProducts(data.Products)))
	return true, nil
}

// introduce describes a product the message names without a question the
// description answers, as "tell me about the Cabin hoodie": its first
// sentence and what is in stock.
func (c *composer) introduce(p *salesagent.Product) bool {
	sentences := splitSentences(p.Description)
	if len(sentences) == 0 {
		return false
	}
	c.say(fmt.Sprintf("The %s description says: %q", p.Title, cleanMarkdown(sentences[0])))
	c.say(stockSummary(p, c.turn.Shop.Currency))
	c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	c.grounded = true
	c.saidStock = true
	return true
}
