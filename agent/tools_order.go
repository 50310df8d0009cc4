package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"strings"

	"github.com/salesagent/salesagent"
)

var orderStatusTool = &Tool{
	Name: "order_status",
	Description: "Look up the status and tracking of one of the shopper's own orders. The shopper must be identified: " +
		"by the conversation's customer, or by the email address they used at checkout, passed as email.",
	Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "order_number": {"type": "string", "description": "The order number, with or without a leading #.", "minLength": 1, "maxLength": 40},
    "email": {"type": "string", "description": "The email address the shopper gave to identify themselves."}
  },
  "required": ["order_number"],
  "additionalProperties": false
}`),
	Run: runOrderStatus,
}

type orderStatusArgs struct {
	OrderNumber string `json:"order_number"`
	Email       string `json:"email"`
}

// OrderData is the Data of an order_status result.
type OrderData struct {
	Number   string   `json:"number"`
	Status   string   `json:"status"`
	Items    []string `json:"items"`
	Total    string   `json:"total,omitempty"`
	PlacedOn string   `json:"placed_on,omitempty"`
	Tracking []string `json:"tracking,omitempty"`
}

var orderNumberPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,39}$`)

// errIdentify requests the checkout email of an unidentified shopper.
var errIdentify = salesagent.Errorf(salesagent.EFORBIDDEN,
	"To look up an order, please give me the email address you used at checkout together with the order number.")

// orderRefusal is the one response to an order that is not found, not the
// shopper's, or not tied to any customer. It reveals nothing about orders
// of other shoppers, not even whether the number exists.
func orderRefusal(number string) error {
	return salesagent.Errorf(salesagent.EFORBIDDEN,
		"I can't find order %s for you. Please check the number and the email address you used at checkout, or ask for a person from our team.", number)
}

func runOrderStatus(ctx context.Context, env *ToolEnv, raw json.RawMessage) (*ToolResult, error) {
	var args orderStatusArgs
	if err := decodeArgs("order_status", raw, &args); err != nil {
		return nil, err
	}
	number := strings.TrimPrefix(strings.TrimSpace(args.OrderNumber), "#")
	if !orderNumberPattern.MatchString(number) {
		return nil, salesagent.Errorf(salesagent.EINVALID, "invalid order number %q: use the letters and digits from the order confirmation", shorten(args.OrderNumber, 40))
	}
	display := "#" + number

	email := strings.TrimSpace(args.Email)
	if email != "" {
		if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
			return nil, salesagent.Errorf(salesagent.EINVALID, "invalid email address %q: write it as name@example.com", shorten(email, 80))
		}
		if err := identify(ctx, env, email); err != nil {
			return nil, err
		}
	}

	// Which rejection follows depends only on what the shopper gave, never
	// on whether the order exists or whose it is.
	customer := env.Turn.Customer
	refuse := orderRefusal(display)
	if email == "" && (customer == nil || customer.Email == "") {
		refuse = errIdentify
	}
	if customer == nil {
		return nil, refuse
	}
	order, err := env.DB.OrderByNumber(ctx, env.Turn.Shop.ID, number)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, refuse
	}
	if err != nil {
		return nil, err
	}
	if order.CustomerID == nil || *order.CustomerID != customer.ID {
		return nil, refuse
	}

	data := orderData(order, env.Turn.Shop.Currency)
	return &ToolResult{Text: orderText(data), Card: orderCard(data), Data: data}, nil
}

// identify ties the conversation to the customer with the given email. It
// changes nothing when no customer has that email, or when the
// conversation already belongs to a customer with another email: an email
// claim never takes over an identified conversation.
func identify(ctx context.Context, env *ToolEnv, email string) error {
	turn := env.Turn
	found, err := env.DB.CustomerByEmail(ctx, turn.Shop.ID, email)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	current := turn.Customer
	if current != nil && (current.ID == found.ID || current.Email != "") {
		return nil
	}
	// NOTE: the email is taken on the shopper's word, as in a store's guest
	// order lookup. No code is sent to the address to confirm it.
	if err := env.DB.SetConversationCustomer(ctx, turn.Shop.ID, turn.Conversation.ID, found.ID); err != nil {
		return err
	}
	turn.Customer = found
	turn.Conversation.CustomerID = &found.ID
	return nil
}

func orderData(o *salesagent.Order, currency string) OrderData {
	d := OrderData{Number: o.Number, Status: o.Status, Items: []string{}}
	if !strings.HasPrefix(d.Number, "#") {
		d.Number = "#" + d.Number
	}
	for _, item := range o.Items {
		line := fmt.Sprintf("%d × %s", item.Quantity, item.Name)
		var options []string
		for _, opt := range item.Options {
			options = append(options, opt.Value)
		}
		if len(options) > 0 {
			line += " (" + strings.Join(options, ", ") + ")"
		}
		d.Items = append(d.Items, line)
	}
	if o.Total != nil {
		d.Total = o.Total.Format(currency)
	}
	if o.PlacedAt != nil {
		d.PlacedOn = o.PlacedAt.UTC().Format("2 January 2006")
	}
	for _, f := range o.Fulfillments {
		ids := strings.Join(f.TrackingIDs, ", ")
		if ids == "" {
			continue
		}
		if f.Carrier != "" {
			ids = f.Carrier + " " + ids
		}
		d.Tracking = append(d.Tracking, ids)
	}
	return d
}

func orderText(d OrderData) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Order %s is %s.", d.Number, d.Status)
	if d.PlacedOn != "" {
		fmt.Fprintf(&b, " It was placed on %s.", d.PlacedOn)
	}
	if len(d.Tracking) > 0 {
		fmt.Fprintf(&b, " Tracking: %s.", strings.Join(d.Tracking, "; "))
	}
	return b.String()
}

func orderCard(d OrderData) *salesagent.Card {
	card := &salesagent.Card{Type: salesagent.CardOrder, Title: "Order " + d.Number}
	card.Fields = append(card.Fields, salesagent.Field{Label: "Status", Value: d.Status})
	if d.PlacedOn != "" {
		card.Fields = append(card.Fields, salesagent.Field{Label: "Placed", Value: d.PlacedOn})
	}
	if len(d.Items) > 0 {
		card.Fields = append(card.Fields, salesagent.Field{Label: "Items", Value: strings.Join(d.Items, "; ")})
	}
	if d.Total != "" {
		card.Fields = append(card.Fields, salesagent.Field{Label: "Total", Value: d.Total})
	}
	for _, t := range d.Tracking {
		card.Fields = append(card.Fields, salesagent.Field{Label: "Tracking", Value: t})
	}
	return card
}
