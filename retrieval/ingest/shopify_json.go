package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// shopifyProduct is a product of Shopify's REST Admin API or storefront
// products.json. Ids stay raw because they exceed 2^53, so decoding them as
// float64 would round them.
type shopifyProduct struct {
	ID          json.RawMessage `json:"id"`
	GraphQLID   string          `json:"admin_graphql_api_id"`
	Title       string          `json:"title"`
	Handle      string          `json:"handle"`
	BodyHTML    string          `json:"body_html"`
	Vendor      string          `json:"vendor"`
	ProductType string          `json:"product_type"`
	Tags        json.RawMessage `json:"tags"`
	Status      string          `json:"status"`
	Options     []struct {
		Name     string `json:"name"`
		Position int    `json:"position"`
	} `json:"options"`
	Variants []shopifyVariant `json:"variants"`
	Images   []struct {
		Src string `json:"src"`
	} `json:"images"`
	Image *struct {
		Src string `json:"src"`
	} `json:"image"`
}

// shopifyVariant is a variant of shopifyProduct. inventory_management is
// raw so that a null (inventory not tracked) differs from an absent field.
type shopifyVariant struct {
	ID                  json.RawMessage `json:"id"`
	GraphQLID           string          `json:"admin_graphql_api_id"`
	Title               string          `json:"title"`
	SKU                 *string         `json:"sku"`
	Option1             *string         `json:"option1"`
	Option2             *string         `json:"option2"`
	Option3             *string         `json:"option3"`
	Price               json.RawMessage `json:"price"`
	CompareAtPrice      json.RawMessage `json:"compare_at_price"`
	InventoryQuantity   *int64          `json:"inventory_quantity"`
	InventoryManagement json.RawMessage `json:"inventory_management"`
	InventoryPolicy     string          `json:"inventory_policy"`
	Available           *bool           `json:"available"`
}

// parseShopifyJSON parses {"products":[...]}, {"product":{...}}, an array of
// products or one bare product object.
func parseShopifyJSON(name string, data []byte) (*Batch, []RowError, error) {
	lines := newLineIndex(data)
	batch := &Batch{}
	var rowErrs []RowError

	add := func(raw json.RawMessage, offset int, path string) {
		at := origin{File: name, Line: lines.valueLine(offset)}
		var sp shopifyProduct
		if err := json.Unmarshal(raw, &sp); err != nil {
			rowErrs = append(rowErrs, rowError(at, path, "", err, "make the product a JSON object as Shopify exports it"))
			return
		}
		product, errs := shopifyJSONProduct(sp, at, path)
		rowErrs = append(rowErrs, errs...)
		if product != nil {
			batch.addProduct(at, *product)
		}
	}

	dec, isArray, err := openTopLevel(data, add, errors.New("expected a JSON object or array of products (fix: export products.json from Shopify)"))
	if err != nil {
		return nil, nil, err
	}
	if isArray {
		return batch, rowErrs, nil
	}

	bare := true
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := keyTok.(string)
		switch key {
		case "products":
			bare = false
			if err := expectDelim(dec, '['); err != nil {
				return nil, nil, fmt.Errorf(`"products": %w`, err)
			}
			if err := eachArrayItem(dec, "products", add); err != nil {
				return nil, nil, err
			}
		case "product":
			bare = false
			offset := int(dec.InputOffset())
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, fmt.Errorf(`"product": invalid JSON: %w`, err)
			}
			add(raw, offset, "product")
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, nil, fmt.Errorf("invalid JSON: %w", err)
			}
		}
	}

	if bare {
		add(data, 0, "")
	}
	return batch, rowErrs, nil
}

// openTopLevel reads the first token of a JSON file. It passes an array's
// items to item and sets isArray. For an object, it returns the decoder
// positioned after the "{" for the caller to read the members. Any other
// value gives the error notListOrObject.
func openTopLevel(data []byte, item func(raw json.RawMessage, offset int, path string), notListOrObject error) (dec *json.Decoder, isArray bool, err error) {
	dec = json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, false, fmt.Errorf("invalid JSON: %w", err)
	}
	switch tok {
	case json.Delim('['):
		return dec, true, eachArrayItem(dec, "", item)
	case json.Delim('{'):
		return dec, false, nil
	}
	return nil, false, notListOrObject
}

// expectDelim reads the next token and checks that it is want.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if tok != want {
		return fmt.Errorf("expected %q, found %v", string(want), tok)
	}
	return nil
}

// eachArrayItem calls fn with each item of the array whose opening bracket
// was just read, its byte offset and a path such as "products[3]".
func eachArrayItem(dec *json.Decoder, path string, fn func(raw json.RawMessage, offset int, path string)) error {
	for i := 0; dec.More(); i++ {
		offset := int(dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s[%d]: invalid JSON: %w", path, i, err)
		}
		fn(raw, offset, fmt.Sprintf("%s[%d]", path, i))
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	return nil
}

// shopifyJSONProduct converts one product. Variants with a bad price or id
// are skipped with a RowError each, and a product without a usable id is
// skipped as a whole.
func shopifyJSONProduct(sp shopifyProduct, at origin, path string) (*salesagent.Product, []RowError) {
	var rowErrs []RowError
	field := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}

	id, err := shopifyID(sp.ID, sp.GraphQLID)
	if err != nil {
		return nil, []RowError{rowError(at, field("id"), string(sp.ID), err, "keep the numeric product id from the export")}
	}

	p := salesagent.Product{
		ExternalID:  id,
		Handle:      sp.Handle,
		Title:       strings.TrimSpace(sp.Title),
		Description: htmlToText(sp.BodyHTML),
		ProductType: strings.TrimSpace(sp.ProductType),
		Vendor:      strings.TrimSpace(sp.Vendor),
		Tags:        shopifyTags(sp.Tags),
	}
	if p.Handle == "" {
		p.Handle = slugify(p.Title)
	}
	if sp.Image != nil && sp.Image.Src != "" {
		p.ImageURL = sp.Image.Src
	} else if len(sp.Images) > 0 {
		p.ImageURL = sp.Images[0].Src
	}
	status := strings.ToLower(sp.Status)
	if status != "" && status != "active" {
		setAttribute(&p, "status", status)
	}

	optionNames := [3]string{}
	for i, o := range sp.Options {
		slot := i
		if o.Position >= 1 && o.Position <= 3 {
			slot = o.Position - 1
		}
		if slot < 3 {
			optionNames[slot] = o.Name
		}
	}

	for i, sv := range sp.Variants {
		variantField := field(fmt.Sprintf("variants[%d]", i))
		v, rowErr := shopifyJSONVariant(sv, optionNames, at, variantField)
		if rowErr != nil {
			rowErrs = append(rowErrs, *rowErr)
			continue
		}
		if status != "" && status != "active" {
			v.Available = false
		}
		p.Variants = append(p.Variants, v)
	}
	return &p, rowErrs
}

// shopifyJSONVariant converts one variant.
func shopifyJSONVariant(sv shopifyVariant, optionNames [3]string, at origin, field string) (salesagent.Variant, *RowError) {
	var v salesagent.Variant

	id, err := shopifyID(sv.ID, sv.GraphQLID)
	if err != nil {
		e := rowError(at, field+".id", string(sv.ID), err, "keep the numeric variant id from the export")
		return v, &e
	}
	v.ExternalID = id

	rawPrice := jsonScalar(sv.Price)
	price, err := salesagent.ParseMoney(rawPrice)
	if err != nil {
		e := rowError(at, field+".price", rawPrice, err, `write the price as a decimal such as "19.99"`)
		return v, &e
	}
	v.Price = price

	if rawCompare := jsonScalar(sv.CompareAtPrice); rawCompare != "" {
		compareAt, err := salesagent.ParseMoney(rawCompare)
		if err != nil {
			e := rowError(at, field+".compare_at_price", rawCompare, err, `write the compare-at price as a decimal such as "24.99", or null`)
			return v, &e
		}
		v.CompareAtPrice = &compareAt
	}

	v.Stock = shopifyStock(sv)
	v.Available = sv.Available == nil || *sv.Available

	values := []*string{sv.Option1, sv.Option2, sv.Option3}
	for i, value := range values {
		if value == nil || *value == "" {
			continue
		}
		optionName := optionNames[i]
		if optionName == "" {
			optionName = "Option" + strconv.Itoa(i+1)
		}
		if optionName == "Title" && *value == "Default Title" {
			continue // Shopify's placeholder option of a product without variants
		}
		v.Options = append(v.Options, salesagent.Option{Name: titleCase(optionName), Value: *value})
	}
	v.Title = sv.Title
	if v.Title == "Default Title" {
		v.Title = ""
	}

	if sv.SKU != nil && strings.TrimSpace(*sv.SKU) != "" {
		v.SKU = strings.TrimSpace(*sv.SKU)
	} else {
		v.SKU = "shopify-" + id
	}
	return v, nil
}

// shopifyStock returns the inventory count, or nil when inventory is not
// tracked (inventory_management null), not exported, or the variant keeps
// selling when it runs out (inventory_policy "continue").
func shopifyStock(sv shopifyVariant) *int {
	if sv.InventoryQuantity == nil {
		return nil
	}
	if sv.InventoryManagement != nil && jsonScalar(sv.InventoryManagement) == "" {
		return nil
	}
	if strings.EqualFold(sv.InventoryPolicy, "continue") {
		return nil
	}
	n := int(*sv.InventoryQuantity)
	return &n
}

// shopifyID returns a Shopify id as decimal text. The GraphQL id
// ("gid://shopify/Product/788032119674292922") wins when present, because
// a numeric id may have been rounded by a tool that read it as a float.
// Otherwise the id may be a JSON number or a string of digits.
func shopifyID(raw json.RawMessage, graphQLID string) (string, error) {
	if rest, ok := strings.CutPrefix(graphQLID, "gid://"); ok {
		if i := strings.LastIndexByte(rest, '/'); i >= 0 {
			if _, err := strconv.ParseUint(rest[i+1:], 10, 64); err == nil {
				return rest[i+1:], nil
			}
		}
	}

	value := jsonScalar(raw)
	if value == "" {
		return "", errors.New("missing id")
	}
	if _, err := strconv.ParseUint(value, 10, 64); err != nil {
		return "", fmt.Errorf("invalid id %q: not a whole number", value)
	}
	return value, nil
}

// shopifyTags accepts tags as "a, b" (Admin API) or ["a", "b"] (storefront).
func shopifyTags(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return splitList(strings.Join(list, ","), ",")
	}
	var joined string
	if json.Unmarshal(raw, &joined) == nil {
		return splitList(joined, ",")
	}
	return nil
}

// jsonScalar returns a JSON string's content or a number's text. Null and
// absent values give "".
func jsonScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return string(raw)
}
