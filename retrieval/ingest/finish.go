package ingest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/salesagent/salesagent"
)

// maxReviewTitles caps the review titles quoted in a product's
// review_summary attribute.
const maxReviewTitles = 5

// finish attaches reviews to their products, counting those of unknown
// products in b.SkippedReviews, and removes duplicates that
// storage would reject: a repeated product id, variant SKU, document key,
// customer id or email, or order number. The later copy is dropped with a
// RowError. A repeated product handle is made unique instead, by appending
// the product id. Guest orders are then linked to customers by email.
func (b *Batch) finish() []RowError {
	var rowErrs []RowError
	rowErrs = append(rowErrs, b.dedupeProducts()...)
	b.attachReviews()
	rowErrs = append(rowErrs, b.dedupeDocuments()...)
	rowErrs = append(rowErrs, b.dedupeCustomers()...)
	b.linkGuestOrders()
	rowErrs = append(rowErrs, b.dedupeOrders()...)
	return rowErrs
}

// linkGuestOrders gives each order without a customer id the external id
// of the batch customer whose email matches the order's CustomerEmail, as
// WooCommerce links past guest orders to an account registered with their
// email. The order_status tool can then show the order to that customer.
// An order whose email no customer of the batch has keeps CustomerEmail,
// which the ingest command looks up among the customers already stored.
func (b *Batch) linkGuestOrders() {
	byEmail := map[string]string{}
	for _, c := range b.Customers {
		if c.Email != "" && c.ExternalID != "" {
			byEmail[strings.ToLower(c.Email)] = c.ExternalID
		}
	}
	for i := range b.Orders {
		o := &b.Orders[i]
		if o.CustomerExternalID != "" || o.CustomerEmail == "" {
			continue
		}
		if id, ok := byEmail[strings.ToLower(o.CustomerEmail)]; ok {
			o.CustomerExternalID = id
		}
	}
}

// duplicate builds the RowError for an item dropped as a repeat.
func duplicate(at, first origin, field, value, itemKind string) RowError {
	where := first.File
	if first.Line > 0 {
		where = fmt.Sprintf("%s line %d", first.File, first.Line)
	}
	return rowError(at, field, value, fmt.Errorf("duplicate %s %q, first seen in %s, so this copy is skipped", itemKind, value, where),
		"give each "+itemKind+" a unique value, or import each file once")
}

func (b *Batch) dedupeProducts() []RowError {
	var rowErrs []RowError
	ids := map[string]origin{}
	handles := map[string]bool{}
	skus := map[string]origin{}

	var products []salesagent.Product
	var origins []origin
	for i, p := range b.Products {
		at := originAt(b.productOrigins, i)
		if first, dup := ids[p.ExternalID]; dup {
			rowErrs = append(rowErrs, duplicate(at, first, "id", p.ExternalID, "product id"))
			continue
		}
		ids[p.ExternalID] = at

		if p.Handle == "" {
			p.Handle = slugify(p.Title + " " + p.ExternalID)
		}
		if handles[p.Handle] {
			taken := p.Handle
			base := p.Handle + "-" + slugify(p.ExternalID)
			p.Handle = base
			for n := 2; handles[p.Handle]; n++ {
				p.Handle = base + "-" + strconv.Itoa(n)
			}
			where := at.File
			if at.Line > 0 {
				where += fmt.Sprintf(" line %d", at.Line)
			}
			b.Notices = append(b.Notices, fmt.Sprintf("%s: handle %q of product %s is taken by an earlier product, so it is stored as %q (fix: give each product its own handle)",
				where, taken, p.ExternalID, p.Handle))
		}
		handles[p.Handle] = true

		variants := p.Variants[:0:0]
		for _, v := range p.Variants {
			if first, dup := skus[v.SKU]; dup {
				rowErrs = append(rowErrs, duplicate(at, first, "sku", v.SKU, "variant SKU"))
				continue
			}
			if v.Price < 0 || (v.CompareAtPrice != nil && *v.CompareAtPrice < 0) {
				rowErrs = append(rowErrs, rowError(at, "price", v.Price.String(),
					fmt.Errorf("negative price on variant %q", v.SKU), "write a price of zero or more"))
				continue
			}
			if rowErr, tooHigh := priceAboveMax(at, "price", v.Price, "price of variant "+strconv.Quote(v.SKU)); tooHigh {
				rowErrs = append(rowErrs, rowErr)
				continue
			}
			if v.CompareAtPrice != nil {
				if rowErr, tooHigh := priceAboveMax(at, "compare_at_price", *v.CompareAtPrice, "compare-at price of variant "+strconv.Quote(v.SKU)); tooHigh {
					rowErrs = append(rowErrs, rowErr)
					continue
				}
			}
			skus[v.SKU] = at
			variants = append(variants, v)
		}
		p.Variants = variants
		// A product whose every variant was rejected, each with its own
		// RowError, has nothing to sell: storing it would only show an
		// empty product page.
		if len(p.Variants) == 0 {
			continue
		}

		products = append(products, p)
		origins = append(origins, at)
	}
	b.Products, b.productOrigins = products, origins
	return rowErrs
}

// maxStoredAmount is the largest amount the database stores: prices and
// order totals are numeric(12, 2) columns, which hold up to
// 9,999,999,999.99. A larger amount would make PostgreSQL reject the whole
// batch with "numeric field overflow", so it is a RowError instead.
const maxStoredAmount = salesagent.Money(999_999_999_999)

// priceAboveMax returns the RowError for an amount above maxStoredAmount,
// and false when the amount fits. what names the amount in the message,
// as in `price of variant "TEE-1"`.
func priceAboveMax(at origin, field string, amount salesagent.Money, what string) (RowError, bool) {
	if amount <= maxStoredAmount {
		return RowError{}, false
	}
	return rowError(at, field, amount.String(),
		fmt.Errorf("%s is %s, above the maximum of %s that can be stored", what, amount, maxStoredAmount),
		"correct the amount; it is read in the currency's main unit, not in cents"), true
}

// maxSkippedSKUsShown caps the example SKUs that SkippedReviews.String
// quotes.
const maxSkippedSKUsShown = 5

// SkippedReviews counts the reviews that were dropped because no product in
// the batch has their SKU.
type SkippedReviews struct {
	// Count is the number of reviews dropped.
	Count int
	// SKUs are the distinct unknown SKUs in the order first seen.
	SKUs []string
}

// String returns a one-line summary such as "skipped 3 reviews of 2
// products not loaded from these files (SKUs W-9, W-10) (fix: ...)", or ""
// when nothing was skipped.
func (s SkippedReviews) String() string {
	if s.Count == 0 {
		return ""
	}
	shown := s.SKUs[:min(len(s.SKUs), maxSkippedSKUsShown)]
	examples := strings.Join(shown, ", ")
	if more := len(s.SKUs) - len(shown); more > 0 {
		examples += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("skipped %s of %s not loaded from these files (%s %s) (fix: load the product files together with the reviews to keep them)",
		countNoun(s.Count, "review", "reviews"), countNoun(len(s.SKUs), "product", "products"),
		pluralWord(len(s.SKUs), "SKU", "SKUs"), examples)
}

// countNoun returns n followed by the singular or plural noun, as in
// "1 review" and "3 reviews".
func countNoun(n int, one, many string) string {
	return strconv.Itoa(n) + " " + pluralWord(n, one, many)
}

// pluralWord returns one when n is 1 and many otherwise.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// reviewStats sums the reviews of one product.
type reviewStats struct {
	count  int
	sum    int
	titles []string
}

// attachReviews stores each product's review count, mean rating and first
// review titles in its attributes "reviews", "rating" and "review_summary".
// Reviews are matched by product id or variant SKU. Reviews of a SKU that
// no product has are counted in b.SkippedReviews, not returned as
// RowErrors. Review files often cover products that were never exported,
// and skipping their reviews loses no product.
func (b *Batch) attachReviews() {
	if len(b.reviews) == 0 {
		return
	}
	bySKU := map[string]int{}
	for i, p := range b.Products {
		bySKU[p.ExternalID] = i
		for _, v := range p.Variants {
			if _, exists := bySKU[v.SKU]; !exists {
				bySKU[v.SKU] = i
			}
		}
	}

	stats := map[int]*reviewStats{}
	var order []int
	unknown := map[string]int{}
	var unknownOrder []string
	for _, r := range b.reviews {
		i, ok := bySKU[r.sku]
		if !ok {
			if unknown[r.sku] == 0 {
				unknownOrder = append(unknownOrder, r.sku)
			}
			unknown[r.sku]++
			continue
		}
		s := stats[i]
		if s == nil {
			s = &reviewStats{}
			stats[i] = s
			order = append(order, i)
		}
		s.count++
		s.sum += r.rating
		if len(s.titles) < maxReviewTitles && r.title != "" {
			s.titles = append(s.titles, fmt.Sprintf("%d/5 %q", r.rating, r.title))
		}
	}

	for _, i := range order {
		s := stats[i]
		p := &b.Products[i]
		if p.Attributes == nil {
			p.Attributes = map[string]string{}
		}
		p.Attributes["reviews"] = strconv.Itoa(s.count)
		p.Attributes["rating"] = strconv.FormatFloat(float64(s.sum)/float64(s.count), 'f', 1, 64)
		if len(s.titles) > 0 {
			p.Attributes["review_summary"] = strings.Join(s.titles, "; ")
		}
	}

	for _, sku := range unknownOrder {
		b.SkippedReviews.Count += unknown[sku]
		b.SkippedReviews.SKUs = append(b.SkippedReviews.SKUs, sku)
	}
	b.reviews = nil
}

func (b *Batch) dedupeDocuments() []RowError {
	var rowErrs []RowError
	seen := map[string]origin{}
	var docs []salesagent.Document
	var origins []origin
	for i, d := range b.Documents {
		at := originAt(b.documentOrigins, i)
		key := d.Kind + "\x00" + d.Key
		if first, dup := seen[key]; dup {
			rowErrs = append(rowErrs, duplicate(at, first, "key", d.Key, d.Kind+" document key"))
			continue
		}
		seen[key] = at
		docs = append(docs, d)
		origins = append(origins, at)
	}
	b.Documents, b.documentOrigins = docs, origins
	return rowErrs
}

func (b *Batch) dedupeCustomers() []RowError {
	var rowErrs []RowError
	ids := map[string]origin{}
	emails := map[string]origin{}
	var customers []salesagent.Customer
	var origins []origin
	for i, c := range b.Customers {
		at := originAt(b.customerOrigins, i)
		if first, dup := ids[c.ExternalID]; dup && c.ExternalID != "" {
			rowErrs = append(rowErrs, duplicate(at, first, "id", c.ExternalID, "customer id"))
			continue
		}
		email := strings.ToLower(c.Email)
		if first, dup := emails[email]; dup && email != "" {
			rowErrs = append(rowErrs, duplicate(at, first, "email", c.Email, "customer email"))
			continue
		}
		ids[c.ExternalID] = at
		emails[email] = at
		customers = append(customers, c)
		origins = append(origins, at)
	}
	b.Customers, b.customerOrigins = customers, origins
	return rowErrs
}

func (b *Batch) dedupeOrders() []RowError {
	var rowErrs []RowError
	seen := map[string]origin{}
	var orders []Order
	var origins []origin
	for i, o := range b.Orders {
		at := originAt(b.orderOrigins, i)
		if first, dup := seen[o.Number]; dup {
			rowErrs = append(rowErrs, duplicate(at, first, "number", o.Number, "order number"))
			continue
		}
		if rowErr, tooHigh := orderAmountAboveMax(at, o); tooHigh {
			rowErrs = append(rowErrs, rowErr)
			continue
		}
		seen[o.Number] = at
		orders = append(orders, o)
		origins = append(origins, at)
	}
	b.Orders, b.orderOrigins = orders, origins
	return rowErrs
}

// orderAmountAboveMax returns the RowError for an order whose total or a
// line price is above maxStoredAmount. Line prices are kept in a JSON
// column that has no such limit, but an order with a line price this high
// is as wrong as one with such a total.
func orderAmountAboveMax(at origin, o Order) (RowError, bool) {
	if o.Total != nil {
		if rowErr, tooHigh := priceAboveMax(at, "total", *o.Total, "total of order "+o.Number); tooHigh {
			return rowErr, true
		}
	}
	for i, item := range o.Items {
		what := fmt.Sprintf("price of line %d (%s) of order %s", i+1, item.Name, o.Number)
		if rowErr, tooHigh := priceAboveMax(at, fmt.Sprintf("items[%d].price", i), item.Price, what); tooHigh {
			return rowErr, true
		}
	}
	return RowError{}, false
}
