package ingest

import (
	"errors"
	"strings"

	"github.com/salesagent/salesagent"
)

// gearFields are the columns of the simple gear layout that are not copied
// into Product.Attributes.
var gearFields = map[string]bool{
	"category": true, "name": true, "sku": true, "price": true, "qty": true, "description": true,
	"special_price": true, "attribute_set": true, "visibility": true, "url_key": true,
	"size": true, "color": true,
}

// gearGroup is the rows of one product name.
type gearGroup struct {
	name string
	rows []csvRow
}

// parseMagentoGear parses the simple gear layout, where multi-values and
// category paths are newline-separated inside a cell. Rows sharing a name
// (the stasis balls, one row per colour) become one product with a variant
// per row, and the size and color columns become variant options.
func parseMagentoGear(name string, cols columns, rows []csvRow) (*Batch, []RowError) {
	var rowErrs []RowError
	if cols.has("bundle_options") || cols.has("associated_sku") {
		for _, row := range rows {
			rowErrs = append(rowErrs, rowError(origin{File: name, Line: row.Line}, "sku", "",
				errors.New("bundle and grouped products are not imported"),
				"import the simple products the bundle or group is made of"))
		}
		return &Batch{}, rowErrs
	}

	nameCol, skuCol := cols.find("name"), cols.find("sku")
	var groups []*gearGroup
	byName := map[string]*gearGroup{}
	for _, row := range rows {
		if isBlank(row.Record) {
			continue
		}
		if skuCol.value(row.Record) == "" {
			rowErrs = append(rowErrs, rowError(origin{File: name, Line: row.Line}, skuCol.Name, "",
				errors.New("missing sku"), "give every product row its SKU"))
			continue
		}
		productName := cleanName(nameCol.value(row.Record))
		g := byName[productName]
		if g == nil {
			g = &gearGroup{name: productName}
			byName[productName] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, row)
	}

	batch := &Batch{}
	for _, g := range groups {
		p, errs := gearProduct(name, cols, g)
		rowErrs = append(rowErrs, errs...)
		batch.addProduct(origin{File: name, Line: g.rows[0].Line}, p)
	}
	return batch, rowErrs
}

// gearProduct builds one product from a group of rows.
func gearProduct(file string, cols columns, g *gearGroup) (salesagent.Product, []RowError) {
	first := g.rows[0].Record
	sku, urlKey := cols.find("sku"), cols.find("url_key")
	p := salesagent.Product{
		Title:       g.name,
		Description: htmlToText(cols.find("description").value(first)),
	}

	if len(g.rows) == 1 {
		p.ExternalID = sku.value(first)
		p.Handle = slugify(urlKey.value(first))
	} else {
		skus := make([]string, len(g.rows))
		for i, row := range g.rows {
			skus[i] = sku.value(row.Record)
		}
		p.ExternalID = commonSKUPrefix(skus)
	}
	if p.Handle == "" {
		p.Handle = slugify(g.name)
	}

	applyCategories(&p, gearCategoryPaths(cols.find("category").value(first)), cols.find("attribute_set").value(first))
	for i, header := range cols.names {
		key := strings.ToLower(strings.TrimSpace(header))
		if gearFields[key] || i >= len(first) {
			continue
		}
		setAttribute(&p, key, gearAttributeValue(first[i]))
	}

	var rowErrs []RowError
	for _, row := range g.rows {
		v, rowErr := gearVariant(file, cols, row)
		if rowErr != nil {
			rowErrs = append(rowErrs, *rowErr)
			continue
		}
		p.Variants = append(p.Variants, v)
	}
	return p, rowErrs
}

// gearVariant builds the variant of one gear row.
func gearVariant(file string, cols columns, row csvRow) (salesagent.Variant, *RowError) {
	at := origin{File: file, Line: row.Line}
	record := row.Record
	sku := cols.find("sku").value(record)
	v := salesagent.Variant{ExternalID: sku, SKU: sku, Available: true}

	var values []string
	for _, optionName := range []string{"size", "color"} {
		if value := cols.find(optionName).value(record); value != "" {
			v.Options = append(v.Options, salesagent.Option{Name: titleCase(optionName), Value: value})
			values = append(values, value)
		}
	}
	v.Title = strings.Join(values, " / ")

	priceCol, specialCol := cols.find("price"), cols.find("special_price")
	price, compareAt, rowErr := magentoPrice(at, priceCol.Name, priceCol.value(record), specialCol.Name, specialCol.value(record))
	if rowErr != nil {
		return v, rowErr
	}
	v.Price, v.CompareAtPrice = price, compareAt

	qtyCol := cols.find("qty")
	stock, rowErr := magentoStock(at, qtyCol.Name, qtyCol.value(record))
	if rowErr != nil {
		return v, rowErr
	}
	v.Stock = stock
	return v, nil
}

// gearCategoryPaths turns the newline list "Gear⏎Bags⏎Collections⏎Erin
// Recommends", which holds parent and child names in pairs, into the paths
// "Gear/Bags" and "Collections/Erin Recommends".
func gearCategoryPaths(cell string) []string {
	lines := splitList(cell, "\n")
	var paths []string
	for i := 0; i+1 < len(lines); i += 2 {
		paths = append(paths, lines[i]+"/"+lines[i+1])
	}
	if len(lines)%2 == 1 {
		paths = append(paths, lines[len(lines)-1])
	}
	return paths
}

// gearAttributeValue joins a newline-separated multi-value with commas and
// spells the 1/0 flags as Yes/No, as the catalog layout does.
func gearAttributeValue(cell string) string {
	switch strings.TrimSpace(cell) {
	case "1":
		return "Yes"
	case "0":
		return "No"
	}
	return cleanName(strings.Join(splitList(cell, "\n"), ", "))
}

// commonSKUPrefix returns the longest prefix all SKUs share, without
// trailing separators: "24-WG081-gray" and "24-WG081-blue" give "24-WG081".
// Without a shared prefix it returns the first SKU.
func commonSKUPrefix(skus []string) string {
	prefix := skus[0]
	for _, sku := range skus[1:] {
		for !strings.HasPrefix(sku, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	prefix = strings.TrimRight(prefix, "-_ ")
	if prefix == "" {
		return skus[0]
	}
	return prefix
}
