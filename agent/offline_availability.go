package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kljensen/snowball/english"

	"github.com/salesagent/salesagent"
)

// availabilityLeads are the openings, as words, of a question whether the
// shop has something: "do you sell", "have you got", "show me". The words
// after the opening name what the shopper is after.
var availabilityLeads = [][]string{
	{"do", "you", "have"}, {"do", "you", "sell"}, {"do", "you", "carry"}, {"do", "you", "stock"},
	{"do", "you", "guys", "have"}, {"do", "you", "guys", "sell"}, {"do", "you", "guys", "carry"},
	{"have", "you", "got"}, {"have", "you", "guys", "got"}, {"you", "got"}, {"got"},
	{"can", "you", "show", "me"}, {"could", "you", "show", "me"}, {"show", "me"},
	{"i", "am", "looking", "for"}, {"we", "are", "looking", "for"}, {"looking", "for"},
	{"i", "am", "searching", "for"}, {"i", "am", "shopping", "for"},
}

// leadFiller are words a shopper may put around a question, as "hi" in
// "hi, do you have tents?" or "please" at its end.
var leadFiller = map[string]bool{"hi": true, "hello": true, "hey": true, "so": true, "ok": true, "okay": true, "please": true, "and": true, "also": true}

// articles open the name of what a shopper is after without being part of
// it, as "a" in "do you sell a flask".
var articles = map[string]bool{"a": true, "an": true, "any": true, "some": true, "the": true, "your": true}

// personalWords open a question about the shopper or a product already
// in view rather than about the catalog: "do you sell my data", "do you
// have it in blue".
var personalWords = map[string]bool{
	"my": true, "our": true, "me": true, "us": true, "i": true, "it": true, "this": true, "that": true,
	"these": true, "those": true, "them": true, "one": true,
}

// bareConnectors are the stop words a bare product name may contain, as
// "for" in "boots for winter".
var bareConnectors = map[string]bool{"for": true, "with": true, "and": true, "in": true}

// maxBareWords is the maximum number of words in a message that counts as
// a bare product name, as "rain jacket" or "head torch" do.
const maxBareWords = 4

// productQuestion reads message as a question whether the shop has
// something. object is what the shopper is after, without the opening and
// articles ("flask" for "Do you sell a flask?"), or "" when message is no
// such question. opening is set when message starts with an availability
// opening, and is false for a bare name such as "rain jacket". personal is
// set for an opening followed by words about the shopper or the product in
// view, as in "do you sell my data", which must not start a product search.
func productQuestion(message string) (object string, opening, personal bool) {
	tokens := words(normalize(message))
	for len(tokens) > 0 && leadFiller[tokens[0]] {
		tokens = tokens[1:]
	}

	rest, opening := cutLead(tokens)
	if !opening {
		if !bareName(tokens) {
			return "", false, false
		}
		rest = tokens
	}
	for len(rest) > 0 && articles[rest[0]] {
		rest = rest[1:]
	}
	for len(rest) > 0 && leadFiller[rest[len(rest)-1]] {
		rest = rest[:len(rest)-1]
	}
	if len(rest) == 0 {
		return "", opening, false
	}
	if personalWords[rest[0]] {
		return "", opening, true
	}
	if !slices.ContainsFunc(contentStems(strings.Join(rest, " ")), func(s string) bool { return !queryNoise[s] }) {
		return "", opening, false
	}
	return strings.Join(rest, " "), opening, false
}

// cutLead returns tokens after the availability opening they start with,
// and whether they start with one.
func cutLead(tokens []string) ([]string, bool) {
	for _, lead := range availabilityLeads {
		if len(tokens) >= len(lead) && slices.Equal(tokens[:len(lead)], lead) {
			return tokens[len(lead):], true
		}
	}
	return nil, false
}

// bareName reports whether tokens are a short name with no question or
// sentence around it, as "rain jacket" or "head torch" are.
func bareName(tokens []string) bool {
	if len(tokens) == 0 || len(tokens) > maxBareWords {
		return false
	}
	for _, w := range tokens {
		if bareConnectors[w] {
			continue
		}
		if english.IsStopWord(w) && !meaningfulStopWords[w] || extraStopWords[w] || isNumber(w) {
			return false
		}
	}
	return !bareConnectors[tokens[0]]
}

// availabilityAnswerable reports whether availability may reply to this
// turn: no need beyond a product search or a greeting was recognised, no
// product was named, and the message sets no price limit, mentions no
// discount and compares nothing.
// A product in view does not stop it when the message names something
// else, as "do you have a tent?" does on a jacket's page.
func (c *composer) availabilityAnswerable(needs []Need) bool {
	for _, n := range needs {
		if n != NeedProductSearch && n != NeedGreeting {
			return false
		}
	}
	message := c.turn.Message.Body
	if len(c.several) > 0 || len(c.ambiguous) > 0 || mentionsDiscount(message) || c.maxPrice() != nil ||
		similarPattern.MatchString(message) || comparePattern.MatchString(message) {
		return false
	}
	if p := c.product; p != nil {
		return !c.named && namesOtherThing(p, message, c.turn.Hits)
	}
	return true
}

// availability replies to a question whether the shop has a product or a
// kind of product, as "do you sell a flask?" or a bare "rain jacket", by
// calling search_products for object. It reports whether it replied.
//
// Products whose title or type has a word of object are listed first. A
// passage headed with a word of object comes next, so "do you sell gift
// cards?" gets the FAQ entry on gift cards. When no product was found,
// any passage naming object is quoted. Other products found, as through
// the shop's synonyms, come next. With nothing found, notCarried replies.
func (c *composer) availability(ctx context.Context, object string, opening bool) (bool, error) {
	c.searched = true
	// The shopper's "-word" exclusions go first, so that shortening the
	// query keeps them.
	args := searchProductsArgs{
		Query:       shorten(strings.Join(append(exclusions(c.turn.Message.Body), object), " "), maxQueryLength),
		ProductType: c.productTypeNamed(),
	}
	result, err := c.tools.CallWith(ctx, "search_products", args)
	// The product type comes from the message's words, but the shop's
	// synonyms may map them elsewhere: "footwear" names shoes, and a shop
	// may list it with boots. When nothing of that type is found, search
	// all types.
	if err == nil && args.ProductType != "" && len(result.Data.(SearchProductsData).Products) == 0 {
		args.ProductType = ""
		result, err = c.tools.CallWith(ctx, "search_products", args)
	}
	if rejected(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	found := result.Data.(SearchProductsData).Products

	if len(found) > 0 && namesFoundProduct(object, found) {
		c.listFound(result)
		return true, nil
	}
	if best, ok := bestPassage(c.turn.Hits, object, "", policyKinds...); ok && (len(found) == 0 || headedWith(best, object)) {
		c.quote(best)
		return true, nil
	}
	if len(found) > 0 {
		c.listFound(result)
		return true, nil
	}
	return c.notCarried(ctx, object, opening)
}

// listFound adds the products of a search_products result to the reply.
// Products found only through a spelling correction are introduced with
// it, since the correction may be wrong: "puff" becomes "cuff" in a shop
// that sells no puffer jackets.
func (c *composer) listFound(result *ToolResult) {
	c.use(result)
	data := result.Data.(SearchProductsData)
	if data.AllCorrected() && len(data.Corrections) > 0 {
		var words, used []string
		for _, word := range slices.Sorted(maps.Keys(data.Corrections)) {
			words = append(words, fmt.Sprintf("%q", word))
			used = append(used, fmt.Sprintf("%q", data.Corrections[word]))
		}
		c.say(fmt.Sprintf("I couldn't find %q in our catalog. The closest matches, for %s in place of %s, are: %s.",
			data.Query, joinList(used), joinList(words), listProducts(data.Products)))
		return
	}
	c.say(fmt.Sprintf("Here's what I found: %s.", listProducts(data.Products)))
}

// namesFoundProduct reports whether a word of object is a word of the
// title or product type of a product found, so that object names what the
// shop sells rather than only a word in its descriptions.
func namesFoundProduct(object string, found []ProductSummary) bool {
	objectStems := map[string]bool{}
	for _, s := range contentStems(object) {
		if !queryNoise[s] && !genericWords[s] && !isNumber(s) {
			objectStems[s] = true
		}
	}
	for _, p := range found {
		if overlap(objectStems, setOf(contentStems(p.Title+" "+p.ProductType))) > 0 {
			return true
		}
	}
	return false
}

// headedWith reports whether the heading or document title of p has a
// word of object, as the FAQ entry "Do you sell gift cards?" has for
// "gift cards".
func headedWith(p passage, object string) bool {
	heading := setOf(contentStems(p.hit.Heading + " " + p.hit.Source.DocumentTitle + " " + p.hit.Source.Heading))
	for _, s := range contentStems(object) {
		if heading[s] && !queryNoise[s] && !genericWords[s] {
			return true
		}
	}
	return false
}

// maxNearestProducts is how many retrieved products a reply names as the
// nearest to something the shop does not carry.
const maxNearestProducts = 3

// notCarried replies to a question for something the search did not
// find. When the message names a kind of product by a word shoppers use
// for it, as "rucksack" for a backpack, it lists the products of that
// kind. Otherwise, after an availability opening, the reply states that
// the shop does not carry object and names the nearest products the
// retriever found. For a bare name it adds nothing and reports false, so
// that compose falls back to the shop's passages.
func (c *composer) notCarried(ctx context.Context, object string, opening bool) (bool, error) {
	productType := c.productTypeNamed()
	kind := productType
	if kind == "" {
		kind = kindWords(object)
	}
	if kind != "" {
		result, err := c.tools.CallWith(ctx, "search_products", searchProductsArgs{Query: kind, ProductType: productType})
		if err != nil && !rejected(err) {
			return false, err
		}
		if err == nil && len(result.Data.(SearchProductsData).Products) > 0 {
			c.use(result)
			c.say(fmt.Sprintf("I couldn't find \"%s\" by that name in our catalog. The closest products are: %s.",
				object, listProducts(result.Data.(SearchProductsData).Products)))
			return true, nil
		}
	}
	if !opening {
		return false, nil
	}

	c.say(fmt.Sprintf("Sorry, we don't carry \"%s\": I couldn't find it in our catalog.", object))
	c.grounded = true
	// NOTE: these are the retriever's nearest product passages. With the
	// local hash embedder they share letters rather than meaning with the
	// message, so they may be far from what the shopper wants.
	nearest := candidatesFromHits(c.turn.ProductHits)
	if len(nearest) == 0 {
		c.say("Could you tell me what you need it for? I can suggest something else from our catalog.")
		return true, nil
	}
	nearest = nearest[:min(len(nearest), maxNearestProducts)]
	titles := make([]string, len(nearest))
	for i, n := range nearest {
		titles[i] = n.title
		c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: n.id, Title: n.title})
	}
	c.say(fmt.Sprintf("The nearest products I found are the %s.", joinList(titles)))
	return true, nil
}

// kindWords returns the words of product types that typeSynonyms maps the
// words of object to, as "shoe" for "trainers", or "".
func kindWords(object string) string {
	var kinds []string
	for _, w := range words(normalize(object)) {
		if to, ok := typeSynonyms[w]; ok && !slices.Contains(kinds, to) {
			kinds = append(kinds, to)
		}
	}
	return strings.Join(kinds, " ")
}
