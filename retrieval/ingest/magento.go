package ingest

import (
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// parseMagentoCSV parses one Magento 2 sample-data CSV, choosing the layout
// from its header: the catalog import layout (configurable products and
// their simple children), the simple gear layout, product reviews or CMS
// pages.
func parseMagentoCSV(name string, data []byte) (*Batch, []RowError, error) {
	cols, rows, rowErrs, err := readCSV(name, data)
	if err != nil {
		return nil, nil, err
	}

	var batch *Batch
	var errs []RowError
	switch {
	case cols.has("sku") && (cols.has("product_type") || cols.has("configurable_variations")):
		batch, errs = parseMagentoCatalog(name, cols, rows)
	case cols.has("sku") && cols.has("rating_value"):
		batch, errs = parseMagentoReviews(name, cols, rows)
	case cols.has("identifier") && cols.has("content"):
		batch, errs = parseMagentoPages(name, cols, rows)
	case cols.has("sku") && cols.has("category") && cols.has("name"):
		batch, errs = parseMagentoGear(name, cols, rows)
	default:
		return nil, nil, errors.New("header matches no Magento layout: expected sku with product_type or category, sku with rating_value, or identifier with content (fix: pass a Magento sample-data CSV, or choose another --format)")
	}
	return batch, append(rowErrs, errs...), nil
}

// magentoColumns are the catalog import columns the parser reads.
type magentoColumns struct {
	sku, storeView, attributeSet, productType, categories, name, description, shortDescription,
	online, price, specialPrice, urlKey, baseImage, attributes, qty, inStock, manageStock,
	useConfigManageStock, variations column
}

func newMagentoColumns(cols columns) magentoColumns {
	return magentoColumns{
		sku:                  cols.find("sku"),
		storeView:            cols.find("store_view_code"),
		attributeSet:         cols.find("attribute_set_code"),
		productType:          cols.find("product_type"),
		categories:           cols.find("categories"),
		name:                 cols.find("name"),
		description:          cols.find("description"),
		shortDescription:     cols.find("short_description"),
		online:               cols.find("product_online"),
		price:                cols.find("price"),
		specialPrice:         cols.find("special_price"),
		urlKey:               cols.find("url_key"),
		baseImage:            cols.find("base_image"),
		attributes:           cols.find("additional_attributes"),
		qty:                  cols.find("qty"),
		inStock:              cols.find("is_in_stock"),
		manageStock:          cols.find("manage_stock"),
		useConfigManageStock: cols.find("use_config_manage_stock"),
		variations:           cols.find("configurable_variations"),
	}
}

// parseMagentoCatalog parses the catalog import layout. Each configurable
// row becomes a product whose variants are the simple rows named in its
// configurable_variations. Simple rows that no configurable names become
// products of their own. Rows for a store view (store_view_code set) only
// translate the default row and are skipped.
func parseMagentoCatalog(name string, cols columns, rows []csvRow) (*Batch, []RowError) {
	c := newMagentoColumns(cols)
	var rowErrs []RowError

	var parents []csvRow
	simples := map[string]csvRow{}
	var simpleOrder []string
	for _, row := range rows {
		if isBlank(row.Record) || c.storeView.value(row.Record) != "" {
			continue
		}
		sku := c.sku.value(row.Record)
		if sku == "" {
			rowErrs = append(rowErrs, rowError(origin{File: name, Line: row.Line}, c.sku.Name, "",
				errors.New("missing sku"), "give every product row its SKU"))
			continue
		}
		switch strings.ToLower(c.productType.value(row.Record)) {
		case "configurable":
			parents = append(parents, row)
		case "simple", "virtual", "":
			simples[sku] = row
			simpleOrder = append(simpleOrder, sku)
		default:
			rowErrs = append(rowErrs, rowError(origin{File: name, Line: row.Line}, c.productType.Name, c.productType.value(row.Record),
				fmt.Errorf("unsupported product type %q", c.productType.value(row.Record)),
				"import bundle and grouped products through the simple products they contain"))
		}
	}

	batch := &Batch{}
	used := map[string]bool{}
	for _, row := range parents {
		at := origin{File: name, Line: row.Line}
		p := c.product(row.Record)
		for _, entry := range parseVariations(c.variations.value(row.Record)) {
			child, ok := simples[entry.sku]
			if !ok {
				rowErrs = append(rowErrs, rowError(at, c.variations.Name, entry.sku,
					fmt.Errorf("no simple product row with sku %q", entry.sku),
					"add the child row to the file, or remove it from configurable_variations"))
				continue
			}
			used[entry.sku] = true
			v, rowErr := c.variant(child, entry.options, row.Record, origin{File: name, Line: child.Line})
			if rowErr != nil {
				rowErrs = append(rowErrs, *rowErr)
				continue
			}
			p.Variants = append(p.Variants, v)
		}
		batch.addProduct(at, p)
	}

	for _, sku := range simpleOrder {
		if used[sku] {
			continue
		}
		row := simples[sku]
		at := origin{File: name, Line: row.Line}
		p := c.product(row.Record)
		v, rowErr := c.variant(row, magentoVariantOptions(c.attributes.value(row.Record)), nil, at)
		if rowErr != nil {
			rowErrs = append(rowErrs, *rowErr)
			continue
		}
		p.Variants = []salesagent.Variant{v}
		batch.addProduct(at, p)
	}
	return batch, rowErrs
}

// product builds the product fields of a catalog row.
func (c magentoColumns) product(record []string) salesagent.Product {
	title := cleanName(c.name.value(record))
	// NOTE: base_image is a path such as /m/j/mj01-yellow_main.jpg relative
	// to the store's catalog media folder, not a full URL, and is kept as is.
	p := salesagent.Product{
		ExternalID: c.sku.value(record),
		Handle:     c.urlKey.value(record),
		Title:      title,
		ImageURL:   c.baseImage.value(record),
	}
	if p.Handle == "" {
		p.Handle = slugify(title)
	}

	description := c.description.value(record)
	if description == "" {
		description = c.shortDescription.value(record)
	}
	p.Description = htmlToText(description)

	applyCategories(&p, strings.Split(c.categories.value(record), ","), c.attributeSet.value(record))
	for _, attr := range parseAdditionalAttributes(c.attributes.value(record)) {
		switch attr.Name {
		case "has_options", "required_options", "size", "color":
			continue // import bookkeeping, or options that live on the variants
		}
		setAttribute(&p, attr.Name, cleanName(strings.ReplaceAll(attr.Value, "|", ", ")))
	}
	return p
}

// variant builds a variant from a simple row. When the row has no price,
// the parent row's price and special price apply.
func (c magentoColumns) variant(row csvRow, options []salesagent.Option, parent []string, at origin) (salesagent.Variant, *RowError) {
	record := row.Record
	sku := c.sku.value(record)
	v := salesagent.Variant{ExternalID: sku, SKU: sku, Options: options}

	values := make([]string, len(options))
	for i, o := range options {
		values[i] = o.Value
	}
	v.Title = strings.Join(values, " / ")

	priceRecord := record
	if c.price.value(record) == "" && parent != nil {
		priceRecord = parent
	}
	price, compareAt, rowErr := magentoPrice(at, c.price.Name, c.price.value(priceRecord), c.specialPrice.Name, c.specialPrice.value(priceRecord))
	if rowErr != nil {
		return v, rowErr
	}
	v.Price, v.CompareAtPrice = price, compareAt

	stock, rowErr := magentoStock(at, c.qty.Name, c.qty.value(record))
	if rowErr != nil {
		return v, rowErr
	}
	if c.manageStock.value(record) == "0" && c.useConfigManageStock.value(record) == "0" {
		stock = nil // stock management switched off for this product
	}
	v.Stock = stock
	v.Available = c.inStock.value(record) != "0" && c.online.value(record) != "2" && c.online.value(record) != "0"
	return v, nil
}

// magentoPrice parses a price and an optional special (sale) price. A
// special price below the price becomes the price, with the regular price
// kept as the compare-at price.
//
// TODO: special_price_from_date and special_price_to_date are ignored, so a
// sale price is treated as always active.
func magentoPrice(at origin, priceField, rawPrice, specialField, rawSpecial string) (salesagent.Money, *salesagent.Money, *RowError) {
	if rawPrice == "" {
		e := rowError(at, priceField, "", errors.New("missing price"), "set the price, such as 34.00")
		return 0, nil, &e
	}
	price, err := salesagent.ParseMoney(rawPrice)
	if err != nil {
		e := rowError(at, priceField, rawPrice, err, "write the price as a decimal number such as 34.00")
		return 0, nil, &e
	}
	if rawSpecial == "" {
		return price, nil, nil
	}
	special, err := salesagent.ParseMoney(rawSpecial)
	if err != nil {
		e := rowError(at, specialField, rawSpecial, err, "write the special price as a decimal number such as 29.00, or leave it empty")
		return 0, nil, &e
	}
	if special >= price {
		return price, nil, nil
	}
	regular := price
	return special, &regular, nil
}

// magentoStock parses the qty column, which Magento writes as "100" or
// "100.0000".
// An empty qty means stock is not given.
func magentoStock(at origin, field, raw string) (*int, *RowError) {
	if raw == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != float64(int(f)) {
		e := rowError(at, field, raw, fmt.Errorf("invalid quantity %q", raw), "write a whole number such as 100")
		return nil, &e
	}
	n := int(f)
	return &n, nil
}

// variation is one entry of configurable_variations: a child SKU and its
// option values.
type variation struct {
	sku     string
	options []salesagent.Option
}

// parseVariations parses "sku=MH01-XS-Black,size=XS,color=Black|sku=...".
func parseVariations(s string) []variation {
	var out []variation
	for _, entry := range splitList(s, "|") {
		var v variation
		for _, pair := range parseAdditionalAttributes(entry) {
			if pair.Name == "sku" {
				v.sku = pair.Value
				continue
			}
			v.options = append(v.options, salesagent.Option{Name: titleCase(pair.Name), Value: pair.Value})
		}
		if v.sku != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseAdditionalAttributes parses "k=v,k=v". A piece without "=" belongs
// to the previous value, which then contained a comma.
func parseAdditionalAttributes(s string) []salesagent.Option {
	var out []salesagent.Option
	for _, piece := range strings.Split(s, ",") {
		key, value, ok := strings.Cut(piece, "=")
		if !ok {
			if len(out) > 0 {
				out[len(out)-1].Value += "," + piece
			}
			continue
		}
		key = strings.TrimSpace(key)
		if key != "" {
			out = append(out, salesagent.Option{Name: key, Value: strings.TrimSpace(value)})
		}
	}
	return out
}

// magentoVariantOptions returns the size and colour of a standalone simple
// product from its additional attributes.
func magentoVariantOptions(attributes string) []salesagent.Option {
	var out []salesagent.Option
	for _, attr := range parseAdditionalAttributes(attributes) {
		if attr.Name == "size" || attr.Name == "color" {
			out = append(out, salesagent.Option{Name: titleCase(attr.Name), Value: attr.Value})
		}
	}
	return out
}

// applyCategories derives the product type, gender, category and tags from
// category paths such as "Default Category/Men/Tops/Jackets". The product
// type is the last segment of the longest path outside the "Collections"
// and "Promotions" trees. The leaves of those two trees become tags. The
// attribute set is the product type when no other path is left.
func applyCategories(p *salesagent.Product, paths []string, attributeSet string) {
	var best []string
	seenTags := map[string]bool{}
	for _, path := range paths {
		segments := splitList(path, "/")
		if len(segments) > 0 && segments[0] == "Default Category" {
			segments = segments[1:]
		}
		if len(segments) == 0 {
			continue
		}
		switch segments[0] {
		case "Collections", "Promotions":
			leaf := segments[len(segments)-1]
			if len(segments) > 1 && !seenTags[leaf] {
				seenTags[leaf] = true
				p.Tags = append(p.Tags, leaf)
			}
			continue
		}
		if len(segments) > len(best) {
			best = segments
		}
	}

	if len(best) == 0 {
		p.ProductType = attributeSet
		return
	}
	p.ProductType = best[len(best)-1]
	setAttribute(p, "category", strings.Join(best, "/"))
	switch best[0] {
	case "Men", "Women":
		setAttribute(p, "gender", best[0])
	}
}

// cleanName decodes entities such as "&trade;" and trims the name.
func cleanName(s string) string {
	return strings.TrimSpace(html.UnescapeString(s))
}
