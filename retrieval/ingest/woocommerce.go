package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// WooCommerce REST API v3 resources, with the fields this package reads.
// Fields whose JSON type varies between WooCommerce versions and plugins
// (prices, ids, stock) stay raw and are read with jsonScalar.
type wooProduct struct {
	ID               json.RawMessage `json:"id"`
	Name             string          `json:"name"`
	Slug             string          `json:"slug"`
	Type             string          `json:"type"`
	Status           string          `json:"status"`
	Description      string          `json:"description"`
	ShortDescription string          `json:"short_description"`
	SKU              string          `json:"sku"`
	Price            json.RawMessage `json:"price"`
	RegularPrice     json.RawMessage `json:"regular_price"`
	SalePrice        json.RawMessage `json:"sale_price"`
	OnSale           bool            `json:"on_sale"`
	// ManageStock is true, false, or "parent" on a variation whose stock
	// the parent product keeps.
	ManageStock   json.RawMessage `json:"manage_stock"`
	StockQuantity json.RawMessage `json:"stock_quantity"`
	StockStatus   string          `json:"stock_status"`
	Backorders    string          `json:"backorders"`
	Categories    []wooTerm       `json:"categories"`
	Tags          []wooTerm       `json:"tags"`
	Images        []struct {
		Src string `json:"src"`
	} `json:"images"`
	Attributes []struct {
		Name      string   `json:"name"`
		Visible   bool     `json:"visible"`
		Variation bool     `json:"variation"`
		Options   []string `json:"options"`
	} `json:"attributes"`
}

// wooTerm is a category or tag as a product lists it.
type wooTerm struct {
	Name string `json:"name"`
}

// WooCommerce kinds of resource, as wooKind names them.
const (
	wooKindProduct  = "product"
	wooKindCustomer = "customer"
	wooKindOrder    = "order"
)

// wooKind identifies a WooCommerce product, customer or order by its
// top-level keys, and returns "" for anything else. A Shopify order also
// has "line_items" and "number", but its addresses are "billing_address"
// and it has no "order_key".
func wooKind(fields map[string]json.RawMessage) string {
	switch {
	case fields["line_items"] != nil && (fields["order_key"] != nil || (fields["number"] != nil && fields["billing"] != nil)):
		return wooKindOrder
	case fields["regular_price"] != nil || fields["stock_status"] != nil:
		return wooKindProduct
	case fields["billing"] != nil && fields["shipping"] != nil && fields["email"] != nil:
		return wooKindCustomer
	}
	return ""
}

// isWooDeleteResponse reports whether the file name marks a saved response
// of a DELETE request, such as product_deleted.json. Such a response
// repeats the removed resource as it was, often with "status": "publish"
// or "completed", so only the name distinguishes it from a live resource.
func isWooDeleteResponse(name string) bool {
	base := strings.ToLower(stem(name))
	return strings.HasSuffix(base, "_deleted") || strings.HasSuffix(base, "-deleted")
}

// parseWooCommerceJSON parses WooCommerce REST API v3 JSON: one product,
// customer or order object (a "Retrieve" response or a webhook body) or an
// array of them (a "List all" response). Each item is classified by its
// keys, so one array may mix kinds.
//
// A saved DELETE response (a file named *_deleted.json) loads nothing,
// because the resource it shows no longer exists in the store. Loading it
// would bring a deleted product back, and leaving it out lets --prune
// remove it.
func parseWooCommerceJSON(name string, data []byte) (*Batch, []RowError, error) {
	batch := &Batch{}
	if isWooDeleteResponse(name) {
		return batch, nil, nil
	}

	lines := newLineIndex(data)
	var rowErrs []RowError
	add := func(raw json.RawMessage, offset int, path string) {
		at := origin{File: name, Line: lines.valueLine(offset)}
		rowErrs = append(rowErrs, addWooItem(batch, raw, at, path)...)
	}

	_, isArray, err := openTopLevel(data, add,
		errors.New("expected a JSON object or array of WooCommerce products, customers or orders (fix: save the body of a WooCommerce REST API v3 response)"))
	if err != nil {
		return nil, nil, err
	}
	if !isArray {
		add(data, 0, "")
	}
	return batch, rowErrs, nil
}

// addWooItem converts one item and adds it to batch. Items that are not
// for sale or no longer placed (draft products, trashed orders) are left
// out without a RowError.
func addWooItem(batch *Batch, raw json.RawMessage, at origin, path string) []RowError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return []RowError{rowError(at, path, "", err, "make each item a JSON object as the WooCommerce REST API returns it")}
	}
	field := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}

	switch wooKind(fields) {
	case wooKindProduct:
		var wp wooProduct
		if err := json.Unmarshal(raw, &wp); err != nil {
			return []RowError{rowError(at, path, "", err, "keep the product's fields as the WooCommerce REST API returns them")}
		}
		p, rowErr := wooCommerceProduct(wp, at, field)
		if rowErr != nil {
			return []RowError{*rowErr}
		}
		if p != nil {
			batch.addProduct(at, *p)
		}
	case wooKindCustomer:
		c, rowErr := wooCommerceCustomer(raw, at, field)
		if rowErr != nil {
			return []RowError{*rowErr}
		}
		batch.addCustomer(at, c)
	case wooKindOrder:
		o, rowErr := wooCommerceOrder(raw, at, field)
		if rowErr != nil {
			return []RowError{*rowErr}
		}
		if o != nil {
			batch.addOrder(at, *o)
		}
	default:
		err := errors.New(`not a WooCommerce product, customer or order: no "regular_price" or "stock_status", no "billing", "shipping" and "email", and no "line_items" with "order_key"`)
		return []RowError{rowError(at, path, "", err, "keep only products, customers or orders from the WooCommerce REST API in the file")}
	}
	return nil
}

// wooCommerceProduct converts one product into a product with one
// variant. It returns nil without an error for a product that is not
// published ("draft", "pending", "private", or "trash" after a delete
// without force), because the store does not sell it. Batch has no count
// for such skips, so they pass silently.
func wooCommerceProduct(wp wooProduct, at origin, field func(string) string) (*salesagent.Product, *RowError) {
	if status := strings.ToLower(strings.TrimSpace(wp.Status)); status != "" && status != "publish" {
		return nil, nil
	}

	id, err := wooID(wp.ID)
	if err != nil {
		e := rowError(at, field("id"), jsonScalar(wp.ID), err, "keep the numeric product id from the REST API response")
		return nil, &e
	}
	// Store owners put markup such as <b> in names, and the REST API
	// returns them with entities escaped, as in "Hat &amp; Scarf".
	title := htmlInlineText(wp.Name)
	if title == "" {
		e := rowError(at, field("name"), "", fmt.Errorf("product %s has no name", id), "give the product a name in WooCommerce and export it again")
		return nil, &e
	}

	p := salesagent.Product{
		ExternalID:  id,
		Handle:      strings.TrimSpace(wp.Slug),
		Title:       title,
		Description: wooDescription(wp.Description, wp.ShortDescription),
		Tags:        wooTermNames(wp.Tags),
	}
	if p.Handle == "" {
		p.Handle = slugify(title)
	}
	if len(wp.Images) > 0 {
		p.ImageURL = strings.TrimSpace(wp.Images[0].Src)
	}
	// WooCommerce's own "type" (simple, variable, grouped, external) is
	// how the store engine sells the product, not what the goods are.
	// Categories describe the goods, and size guides and the product
	// search's type filter match on ProductType. The API marks no category as the main one,
	// so the first listed is used, and all of them go into the "category"
	// attribute.
	if categories := wooTermNames(wp.Categories); len(categories) > 0 {
		p.ProductType = categories[0]
		setAttribute(&p, "category", strings.Join(categories, ", "))
	}
	for _, attr := range wp.Attributes {
		name := strings.TrimSpace(attr.Name)
		values := splitList(strings.Join(attr.Options, "\x00"), "\x00")
		if name == "" || len(values) == 0 || (!attr.Visible && !attr.Variation) {
			continue // hidden attributes are not shown to shoppers
		}
		setAttribute(&p, attributeKey(name), strings.Join(values, ", "))
	}
	// Permalink is not kept: Product has no field for the page URL.

	v, rowErr := wooCommerceVariant(wp, id, at, field)
	if rowErr != nil {
		return nil, rowErr
	}
	if strings.EqualFold(wp.StockStatus, "onbackorder") {
		setAttribute(&p, "stock_status", "on backorder")
	}
	p.Variants = []salesagent.Variant{v}
	return &p, nil
}

// wooCommerceVariant builds the one variant of a product from the
// product's own SKU, prices and stock.
//
// TODO: the variations of a "variable" product come from
// GET /products/<id>/variations, which this reader does not read. Such a
// product loads as one variant at the parent's price, which WooCommerce
// sets to the lowest variation price, and the variations' own SKUs, prices
// and stock are missing.
func wooCommerceVariant(wp wooProduct, id string, at origin, field func(string) string) (salesagent.Variant, *RowError) {
	v := salesagent.Variant{ExternalID: id, SKU: strings.TrimSpace(wp.SKU)}
	if v.SKU == "" {
		v.SKU = "woocommerce-" + id
	}

	price, compareAt, rowErr := wooPrices(wp, id, at, field)
	if rowErr != nil {
		return v, rowErr
	}
	v.Price = price
	v.CompareAtPrice = compareAt

	stock, err := wooStock(wp)
	if err != nil {
		e := rowError(at, field("stock_quantity"), jsonScalar(wp.StockQuantity), err, "write stock_quantity as a whole number, or null")
		return v, &e
	}
	v.Stock = stock
	// "instock" and "onbackorder" can both be ordered now. Statuses added
	// by plugins count as available too, because only "outofstock" stops
	// the sale in WooCommerce core.
	v.Available = !strings.EqualFold(wp.StockStatus, "outofstock")
	return v, nil
}

// wooPrices returns the price a shopper pays now and, when that is below
// the regular price, the regular price as the compare-at price, as a
// Shopify variant on sale has. "price" is the current price: it equals
// "sale_price" only while the sale runs, so a scheduled sale does not lower
// it early.
func wooPrices(wp wooProduct, id string, at origin, field func(string) string) (salesagent.Money, *salesagent.Money, *RowError) {
	regular := jsonScalar(wp.RegularPrice)
	sale := jsonScalar(wp.SalePrice)
	current, currentField := jsonScalar(wp.Price), "price"
	if current == "" && wp.OnSale && sale != "" {
		current, currentField = sale, "sale_price"
	}
	if current == "" {
		current, currentField = regular, "regular_price"
	}

	if current == "" {
		if strings.EqualFold(wp.Type, "variable") {
			err := fmt.Errorf("variable product %s has no price: WooCommerce sets it from the prices of its variations", id)
			return 0, nil, rowErrorPtr(rowError(at, field("price"), "", err, "give the product's variations prices in WooCommerce and export it again"))
		}
		err := fmt.Errorf("product %s has no price", id)
		return 0, nil, rowErrorPtr(rowError(at, field("regular_price"), "", err, `set a regular price in WooCommerce, as in "regular_price": "19.99"`))
	}
	price, err := salesagent.ParseMoney(current)
	if err != nil {
		return 0, nil, rowErrorPtr(rowError(at, field(currentField), current, err, `write the price as a decimal such as "19.99"`))
	}

	if regular == "" || currentField == "regular_price" {
		return price, nil, nil
	}
	regularPrice, err := salesagent.ParseMoney(regular)
	if err != nil {
		return 0, nil, rowErrorPtr(rowError(at, field("regular_price"), regular, err, `write the regular price as a decimal such as "24.99", or ""`))
	}
	if regularPrice > price {
		return price, &regularPrice, nil
	}
	return price, nil, nil
}

// rowErrorPtr returns a pointer to a copy of e.
func rowErrorPtr(e RowError) *RowError {
	return &e
}

// wooStock returns the stock count, or nil when WooCommerce does not count
// stock for the product (manage_stock false, or "parent" on a variation).
// It also returns nil when the store keeps taking orders past zero
// (backorders "notify" or "yes"), as the Shopify reader does for
// inventory_policy "continue".
func wooStock(wp wooProduct) (*int, error) {
	if string(bytes.TrimSpace(wp.ManageStock)) != "true" {
		return nil, nil
	}
	switch strings.ToLower(wp.Backorders) {
	case "notify", "yes":
		return nil, nil
	}
	raw := jsonScalar(wp.StockQuantity)
	if raw == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return nil, fmt.Errorf("invalid stock quantity %q: not a whole number", raw)
	}
	n := int(f)
	return &n, nil
}

// wooDescription converts the HTML description to text, as the Shopify
// reader converts body_html. The short description, WooCommerce's summary
// beside the price, comes first unless the description already contains
// it, and is used alone when there is no description.
func wooDescription(description, short string) string {
	long := htmlToText(description)
	summary := htmlToText(short)
	switch {
	case summary == "" || strings.Contains(long, summary):
		return long
	case long == "":
		return summary
	}
	return summary + "\n\n" + long
}

// wooTermNames returns the decoded names of categories or tags. The REST
// API returns term names HTML-escaped, as in "Hoodies &amp; Sweaters".
func wooTermNames(terms []wooTerm) []string {
	var names []string
	for _, t := range terms {
		if name := strings.TrimSpace(html.UnescapeString(t.Name)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// attributeKey turns an attribute label such as "Fabric Weight" into the
// lower-case key "fabric_weight" that other readers use.
func attributeKey(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), "_"))
}

// wooID returns a WooCommerce id, a JSON number or string of digits, as
// decimal text. Zero is not an id: the API uses it for "none", as in the
// customer_id of a guest order.
func wooID(raw json.RawMessage) (string, error) {
	value := jsonScalar(raw)
	if value == "" {
		return "", errors.New("missing id")
	}
	n, err := strconv.ParseUint(value, 10, 64)
	if err != nil {
		return "", fmt.Errorf("invalid id %q: not a whole number", value)
	}
	if n == 0 {
		return "", errors.New("invalid id 0")
	}
	return value, nil
}
