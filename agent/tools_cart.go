package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/salesagent/salesagent"
)

// Limits of save_cart.
const (
	maxCartLines    = 50
	maxCartQuantity = 99
)

var saveCartTool = &Tool{
	Name:        "save_cart",
	Description: "Save the shopper's cart and return a link that restores it later. Without items it saves the cart on the shopper's page.",
	Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "items": {
      "type": "array",
      "description": "Cart lines to save; defaults to the cart on the shopper's page.",
      "maxItems": 50,
      "items": {
        "type": "object",
        "properties": {
          "sku": {"type": "string", "minLength": 1},
          "qty": {"type": "integer", "minimum": 1, "maximum": 99}
        },
        "required": ["sku", "qty"],
        "additionalProperties": false
      }
    }
  },
  "additionalProperties": false
}`),
	Run: runSaveCart,
}

type saveCartArgs struct {
	Items []salesagent.CartItem `json:"items"`
}

// SaveCartData is the Data of a save_cart result.
type SaveCartData struct {
	URL      string `json:"url"`
	Lines    int    `json:"lines"`
	Quantity int    `json:"quantity"`
}

func runSaveCart(ctx context.Context, env *ToolEnv, raw json.RawMessage) (*ToolResult, error) {
	var args saveCartArgs
	if err := decodeArgs("save_cart", raw, &args); err != nil {
		return nil, err
	}
	items := args.Items
	if items == nil {
		items = env.Turn.Page.Cart
	}
	if len(items) == 0 {
		return nil, salesagent.Errorf(salesagent.EINVALID, "the cart is empty: add items to the cart, then ask to save it")
	}
	if len(items) > maxCartLines {
		return nil, salesagent.Errorf(salesagent.EINVALID, "the cart has %d lines; save_cart takes at most %d", len(items), maxCartLines)
	}

	shop, conv := env.Turn.Shop, env.Turn.Conversation
	card := &salesagent.Card{Type: salesagent.CardCart, Title: "Saved cart"}
	quantity := 0
	for i, item := range items {
		if strings.TrimSpace(item.SKU) == "" {
			return nil, salesagent.Errorf(salesagent.EINVALID, "cart line %d has no sku", i+1)
		}
		if item.Quantity < 1 || item.Quantity > maxCartQuantity {
			return nil, salesagent.Errorf(salesagent.EINVALID, "cart line %d (%s) has qty %d; use 1 to %d", i+1, item.SKU, item.Quantity, maxCartQuantity)
		}
		p, err := env.DB.ProductBySKU(ctx, shop.ID, item.SKU)
		if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
			return nil, salesagent.Errorf(salesagent.EINVALID, "cart line %d has SKU %q, which the shop does not sell; remove it and save again", i+1, item.SKU)
		}
		if err != nil {
			return nil, err
		}
		card.Fields = append(card.Fields, salesagent.Field{Label: variantLabel(p, item.SKU), Value: fmt.Sprintf("× %d", item.Quantity)})
		quantity += item.Quantity
	}

	var customerID *int64
	if env.Turn.Customer != nil {
		customerID = &env.Turn.Customer.ID
	}
	convID := conv.ID
	token, err := env.DB.SaveCart(ctx, shop.ID, &convID, customerID, items)
	if err != nil {
		return nil, err
	}
	card.URL = RestoreURL(shop, token)

	data := SaveCartData{URL: card.URL, Lines: len(items), Quantity: quantity}
	env.record(salesagent.EventCartSaved, map[string]int{"lines": data.Lines, "quantity": data.Quantity})
	return &ToolResult{
		Text: fmt.Sprintf("Saved the cart (%d %s). Restore it with this link: %s", quantity, plural(quantity, "item", "items"), card.URL),
		Card: card,
		Data: data,
	}, nil
}

// RestoreURL returns the link that restores a saved cart: the shop's page
// on the salesagent server, under the shop's BaseURL when one is set.
func RestoreURL(shop *salesagent.Shop, token string) string {
	path := "/shop/" + url.PathEscape(shop.Slug) + "/cart/" + url.PathEscape(token)
	// TODO: confirm with the storefront integration whether BaseURL should
	// prefix this path or point at a restore page of the storefront itself.
	return strings.TrimRight(shop.Settings.BaseURL, "/") + path
}

// variantLabel names a cart line: the product title and, when the product
// has several variants, the variant's title.
func variantLabel(p *salesagent.Product, sku string) string {
	for _, v := range p.Variants {
		if v.SKU == sku && len(p.Variants) > 1 && v.Title != "" {
			return p.Title + " – " + v.Title
		}
	}
	return p.Title
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
