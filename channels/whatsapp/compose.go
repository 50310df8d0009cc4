package whatsapp

import (
	"strings"

	"github.com/salesagent/salesagent"
)

// WhatsApp's limits on interactive messages, in characters.
const (
	maxButtons           = 3
	maxButtonTitle       = 20
	maxInteractiveBody   = 1024
	maxListRows          = 10
	maxRowTitle          = 24
	maxRowDescription    = 72
	maxSectionTitle      = 24
	maxListButtonTitle   = 20
	maxInteractiveIDSize = 200
)

// replyPlan is the input that turns a stored reply into WhatsApp messages:
// the reply and the facts of its turn that the message lacks.
type replyPlan struct {
	to    string
	reply salesagent.Message
	// focus is the product the turn was about, which gets a size guide
	// button when it has sizes. Nil means none.
	focus *salesagent.Product
	// offerPerson adds a "Talk to a person" button or row, as where the
	// agent could not help. A size guide button gets one too.
	offerPerson bool
	// personRequested rules out the person button, because a person has been
	// asked to join already.
	personRequested bool
	// publicURL makes relative links absolute.
	publicURL string
}

// compose turns an agent reply into the WhatsApp messages to send, in
// order: the text in as few messages as fit, with the cards rendered as
// text, then a list message to choose among several products, or reply
// buttons on the last text.
func compose(p replyPlan) []*Message {
	f := &formatter{base: strings.TrimRight(p.publicURL, "/")}
	body := p.reply.Body
	for _, card := range p.reply.Cards {
		body = absolutePaths(body, card.URL, f)
	}
	blocks := markdownBlocks(body, p.publicURL)
	replyText := strings.Join(blocks, "\n\n") + "\n" + p.reply.Body
	var products []salesagent.ProductTile
	for _, card := range p.reply.Cards {
		if block := cardBlock(card, replyText, f); block != "" {
			blocks = append(blocks, block)
		}
		if card.Type == salesagent.CardProducts && len(card.Products) > 1 {
			products = card.Products
		}
	}

	var messages []*Message
	for _, text := range packBlocks(blocks, maxTextLength) {
		messages = append(messages, textMessage(p.to, text))
	}
	if len(products) > 1 {
		return append(messages, productList(p.to, products, p.offerPerson && !p.personRequested))
	}

	buttons := replyButtons(p)
	if len(buttons) == 0 {
		return messages
	}
	if n := len(messages); n > 0 && textLength(messages[n-1].Text.Body) <= maxInteractiveBody {
		messages[n-1] = buttonMessage(p.to, messages[n-1].Text.Body, buttons)
		return messages
	}
	return append(messages, buttonMessage(p.to, "What would you like to do next?", buttons))
}

// replyButtons returns the reply buttons for a reply: a size guide for
// the product in focus unless the reply shows it, and a person beside it
// or where the plan offers one.
func replyButtons(p replyPlan) []ButtonReply {
	var buttons []ButtonReply
	if p.focus != nil && hasSizes(p.focus) && !hasCard(p.reply, salesagent.CardSizeGuide) {
		if id := intentSizeGuidePrefix + p.focus.Handle; len(id) <= maxInteractiveIDSize {
			buttons = append(buttons, ButtonReply{ID: id, Title: titleSizeGuide})
		}
	}
	if !p.personRequested && (p.offerPerson || len(buttons) > 0) {
		buttons = append(buttons, ButtonReply{ID: intentPerson, Title: titlePerson})
	}
	return buttons[:min(len(buttons), maxButtons)]
}

// productList builds a list message with one row per product, up to ten
// rows, and a row for a person when offered.
func productList(to string, products []salesagent.ProductTile, offerPerson bool) *Message {
	limit := maxListRows
	if offerPerson {
		limit--
	}
	var rows []Row
	for _, tile := range products {
		id := intentProductPrefix + tile.Handle
		if len(rows) == limit || len(id) > maxInteractiveIDSize {
			continue
		}
		rows = append(rows, Row{
			ID:          id,
			Title:       clip(tile.Title, maxRowTitle),
			Description: clip(tile.Title+" · "+tile.Price+" · "+stockLabel(tile.InStock), maxRowDescription),
		})
	}
	sections := []Section{{Title: clip("Products", maxSectionTitle), Rows: rows}}
	if offerPerson {
		sections = append(sections, Section{Title: "Other", Rows: []Row{{ID: intentPerson, Title: titlePerson}}})
	}
	return listMessage(to, "Choose a product to see its details.", clip("See products", maxListButtonTitle), sections)
}

// absolutePaths makes each occurrence of the relative URL path in text
// absolute, as the restore link of a saved cart that the agent wrote into
// its reply. Occurrences inside a longer URL are left alone.
func absolutePaths(text, path string, f *formatter) string {
	absolute := f.absolute(path)
	if absolute == path {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, path)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		if i == 0 || strings.ContainsRune(" \n\t(\"'<:", rune(text[i-1])) {
			b.WriteString(absolute)
		} else {
			b.WriteString(path)
		}
		text = text[i+len(path):]
	}
}

// hasSizes reports whether any variant of the product has a size option.
func hasSizes(p *salesagent.Product) bool {
	for _, v := range p.Variants {
		if v.Option("Size") != "" {
			return true
		}
	}
	return false
}

func hasCard(m salesagent.Message, cardType string) bool {
	for _, c := range m.Cards {
		if c.Type == cardType {
			return true
		}
	}
	return false
}

// clip shortens s to at most n characters, ending with "…" when cut.
func clip(s string, n int) string {
	if textLength(s) <= n {
		return s
	}
	return strings.TrimSpace(s[:prefixWithin(s, n-1)]) + "…"
}
