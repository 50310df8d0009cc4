package agent

import (
	"context"
	"fmt"
	"regexp"

	"github.com/salesagent/salesagent"
)

// cartContentsPattern finds a question about what the shopper's cart
// holds, as "what's in my cart?" or "show me my basket".
var cartContentsPattern = regexp.MustCompile(`(?i)\b(?:what(?:'s| is| do i have)?|which (?:items|products)|show(?: me)?|list|check)\b[^.?!]*\b(?:in )?my (?:cart|basket|bag)\b|\bmy (?:cart|basket|bag)(?:'s)? total\b`)

// cartContents lists the cart that the widget sent with the message, with
// the line prices and the total. It reports false when the message is not
// a question about the cart.
func (c *composer) cartContents(ctx context.Context) (bool, error) {
	if !cartContentsPattern.MatchString(c.turn.Message.Body) {
		return false, nil
	}
	cart := c.turn.Page.Cart
	if len(cart) == 0 {
		c.say("Your cart is empty at the moment. Tell me what you're looking for and I'll help you find it.")
		c.grounded = true
		return true, nil
	}

	currency := c.turn.Shop.Currency
	var lines []string
	var total salesagent.Money
	priced := true
	for _, item := range cart {
		p, err := c.tools.env.DB.ProductBySKU(ctx, c.turn.Shop.ID, item.SKU)
		if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
			lines = append(lines, fmt.Sprintf("%d × %s (no longer in our catalog)", item.Quantity, item.SKU))
			priced = false
			continue
		}
		if err != nil {
			return false, fmt.Errorf("look up cart item %q: %w", item.SKU, err)
		}
		line := fmt.Sprintf("%d × %s", item.Quantity, variantLabel(p, item.SKU))
		for _, v := range p.Variants {
			if v.SKU == item.SKU {
				line += fmt.Sprintf(" (%s each)", v.Price.Format(currency))
				total += v.Price * salesagent.Money(item.Quantity)
			}
		}
		lines = append(lines, line)
		c.cite(salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
	}
	reply := "Your cart has " + joinList(lines) + "."
	if priced {
		reply += fmt.Sprintf(" That comes to %s before shipping.", total.Format(currency))
	}
	c.say(reply)
	c.grounded = true
	return true, nil
}
