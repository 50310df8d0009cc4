package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// shopifyCSVColumns are the columns the parser reads. Each field accepts the
// 2023 header ("Variant Price") and the 2024 one ("Price").
type shopifyCSVColumns struct {
	handle, title, body, vendor, category, productType, tags, published, status column
	optionNames, optionValues                                                   [3]column
	sku, tracker, quantity, policy, price, compareAt, image, variantImage       column
	gender, ageGroup                                                            column
}

func newShopifyCSVColumns(cols columns) shopifyCSVColumns {
	c := shopifyCSVColumns{
		handle:       cols.find("Handle", "URL handle"),
		title:        cols.find("Title"),
		body:         cols.find("Body (HTML)", "Description"),
		vendor:       cols.find("Vendor"),
		category:     cols.find("Product Category"),
		productType:  cols.find("Type"),
		tags:         cols.find("Tags"),
		published:    cols.find("Published", "Published on online store"),
		status:       cols.find("Status"),
		sku:          cols.find("Variant SKU", "SKU"),
		tracker:      cols.find("Variant Inventory Tracker", "Inventory tracker"),
		quantity:     cols.find("Variant Inventory Qty", "Inventory quantity"),
		policy:       cols.find("Variant Inventory Policy", "Continue selling when out of stock"),
		price:        cols.find("Variant Price", "Price"),
		compareAt:    cols.find("Variant Compare At Price", "Compare-at price"),
		image:        cols.find("Image Src", "Product image URL"),
		variantImage: cols.find("Variant Image", "Variant image URL"),
		gender:       cols.find("Google Shopping / Gender"),
		ageGroup:     cols.find("Google Shopping / Age Group"),
	}
	for i := range 3 {
		n := strconv.Itoa(i + 1)
		c.optionNames[i] = cols.find("Option" + n + " Name")
		c.optionValues[i] = cols.find("Option" + n + " Value")
	}
	return c
}

// csvProduct is a product being assembled from the rows sharing a handle.
type csvProduct struct {
	product     salesagent.Product
	at          origin
	optionNames [3]string
	status      string
	published   string
}

// parseShopifyCSV parses a Shopify product CSV. Rows with the same handle
// belong to one product: the first carries the product fields and option
// names, and every row with an option value, SKU or price is a variant.
// Rows with only an image add the product image when it has none.
func parseShopifyCSV(name string, data []byte) (*Batch, []RowError, error) {
	cols, rows, rowErrs, err := readCSV(name, data)
	if err != nil {
		return nil, nil, err
	}
	c := newShopifyCSVColumns(cols)
	if c.handle.Index < 0 {
		return nil, nil, errors.New(`missing column "Handle" (2023 layout) or "URL handle" (2024 layout) (fix: export the products from Shopify admin, or add the handle column)`)
	}

	products := map[string]*csvProduct{}
	var order []*csvProduct
	for _, row := range rows {
		if isBlank(row.Record) {
			continue
		}
		at := origin{File: name, Line: row.Line}

		handle := c.handle.value(row.Record)
		if handle == "" {
			rowErrs = append(rowErrs, rowError(at, c.handle.Name, "", errors.New("missing handle"),
				"give every row the URL handle of its product, copied from the product's first row"))
			continue
		}

		cp := products[handle]
		if cp == nil {
			cp = &csvProduct{at: at, product: salesagent.Product{ExternalID: handle, Handle: handle}}
			products[handle] = cp
			order = append(order, cp)
		}
		c.fillProduct(cp, row.Record)

		if !c.isVariantRow(row.Record) {
			continue
		}
		variant, rowErr := c.variant(cp, at, row.Record)
		if rowErr != nil {
			rowErrs = append(rowErrs, *rowErr)
			continue
		}
		cp.product.Variants = append(cp.product.Variants, variant)
	}

	batch := &Batch{}
	for _, cp := range order {
		finishCSVProduct(cp)
		batch.addProduct(cp.at, cp.product)
	}
	return batch, rowErrs, nil
}

// fillProduct copies product-level cells into fields that are still empty,
// so the first row sets them and later rows may only add what it left out.
func (c shopifyCSVColumns) fillProduct(cp *csvProduct, record []string) {
	p := &cp.product
	setIfEmpty(&p.Title, c.title.value(record))
	if p.Description == "" {
		p.Description = htmlToText(c.body.value(record))
	}
	setIfEmpty(&p.Vendor, c.vendor.value(record))
	setIfEmpty(&p.ProductType, c.productType.value(record))
	if len(p.Tags) == 0 {
		p.Tags = splitList(c.tags.value(record), ",")
	}
	setIfEmpty(&p.ImageURL, c.image.value(record))
	setIfEmpty(&cp.status, strings.ToLower(c.status.value(record)))
	setIfEmpty(&cp.published, strings.ToLower(c.published.value(record)))

	setAttribute(p, "category", c.category.value(record))
	setAttribute(p, "gender", c.gender.value(record))
	setAttribute(p, "age_group", c.ageGroup.value(record))

	for i := range 3 {
		if optionName := c.optionNames[i].value(record); optionName != "" {
			cp.optionNames[i] = optionName
		}
	}
}

// isVariantRow reports whether a row describes a variant rather than only
// an extra image.
func (c shopifyCSVColumns) isVariantRow(record []string) bool {
	if c.sku.value(record) != "" || c.price.value(record) != "" {
		return true
	}
	for _, col := range c.optionValues {
		if col.value(record) != "" {
			return true
		}
	}
	return false
}

// variant builds the variant of one row.
func (c shopifyCSVColumns) variant(cp *csvProduct, at origin, record []string) (salesagent.Variant, *RowError) {
	var v salesagent.Variant

	rawPrice := c.price.value(record)
	if rawPrice == "" {
		e := rowError(at, c.price.Name, "", errors.New("missing price"), "set the variant price, such as 19.99")
		return v, &e
	}
	price, err := salesagent.ParseMoney(rawPrice)
	if err != nil {
		e := rowError(at, c.price.Name, rawPrice, err, "write the price as a decimal number such as 19.99")
		return v, &e
	}
	v.Price = price

	if raw := c.compareAt.value(record); raw != "" {
		compareAt, err := salesagent.ParseMoney(raw)
		if err != nil {
			e := rowError(at, c.compareAt.Name, raw, err, "write the compare-at price as a decimal number such as 24.99, or leave it empty")
			return v, &e
		}
		v.CompareAtPrice = &compareAt
	}

	stock, rowErr := c.stock(at, record)
	if rowErr != nil {
		return v, rowErr
	}
	v.Stock = stock

	var values []string
	for i, col := range c.optionValues {
		value := col.value(record)
		if value == "" {
			continue
		}
		optionName := cp.optionNames[i]
		if optionName == "" {
			optionName = "Option" + strconv.Itoa(i+1)
		}
		if optionName == "Title" && value == "Default Title" {
			continue // Shopify's placeholder option of a product without variants
		}
		v.Options = append(v.Options, salesagent.Option{Name: titleCase(optionName), Value: value})
		values = append(values, value)
	}
	v.Title = strings.Join(values, " / ")

	v.SKU = c.sku.value(record)
	if v.SKU == "" {
		v.SKU = fallbackSKU(cp.product.Handle, values, len(cp.product.Variants))
	}
	v.ExternalID = v.SKU
	if cp.product.ImageURL == "" {
		cp.product.ImageURL = c.variantImage.value(record)
	}
	return v, nil
}

// stock returns the inventory count, or nil when Shopify does not track
// inventory for the variant or keeps selling when it runs out (policy
// "continue"), because then the count does not limit what a shopper can
// buy.
func (c shopifyCSVColumns) stock(at origin, record []string) (*int, *RowError) {
	if c.tracker.value(record) == "" {
		return nil, nil
	}
	if strings.EqualFold(c.policy.value(record), "continue") {
		return nil, nil
	}
	raw := c.quantity.value(record)
	if raw == "" {
		zero := 0
		return &zero, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		e := rowError(at, c.quantity.Name, raw, fmt.Errorf("invalid inventory quantity %q", raw), "write a whole number such as 12")
		return nil, &e
	}
	return &n, nil
}

// fallbackSKU makes a SKU for a variant that has none from the handle and
// the option values, or the variant's position when it has no options.
func fallbackSKU(handle string, values []string, position int) string {
	if len(values) > 0 {
		return handle + "-" + slugify(strings.Join(values, " "))
	}
	return handle + "-" + strconv.Itoa(position+1)
}

// finishCSVProduct sets availability from the product status: draft and
// archived products, and products not published to the online store, are
// not for sale.
func finishCSVProduct(cp *csvProduct) {
	p := &cp.product
	if cp.status != "" && cp.status != "active" {
		setAttribute(p, "status", cp.status)
	}
	available := (cp.status == "" || cp.status == "active") && cp.published != "false"
	for i := range p.Variants {
		p.Variants[i].Available = available
	}
}

func setIfEmpty(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// setAttribute stores a non-empty attribute, keeping the first value seen.
func setAttribute(p *salesagent.Product, key, value string) {
	if value == "" {
		return
	}
	if p.Attributes == nil {
		p.Attributes = map[string]string{}
	}
	if _, ok := p.Attributes[key]; !ok {
		p.Attributes[key] = value
	}
}
