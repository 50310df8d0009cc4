package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/salesagent/salesagent"
)

// wooAddress is the billing or shipping address of a customer or order.
type wooAddress struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type wooCustomer struct {
	ID        json.RawMessage `json:"id"`
	Email     string          `json:"email"`
	FirstName string          `json:"first_name"`
	LastName  string          `json:"last_name"`
	Billing   wooAddress      `json:"billing"`
}

type wooOrder struct {
	ID             json.RawMessage `json:"id"`
	Number         json.RawMessage `json:"number"`
	Status         string          `json:"status"`
	Total          json.RawMessage `json:"total"`
	CustomerID     json.RawMessage `json:"customer_id"`
	DateCreated    string          `json:"date_created"`
	DateCreatedGMT string          `json:"date_created_gmt"`
	Billing        wooAddress      `json:"billing"`
	LineItems      []wooLineItem   `json:"line_items"`
}

type wooLineItem struct {
	Name        string          `json:"name"`
	ProductID   json.RawMessage `json:"product_id"`
	VariationID json.RawMessage `json:"variation_id"`
	Quantity    json.RawMessage `json:"quantity"`
	SKU         string          `json:"sku"`
	Price       json.RawMessage `json:"price"`
	Subtotal    json.RawMessage `json:"subtotal"`
	MetaData    []wooMeta       `json:"meta_data"`
}

// wooMeta is one meta_data entry. Newer WooCommerce versions add the
// display_key and display_value the store shows for it.
type wooMeta struct {
	Key          string          `json:"key"`
	Value        json.RawMessage `json:"value"`
	DisplayKey   string          `json:"display_key"`
	DisplayValue json.RawMessage `json:"display_value"`
}

// wooCommerceCustomer converts one customer. The phone comes from the
// billing address, the only place WooCommerce keeps one, and so do the
// email and name when the account has none.
func wooCommerceCustomer(raw json.RawMessage, at origin, field func(string) string) (salesagent.Customer, *RowError) {
	var wc wooCustomer
	if err := json.Unmarshal(raw, &wc); err != nil {
		return salesagent.Customer{}, rowErrorPtr(rowError(at, field("id"), "", err, "keep the customer's fields as the WooCommerce REST API returns them"))
	}
	id, err := wooID(wc.ID)
	if err != nil {
		return salesagent.Customer{}, rowErrorPtr(rowError(at, field("id"), jsonScalar(wc.ID), err, "keep the numeric customer id from the REST API response"))
	}

	c := salesagent.Customer{
		ExternalID: id,
		Email:      strings.TrimSpace(wc.Email),
		Name:       strings.TrimSpace(wc.FirstName + " " + wc.LastName),
		Phone:      strings.TrimSpace(wc.Billing.Phone),
	}
	if c.Email == "" {
		c.Email = strings.TrimSpace(wc.Billing.Email)
	}
	if c.Name == "" {
		c.Name = strings.TrimSpace(wc.Billing.FirstName + " " + wc.Billing.LastName)
	}
	return c, nil
}

// wooOrderStatuses maps WooCommerce order statuses to the words its store
// pages show shoppers. Other statuses, such as those plugins add, keep
// their slug with hyphens turned into spaces.
var wooOrderStatuses = map[string]string{
	"pending": "pending payment",
	"on-hold": "on hold",
}

// wooCommerceOrder converts one order. It returns nil without an error for
// an order in the trash or a "checkout-draft" (a cart the block checkout
// saved before payment), because neither is a placed order. An order with
// a bad line is skipped whole with a RowError, so that no order is stored
// with items missing.
//
// A registered customer's order names the customer by id. A guest order
// (customer_id 0) keeps its billing email in CustomerEmail, and finish
// links it to the customer of the batch with that email.
//
// TODO: WooCommerce core keeps no tracking numbers, and shipping_lines are
// the chosen shipping methods rather than shipments, so orders load without
// fulfillments and order_status shows no tracking.
func wooCommerceOrder(raw json.RawMessage, at origin, field func(string) string) (*Order, *RowError) {
	var wo wooOrder
	if err := json.Unmarshal(raw, &wo); err != nil {
		return nil, rowErrorPtr(rowError(at, field("line_items"), "", err, "keep the order's fields as the WooCommerce REST API returns them"))
	}
	status := strings.ToLower(strings.TrimSpace(wo.Status))
	if status == "trash" || status == "checkout-draft" {
		return nil, nil
	}

	number := jsonScalar(wo.Number)
	if number == "" {
		number = jsonScalar(wo.ID)
	}
	if number == "" {
		return nil, rowErrorPtr(rowError(at, field("number"), "", errors.New("order has no number and no id"), "keep the order's number or id from the REST API response"))
	}

	o := &Order{}
	o.Number = number
	o.Status = wooOrderStatus(status)
	if customerID := jsonScalar(wo.CustomerID); customerID != "" && customerID != "0" {
		o.CustomerExternalID = customerID
	} else {
		o.CustomerEmail = strings.TrimSpace(wo.Billing.Email)
	}

	if rawTotal := jsonScalar(wo.Total); rawTotal != "" {
		total, err := salesagent.ParseMoney(rawTotal)
		if err != nil {
			return nil, rowErrorPtr(rowError(at, field("total"), rawTotal, err, `write the total as a decimal such as "29.35"`))
		}
		o.Total = &total
	}

	placedAt, dateField, err := wooOrderDate(wo)
	if err != nil {
		return nil, rowErrorPtr(rowError(at, field(dateField), "", err, `write the date as "2017-03-22T19:28:02" in date_created_gmt`))
	}
	o.PlacedAt = placedAt

	for i, line := range wo.LineItems {
		item, rowErr := wooOrderItem(line, at, field(fmt.Sprintf("line_items[%d]", i)))
		if rowErr != nil {
			return nil, rowErr
		}
		o.Items = append(o.Items, item)
	}
	return o, nil
}

// wooOrderStatus returns the status as a shopper reads it.
func wooOrderStatus(status string) string {
	status = strings.TrimPrefix(status, "wc-")
	if label, ok := wooOrderStatuses[status]; ok {
		return label
	}
	return strings.ReplaceAll(status, "-", " ")
}

// wooOrderDate returns when the order was placed, with the field it came
// from. date_created_gmt is UTC without a zone suffix. date_created is the
// store's local time, also without a zone, so it is read as UTC only when
// the GMT field is missing, which may shift the time by the store's offset.
func wooOrderDate(wo wooOrder) (*time.Time, string, error) {
	value, fieldName := strings.TrimSpace(wo.DateCreatedGMT), "date_created_gmt"
	if value == "" {
		value, fieldName = strings.TrimSpace(wo.DateCreated), "date_created"
	}
	if value == "" {
		return nil, fieldName, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, value, time.UTC); err == nil {
			t = t.UTC()
			return &t, fieldName, nil
		}
	}
	return nil, fieldName, fmt.Errorf("invalid date %q", value)
}

// wooOrderItem converts one line item. Its price is the unit price, which
// WooCommerce stores as a float that may carry more than two decimals
// after a discount, so it is rounded to the cent.
func wooOrderItem(line wooLineItem, at origin, field string) (salesagent.OrderItem, *RowError) {
	item := salesagent.OrderItem{
		Name:      htmlInlineText(line.Name),
		SKU:       strings.TrimSpace(line.SKU),
		ProductID: jsonScalar(line.ProductID),
		Options:   wooItemOptions(line.MetaData),
	}
	if item.ProductID == "0" {
		item.ProductID = "" // the product was deleted after the order
	}
	if item.SKU == "" {
		// The same fallback as the catalog variant of a product without a
		// SKU, so the two match.
		if variation := jsonScalar(line.VariationID); variation != "" && variation != "0" {
			item.SKU = "woocommerce-" + variation
		} else if item.ProductID != "" {
			item.SKU = "woocommerce-" + item.ProductID
		}
	}

	rawQuantity := jsonScalar(line.Quantity)
	quantity, err := strconv.Atoi(rawQuantity)
	if err != nil {
		return item, rowErrorPtr(rowError(at, field+".quantity", rawQuantity, fmt.Errorf("invalid quantity %q: not a whole number", rawQuantity), "write the quantity as a whole number such as 2"))
	}
	item.Quantity = quantity

	rawPrice, priceField, divisor := jsonScalar(line.Price), field+".price", 1
	if rawPrice == "" && quantity > 0 {
		// Without a unit price, the line subtotal before discounts divided
		// by the quantity gives it.
		rawPrice, priceField, divisor = jsonScalar(line.Subtotal), field+".subtotal", quantity
	}
	price, err := centsRounded(rawPrice, divisor)
	if err != nil {
		return item, rowErrorPtr(rowError(at, priceField, rawPrice, err, "write the price as a number such as 12.50"))
	}
	item.Price = price
	return item, nil
}

// centsRounded parses a decimal number such as "8.333333", divides it by
// divisor and rounds the result to the nearest cent, halves away from zero.
// It computes in exact rationals, so "8.335" rounds up as written. Only
// plain decimals are accepted: an exponent such as "1e999999" would make
// big.Rat build a huge number.
func centsRounded(s string, divisor int) (salesagent.Money, error) {
	if s == "" {
		return 0, errors.New("missing price")
	}
	if len(s) > 32 || strings.Trim(s, "-.0123456789") != "" {
		return 0, fmt.Errorf("invalid price %q: not a decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || divisor == 0 {
		return 0, fmt.Errorf("invalid price %q: not a decimal number", s)
	}
	r.Mul(r, big.NewRat(100, int64(divisor)))
	negative := r.Sign() < 0
	r.Abs(r)
	r.Add(r, big.NewRat(1, 2))
	cents := new(big.Int).Quo(r.Num(), r.Denom())
	if !cents.IsInt64() {
		return 0, fmt.Errorf("invalid price %q: too large", s)
	}
	if negative {
		return salesagent.Money(-cents.Int64()), nil
	}
	return salesagent.Money(cents.Int64()), nil
}

// wooItemOptions returns the choices shown for a line item, such as
// Color = black, from its meta data. Keys starting with "_" are WooCommerce's
// hidden bookkeeping, and a global attribute's "pa_" prefix is dropped.
func wooItemOptions(meta []wooMeta) []salesagent.Option {
	var options []salesagent.Option
	for _, m := range meta {
		if m.Key == "" || strings.HasPrefix(m.Key, "_") {
			continue
		}
		name := strings.TrimSpace(html.UnescapeString(m.DisplayKey))
		if name == "" {
			name = titleCase(strings.TrimPrefix(m.Key, "pa_"))
		}
		value := wooMetaText(m.DisplayValue)
		if value == "" {
			value = wooMetaText(m.Value)
		}
		if name == "" || value == "" {
			continue
		}
		options = append(options, salesagent.Option{Name: name, Value: value})
	}
	return options
}

// wooMetaText returns a meta value as plain text, or "" for objects and
// arrays, which plugins store there and shoppers never see as a choice.
func wooMetaText(raw json.RawMessage) string {
	value := jsonScalar(raw)
	if strings.HasPrefix(value, "{") || strings.HasPrefix(value, "[") {
		return ""
	}
	return htmlToText(value)
}
