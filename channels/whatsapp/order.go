package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// orderReason is the reason of the escalation that an order starts, as
// operators see it in the handoff queue.
const orderReason = "order from the WhatsApp catalog"

// maxSummaryLength caps the escalation summary, as escalate_to_human does.
const maxSummaryLength = 1000

// wireOrder is the cart a shopper sends from the business's catalog.
type wireOrder struct {
	CatalogID    string `json:"catalog_id"`
	Text         string `json:"text"`
	ProductItems []struct {
		ProductRetailerID string     `json:"product_retailer_id"`
		Quantity          wireNumber `json:"quantity"`
		ItemPrice         wireNumber `json:"item_price"`
		Currency          string     `json:"currency"`
	} `json:"product_items"`
}

// wireNumber is a number of an order line. Meta's spec sends quantity and
// item_price as JSON numbers, but strings are accepted too, and any other
// value is kept as its JSON text, so an odd field cannot drop the order.
type wireNumber string

// UnmarshalJSON implements json.Unmarshaler. It returns no error, so that
// an odd value is kept as its raw text.
func (n *wireNumber) UnmarshalJSON(b []byte) error {
	var s string
	switch {
	case string(b) == "null":
		*n = ""
	case json.Unmarshal(b, &s) == nil:
		*n = wireNumber(strings.TrimSpace(s))
	default:
		*n = wireNumber(b)
	}
	return nil
}

// order is an order message reduced to what the channel stores in
// whatsapp_inbound.data and shows the shopper and the operators.
type order struct {
	CatalogID string      `json:"catalog_id,omitempty"`
	Note      string      `json:"note,omitempty"`
	Lines     []orderLine `json:"lines"`
	// CartToken is the token of the cart saved from the order, or "" when
	// no line had a SKU and a whole quantity.
	CartToken string `json:"cart_token,omitempty"`
}

// orderLine is one line of an order, with the values as Meta sent them.
// SKU is Meta's product_retailer_id.
type orderLine struct {
	SKU       string `json:"sku"`
	Quantity  string `json:"quantity"`
	ItemPrice string `json:"item_price"`
	Currency  string `json:"currency"`
}

func (w *wireOrder) reduce() *order {
	o := &order{CatalogID: strings.TrimSpace(w.CatalogID), Note: strings.TrimSpace(w.Text), Lines: []orderLine{}}
	for _, item := range w.ProductItems {
		o.Lines = append(o.Lines, orderLine{
			SKU:       strings.TrimSpace(item.ProductRetailerID),
			Quantity:  string(item.Quantity),
			ItemPrice: string(item.ItemPrice),
			Currency:  strings.TrimSpace(item.Currency),
		})
	}
	return o
}

// clean applies strip to every text of the order.
func (o *order) clean(strip func(string) string) {
	o.CatalogID, o.Note = strip(o.CatalogID), strip(o.Note)
	for i := range o.Lines {
		l := &o.Lines[i]
		l.SKU, l.Quantity, l.ItemPrice, l.Currency = strip(l.SKU), strip(l.Quantity), strip(l.ItemPrice), strip(l.Currency)
	}
}

// Bounds of an order, as the widget bounds a cart: at most 50 lines, 999
// of one item, and a unit price below a billion.
const (
	maxOrderLines    = 50
	maxOrderQuantity = 999
	maxOrderPrice    = 1e9
)

// quantity returns the line's quantity as a whole number, or 0 when it is
// missing, not whole, not positive or above maxOrderQuantity.
func (l orderLine) quantity() int {
	q, err := strconv.ParseFloat(l.Quantity, 64)
	if err != nil || q < 1 || q != math.Trunc(q) || q > maxOrderQuantity {
		return 0
	}
	return int(q)
}

// price returns the line's unit price, and false when it is missing, not a
// number, negative or not below maxOrderPrice.
func (l orderLine) price() (float64, bool) {
	p, err := strconv.ParseFloat(l.ItemPrice, 64)
	if err != nil || math.IsNaN(p) || p < 0 || p >= maxOrderPrice {
		return 0, false
	}
	return p, true
}

// quantityText is the line's quantity as the shopper and the operators see
// it, or "?" when it is not a usable quantity.
func (l orderLine) quantityText() string {
	if q := l.quantity(); q > 0 {
		return strconv.Itoa(q)
	}
	return "?"
}

// cartItems returns the lines that can go in a saved cart: those with a
// SKU and a whole quantity. The message body keeps the other lines.
func (o *order) cartItems() []salesagent.CartItem {
	var items []salesagent.CartItem
	for _, l := range o.Lines {
		if q := l.quantity(); l.SKU != "" && q > 0 && len(items) < maxOrderLines {
			items = append(items, salesagent.CartItem{SKU: l.SKU, Quantity: q})
		}
	}
	return items
}

// lineText describes a line as "2 × SKU-1 (12.50 USD each)".
func (l orderLine) lineText() string {
	text := l.quantityText() + " × " + firstNonEmpty(l.SKU, "an item without a SKU")
	if price := l.priceText(); price != "" {
		text += " (" + price + " each)"
	}
	return text
}

// confirmationLine describes a line for the shopper as
// "2 × Trail Runner – 44 (SKU-1), 12.50 USD each", with name being the
// product's name in the shop's catalog, or "" for the SKU alone.
func (l orderLine) confirmationLine(name string) string {
	text := l.quantityText() + " × " + firstNonEmpty(name, l.SKU, "an item without a SKU")
	if price := l.priceText(); price != "" {
		text += ", " + price + " each"
	}
	return text
}

// priceText returns the unit price with its currency, or "" when the line
// has no usable price.
func (l orderLine) priceText() string {
	p, ok := l.price()
	if !ok {
		return ""
	}
	return strings.TrimSpace(strconv.FormatFloat(p, 'f', 2, 64) + " " + l.Currency)
}

// total returns the order's total with its currency, or "" when a line has
// no price or quantity, or the lines have different currencies.
func (o *order) total() string {
	if len(o.Lines) == 0 {
		return ""
	}
	sum := 0.0
	for _, l := range o.Lines {
		p, ok := l.price()
		if !ok || l.quantity() == 0 || l.Currency != o.Lines[0].Currency {
			return ""
		}
		sum += p * float64(l.quantity())
	}
	return strings.TrimSpace(strconv.FormatFloat(math.Round(sum*100)/100, 'f', 2, 64) + " " + o.Lines[0].Currency)
}

// body returns the text stored as the shopper's message: every line of
// the order, its total, and the shopper's note.
func (o *order) body() string {
	var b strings.Builder
	if len(o.Lines) == 0 {
		b.WriteString("Order from the catalog without items.")
	} else {
		lines := make([]string, len(o.Lines))
		for i, l := range o.Lines {
			lines[i] = l.lineText()
		}
		b.WriteString("Order from the catalog: " + strings.Join(lines, ", ") + ".")
		if total := o.total(); total != "" {
			b.WriteString(" Total: " + total + ".")
		}
	}
	if o.Note != "" {
		b.WriteString("\nNote: " + o.Note)
	}
	return b.String()
}

// card returns the cart card of the shopper's order message, with the link
// that restores the saved cart when one was saved.
func (o *order) card(shop *salesagent.Shop) *salesagent.Card {
	card := &salesagent.Card{Type: salesagent.CardCart, Title: "Order from the catalog", Text: o.Note}
	if o.CartToken != "" {
		card.URL = agent.RestoreURL(shop, o.CartToken)
	}
	for _, l := range o.Lines {
		value := "× " + l.quantityText()
		if price := l.priceText(); price != "" {
			value += " · " + price + " each"
		}
		card.Fields = append(card.Fields, salesagent.Field{Label: firstNonEmpty(l.SKU, "no SKU"), Value: value})
	}
	if total := o.total(); total != "" {
		card.Fields = append(card.Fields, salesagent.Field{Label: "total", Value: total})
	}
	if o.CatalogID != "" {
		card.Fields = append(card.Fields, salesagent.Field{Label: "catalog_id", Value: o.CatalogID})
	}
	return card
}

// saveOrderCart saves the cart of an order within tx, as the save_cart
// tool saves carts, records a cart_saved event and counts the cart in the
// customer's profile. Saving it in the
// transaction that stores the message keeps a redelivered order from
// saving a second cart.
func saveOrderCart(ctx context.Context, tx pgx.Tx, shopID, conversationID, customerID int64, token string, items []salesagent.CartItem) error {
	if err := postgres.SaveCartAs(ctx, tx, shopID, token, &conversationID, &customerID, items); err != nil {
		return fmt.Errorf("save cart of whatsapp order: %w", err)
	}
	quantity := 0
	for _, item := range items {
		quantity += item.Quantity
	}
	data, _ := json.Marshal(map[string]any{"lines": len(items), "quantity": quantity, "source": "whatsapp_order"})
	events := []salesagent.Event{{ShopID: shopID, ConversationID: &conversationID, Type: salesagent.EventCartSaved, Data: data}}
	return postgres.RecordEventsIn(ctx, tx, shopID, &customerID, events, func(p *salesagent.Profile) { p.CartsSaved++ })
}

// loadOrder returns the order stored with an inbound message, or an empty
// order when the message has none.
func loadOrder(ctx context.Context, q postgres.Querier, shopID, inboundID int64) (*order, error) {
	var raw []byte
	err := q.QueryRow(ctx, `SELECT data->'order' FROM whatsapp_inbound WHERE shop_id = $1 AND id = $2`, shopID, inboundID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND, "whatsapp message %d not found", inboundID)
	}
	if err != nil {
		return nil, fmt.Errorf("load order of whatsapp message %d: %w", inboundID, err)
	}
	o := &order{}
	if len(raw) == 0 || string(raw) == "null" {
		return o, nil
	}
	if err := json.Unmarshal(raw, o); err != nil {
		return nil, fmt.Errorf("decode order of whatsapp message %d: %w", inboundID, err)
	}
	return o, nil
}

// orderReply hands the conversation to a person, because only a person can
// confirm an order's prices, payment and delivery, and stores the reply
// that confirms what the shopper ordered. It returns nil while an operator
// holds the conversation, as the operator sees the order.
func (c *Channel) orderReply(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, in *inboundRow) (*salesagent.Message, bool, error) {
	if conv.Status == salesagent.StatusOperator {
		return nil, false, nil
	}
	o, err := loadOrder(ctx, c.db.Pool, shop.ID, in.ID)
	if err != nil {
		return nil, false, err
	}

	summary := truncate(o.body(), maxSummaryLength)
	changed, err := c.db.EscalateConversation(ctx, postgres.Escalation{
		ShopID: shop.ID, ConversationID: conv.ID, Reason: orderReason, Summary: summary,
	})
	if err != nil {
		return nil, false, err
	}
	if changed {
		data, _ := json.Marshal(map[string]string{"reason": orderReason, "summary": summary})
		events := []salesagent.Event{{ShopID: shop.ID, ConversationID: &conv.ID, Type: salesagent.EventEscalated, Data: data}}
		if err := c.db.RecordEvents(ctx, shop.ID, in.CustomerID, events, func(p *salesagent.Profile) { p.Escalations++ }); err != nil {
			return nil, false, fmt.Errorf("record escalation of whatsapp order %d: %w", in.ID, err)
		}
	}

	names, err := c.orderLineNames(ctx, shop.ID, o)
	if err != nil {
		return nil, false, err
	}
	stored, _, err := c.db.AppendMessage(ctx, shop.ID, salesagent.Message{
		ConversationID: conv.ID, Role: salesagent.RoleAgent, ReplyTo: in.Seq,
		Body: orderConfirmation(shop, o, names, !changed),
	})
	if err != nil {
		return nil, false, fmt.Errorf("store reply to whatsapp order %d: %w", in.ID, err)
	}
	return &stored, true, nil
}

// orderLineNames returns, for each line, the product and variant title of
// its SKU in the shop's catalog, or "" when the shop does not sell it.
func (c *Channel) orderLineNames(ctx context.Context, shopID int64, o *order) ([]string, error) {
	names := make([]string, len(o.Lines))
	for i, l := range o.Lines {
		if l.SKU == "" {
			continue
		}
		p, err := c.db.ProductBySKU(ctx, shopID, l.SKU)
		if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look up SKU %q of a whatsapp order: %w", l.SKU, err)
		}
		names[i] = p.Title + " (" + l.SKU + ")"
		for _, v := range p.Variants {
			if v.SKU == l.SKU && len(p.Variants) > 1 && v.Title != "" {
				names[i] = p.Title + " – " + v.Title + " (" + l.SKU + ")"
			}
		}
	}
	return names, nil
}

// orderConfirmation is the reply to an order: the lines with their
// product names, the total, and who confirms the order. waiting is set
// when a person had been asked to join before this order came.
func orderConfirmation(shop *salesagent.Shop, o *order, names []string, waiting bool) string {
	var b strings.Builder
	if len(o.Lines) == 0 {
		b.WriteString("Thanks for your order. It came without any items, so a person will check it with you.")
	} else {
		b.WriteString("Thanks for your order! You sent:\n")
		for i, l := range o.Lines {
			b.WriteString("- " + l.confirmationLine(names[i]) + "\n")
		}
		if total := o.total(); total != "" {
			b.WriteString("Total: " + total + "\n")
		}
	}
	b.WriteString("\n")
	if waiting {
		fmt.Fprintf(&b, "A person from the %s team has been asked to join this chat and will confirm your order, payment and delivery here.", shop.Name)
	} else {
		fmt.Fprintf(&b, "A person from the %s team will confirm your order, payment and delivery here.", shop.Name)
	}
	if hours := shop.Settings.SupportHours; hours != "" {
		b.WriteString(" Our team is available " + strings.TrimSuffix(hours, ".") + ".")
	}
	return b.String()
}
