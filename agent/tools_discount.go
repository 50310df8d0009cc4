package agent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// EventDiscountApplied is the event of a discount code granted by the
// apply_discount tool.
const EventDiscountApplied = "discount_applied"

// maxDiscountReasonLength limits the reason stored with a discount.
const maxDiscountReasonLength = 200

var applyDiscountTool = &Tool{
	Name: "apply_discount",
	Description: "Give the shopper a discount code for a percentage off their order. The shop sets the highest percentage, " +
		"and a conversation gets one code at most. Use it only when the shopper asks for a discount.",
	Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "percent": {"type": "number", "description": "Percentage off, within the shop's limit.", "exclusiveMinimum": 0, "maximum": 100},
    "reason": {"type": "string", "description": "Why the discount is given, in a few words.", "maxLength": 200}
  },
  "required": ["percent"],
  "additionalProperties": false
}`),
	Run: runApplyDiscount,
}

type applyDiscountArgs struct {
	Percent *float64 `json:"percent"`
	Reason  string   `json:"reason"`
}

// DiscountData is the Data of an apply_discount result.
type DiscountData struct {
	Code    string  `json:"code"`
	Percent float64 `json:"percent"`
}

func runApplyDiscount(ctx context.Context, env *ToolEnv, raw json.RawMessage) (*ToolResult, error) {
	var args applyDiscountArgs
	if err := decodeArgs("apply_discount", raw, &args); err != nil {
		return nil, err
	}
	shop := env.Turn.Shop
	limit := shop.Settings.MaxDiscountPercent
	switch {
	case limit < 0 || limit > 100 || math.IsNaN(limit):
		return nil, fmt.Errorf("shop %s has max_discount_percent %v: set it between 0 and 100", shop.Slug, limit)
	case limit == 0:
		return nil, salesagent.Errorf(salesagent.EFORBIDDEN, "This shop does not offer discounts in chat, so no discount code can be given.")
	case args.Percent == nil:
		return nil, salesagent.Errorf(salesagent.EINVALID, "apply_discount needs percent: the percentage off, at most %s", formatPercent(limit))
	}
	percent := math.Round(*args.Percent*100) / 100
	switch {
	case percent <= 0 || math.IsNaN(percent):
		return nil, salesagent.Errorf(salesagent.EINVALID, "invalid discount of %s%%: give a percentage above 0 and at most %s%%", formatPercent(*args.Percent), formatPercent(limit))
	case percent > limit:
		return nil, salesagent.Errorf(salesagent.EFORBIDDEN, "A discount of %s%% is above this shop's limit of %s%%; offer at most %s%%.", formatPercent(percent), formatPercent(limit), formatPercent(limit))
	}
	reason := strings.TrimSpace(args.Reason)
	if n := len([]rune(reason)); n > maxDiscountReasonLength {
		return nil, salesagent.Errorf(salesagent.EINVALID, "apply_discount reason is %d characters long; shorten it to %d", n, maxDiscountReasonLength)
	}

	var customerID *int64
	if env.Turn.Customer != nil {
		customerID = &env.Turn.Customer.ID
	}
	discount, created, err := env.DB.CreateDiscount(ctx, shop.ID, env.Turn.Conversation.ID, customerID, newDiscountCode(), percent, reason)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, salesagent.Errorf(salesagent.ECONFLICT,
			"This conversation already has a discount: code %s for %s%% off. Only one discount is given per conversation.", discount.Code, formatPercent(discount.Percent))
	}

	data := DiscountData{Code: discount.Code, Percent: discount.Percent}
	env.record(EventDiscountApplied, data)
	// TODO: register the code with the storefront, which has to accept it
	// at checkout; until then the shop's team must honour it by hand.
	text := fmt.Sprintf("Discount code %s gives %s%% off the order. Enter it at checkout.", data.Code, formatPercent(data.Percent))
	return &ToolResult{
		Text: text,
		Card: &salesagent.Card{Type: "discount", Title: "Discount code", Text: text, Fields: []salesagent.Field{
			{Label: "Code", Value: data.Code}, {Label: "Discount", Value: formatPercent(data.Percent) + "%"},
		}},
		Data: data,
	}, nil
}

// codeAlphabet leaves out letters and digits that read alike, as O and 0.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newDiscountCode returns a random code such as "SAVE-7KQ2M9XD": 40 bits
// of randomness, so a code cannot be guessed.
func newDiscountCode() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	code := make([]byte, len(b))
	for i, v := range b {
		code[i] = codeAlphabet[int(v)%len(codeAlphabet)]
	}
	return "SAVE-" + string(code)
}

// formatPercent formats a percentage without trailing zeros, as "12.5".
func formatPercent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64)
}
