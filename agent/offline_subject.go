package agent

import (
	"fmt"
	"regexp"

	"github.com/salesagent/salesagent"
)

// resolveSubject chooses the product the message is about. A product the
// message names by title comes first, then the product in view, then the
// product of the agent's last reply when the message follows up on it, as
// "what about large in black?" does. Several named products, as in "the
// Scree or the Tempo", are kept in c.several instead.
func (c *composer) resolveSubject() {
	turn := c.turn
	switch {
	case len(turn.Named) == 1:
		c.product = turn.Named[0]
		if turn.Product != nil && turn.Product.ID == c.product.ID {
			c.product = turn.Product
		}
		c.named = true
		return
	case len(turn.Named) > 1:
		c.several = turn.Named
		return
	case turn.Product != nil:
		c.product = turn.Product
		return
	}

	var following []*salesagent.Product
	for _, p := range turn.Earlier {
		if c.followsUp(p) {
			following = append(following, p)
		}
	}
	switch {
	case len(following) == 1:
		c.product = following[0]
		c.named = true
	case len(following) > 1:
		c.ambiguous = following
	}
}

// followUpPattern finds a message that carries on from the last reply, as
// "what about ..." or "and in blue?" do.
var followUpPattern = regexp.MustCompile(`(?i)^\s*(what|how)\s+about\b|^\s*and\b|^\s*also\b`)

// followsUp reports whether the message refers to p without naming it: it
// names an option value or colour of p, points at it with a word such as
// "it", or starts as a follow-up does. A message that names a product type
// other than p's refers to something else.
func (c *composer) followsUp(p *salesagent.Product) bool {
	message := c.turn.Message.Body
	if named := productTypeNamed(message, hitProductTypes(c.turn.ProductHits)); named != "" && !containsFold([]string{p.ProductType}, named) {
		return false
	}
	requested, missing := resolveColours(p, message, requestedOptions(p, message))
	if len(requested) > 0 || len(missing) > 0 {
		return true
	}
	for _, w := range words(normalize(message)) {
		if pointingWords[w] {
			return true
		}
	}
	return followUpPattern.MatchString(message)
}

// askWhichProduct requests which of several products a follow-up means.
func (c *composer) askWhichProduct(products []*salesagent.Product) {
	titles := make([]string, len(products))
	for i, p := range products {
		titles[i] = p.Title
	}
	c.say(fmt.Sprintf("Which one do you mean: the %s?", joinOr(titles)))
}
