package ingest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// review is one Magento product review waiting for its product.
type review struct {
	at     origin
	sku    string
	rating int
	title  string
}

// parseMagentoReviews reads products_reviews.csv. The reviews are attached
// to products by SKU once all files are parsed.
func parseMagentoReviews(name string, cols columns, rows []csvRow) (*Batch, []RowError) {
	skuCol, ratingCol, titleCol := cols.find("sku"), cols.find("rating_value"), cols.find("title")
	batch := &Batch{}
	var rowErrs []RowError
	for _, row := range rows {
		if isBlank(row.Record) {
			continue
		}
		at := origin{File: name, Line: row.Line}
		sku := skuCol.value(row.Record)
		if sku == "" {
			rowErrs = append(rowErrs, rowError(at, skuCol.Name, "", errors.New("missing sku"), "give every review the SKU of its product"))
			continue
		}
		raw := ratingCol.value(row.Record)
		rating, err := strconv.Atoi(raw)
		if err != nil || rating < 1 || rating > 5 {
			rowErrs = append(rowErrs, rowError(at, ratingCol.Name, raw, fmt.Errorf("invalid rating %q", raw), "write a whole number from 1 to 5"))
			continue
		}
		batch.reviews = append(batch.reviews, review{at: at, sku: sku, rating: rating, title: cleanName(titleCol.value(row.Record))})
	}
	return batch, rowErrs
}

// magentoDirective matches template directives such as {{store url="contact"}}.
var magentoDirective = regexp.MustCompile(`\{\{[^}]*\}\}`)

// parseMagentoPages reads CMS pages. Each page is cut at its h1 to h3
// headings into documents. The Customer Service page and pages whose
// identifier contains "policy" are policies, and the rest are store pages. Inactive
// and empty pages are skipped.
func parseMagentoPages(name string, cols columns, rows []csvRow) (*Batch, []RowError) {
	titleCol, idCol, contentCol, activeCol := cols.find("title"), cols.find("identifier"), cols.find("content"), cols.find("is_active")
	batch := &Batch{}
	keys := map[string]int{}
	for _, row := range rows {
		if isBlank(row.Record) || activeCol.value(row.Record) == "0" {
			continue
		}
		content := magentoDirective.ReplaceAllString(contentCol.value(row.Record), "")
		if strings.TrimSpace(content) == "" {
			continue
		}
		identifier := idCol.value(row.Record)
		pageTitle := cleanName(titleCol.value(row.Record))
		if identifier == "" {
			identifier = slugify(pageTitle)
		}
		kind := salesagent.KindPage
		if identifier == "customer-service" || strings.Contains(identifier, "policy") {
			kind = salesagent.KindPolicy
		}

		for _, sec := range splitHTML(content, 3) {
			if sec.Body == "" {
				continue
			}
			title := sec.Title
			if title == "" {
				title = pageTitle
			}
			batch.addDocument(origin{File: name, Line: row.Line}, salesagent.Document{
				Kind:   kind,
				Source: name,
				Key:    uniqueKey(keys, identifier+"/"+slugify(title)),
				Title:  title,
				Body:   sec.Body,
			})
		}
	}
	return batch, nil
}
