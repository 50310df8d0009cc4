// Package ingest parses store export files into catalog, document, customer
// and order values. It only reads files: storing the result is the caller's
// job.
//
// Supported inputs are Shopify product exports (products.json and both
// product CSV layouts), Magento 2 import CSVs, WooCommerce REST API JSON
// (products, customers and orders), JSON FAQs, Markdown FAQs, policies and
// size guides, and the τ-bench retail data directory. A bad row is reported
// as a RowError and skipped while the rest of the file still loads.
package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/salesagent/salesagent"
)

// Format names an input layout. The values double as the --format flag of
// the ingest command.
type Format string

// Supported formats.
const (
	// FormatShopifyJSON is a Shopify products.json export ({"products":[...]}),
	// a single {"product":{...}} body or a bare product object.
	FormatShopifyJSON Format = "shopify-json"
	// FormatShopifyCSV is a Shopify product CSV in the 2023 or the 2024
	// column layout.
	FormatShopifyCSV Format = "shopify-csv"
	// FormatMagentoCSV is a Magento 2 sample-data import CSV: configurable
	// products, simple gear products, product reviews or CMS pages.
	FormatMagentoCSV Format = "magento-csv"
	// FormatFAQMarkdown is Markdown with one FAQ entry per heading.
	FormatFAQMarkdown Format = "faq-md"
	// FormatFAQJSON is a JSON FAQ: {"questions": [{"question": "...",
	// "answer": "..."}]} or a bare array of such objects.
	FormatFAQJSON Format = "faq-json"
	// FormatPolicyMarkdown is Markdown with one policy section per heading.
	FormatPolicyMarkdown Format = "policy-md"
	// FormatSizeGuideMarkdown is Markdown with one "## <product type>"
	// heading per size guide, each followed by a table and optional notes.
	FormatSizeGuideMarkdown Format = "size-guide-md"
	// FormatWooCommerceJSON is a WooCommerce REST API v3 response or
	// webhook body: one product, customer or order, or an array of them.
	FormatWooCommerceJSON Format = "woocommerce-json"
	// FormatTauBench is the τ-bench retail data: products.json, users.json
	// and orders.json, plus the policy in the sibling wiki.md.
	FormatTauBench Format = "tau-bench"
)

// Formats lists every supported format in the order help text shows them.
var Formats = []Format{
	FormatShopifyJSON, FormatShopifyCSV, FormatMagentoCSV, FormatWooCommerceJSON,
	FormatFAQMarkdown, FormatFAQJSON, FormatPolicyMarkdown, FormatSizeGuideMarkdown,
	FormatTauBench,
}

// formatList returns the format names joined for error messages.
func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// validFormat reports whether f is one of Formats.
func validFormat(f Format) bool {
	for _, known := range Formats {
		if f == known {
			return true
		}
	}
	return false
}

// Batch is everything parsed from one or more files.
type Batch struct {
	Products  []salesagent.Product
	Documents []salesagent.Document
	Customers []salesagent.Customer
	Orders    []Order

	// Notices describe changes made to rows that were still loaded, such
	// as a repeated product handle made unique, one line each.
	Notices []string

	// SkippedReviews counts the reviews whose SKU no product in the batch
	// has. They are kept out of the RowErrors because dropping them loses
	// no product, so they must not stop the ingest command's --prune.
	SkippedReviews SkippedReviews

	// Origins run parallel to the exported slices, so duplicates found
	// after merging can name the file and line they came from.
	productOrigins  []origin
	documentOrigins []origin
	customerOrigins []origin
	orderOrigins    []origin

	// reviews wait here until the products they belong to are known,
	// because Magento keeps reviews in their own file.
	reviews []review
}

// Order is an order with the external id of its customer, which the caller
// resolves to a stored customer.
type Order struct {
	salesagent.Order
	CustomerExternalID string
	// CustomerEmail is the checkout email of a guest order, one without a
	// customer id. ParseFile and ParsePaths set CustomerExternalID from the
	// customer of the batch with this email, when there is one.
	CustomerEmail string
}

// origin is the file and line an item was parsed from.
type origin struct {
	File string
	Line int
}

func (b *Batch) addProduct(at origin, p salesagent.Product) {
	b.Products = append(b.Products, p)
	b.productOrigins = append(b.productOrigins, at)
}

func (b *Batch) addDocument(at origin, d salesagent.Document) {
	b.Documents = append(b.Documents, d)
	b.documentOrigins = append(b.documentOrigins, at)
}

func (b *Batch) addCustomer(at origin, c salesagent.Customer) {
	b.Customers = append(b.Customers, c)
	b.customerOrigins = append(b.customerOrigins, at)
}

func (b *Batch) addOrder(at origin, o Order) {
	b.Orders = append(b.Orders, o)
	b.orderOrigins = append(b.orderOrigins, at)
}

// merge appends everything in src to b.
func (b *Batch) merge(src *Batch) {
	for i, p := range src.Products {
		b.addProduct(originAt(src.productOrigins, i), p)
	}
	for i, d := range src.Documents {
		b.addDocument(originAt(src.documentOrigins, i), d)
	}
	for i, c := range src.Customers {
		b.addCustomer(originAt(src.customerOrigins, i), c)
	}
	for i, o := range src.Orders {
		b.addOrder(originAt(src.orderOrigins, i), o)
	}
	b.reviews = append(b.reviews, src.reviews...)
}

// CustomerOrigin returns the file and line b.Customers[i] was read from,
// as "customers.json line 4", or "" when they are not known.
func (b *Batch) CustomerOrigin(i int) string {
	at := originAt(b.customerOrigins, i)
	if at.Line > 0 {
		return fmt.Sprintf("%s line %d", at.File, at.Line)
	}
	return at.File
}

// originAt returns origins[i], or an empty origin when a caller has changed
// the exported slices so the two no longer line up.
func originAt(origins []origin, i int) origin {
	if i < len(origins) {
		return origins[i]
	}
	return origin{}
}

// RowError is one bad row, object or section that was skipped. The other
// rows of the file still load.
type RowError struct {
	File  string
	Line  int
	Field string
	Value string
	Err   error
}

// Error formats the error as in
// `products.csv line 14, field "Variant Price": invalid price "abc": ... (fix: ...)`.
func (e RowError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Field != "" {
		if e.File != "" || e.Line > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " field %q", e.Field)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		fmt.Fprintf(&b, "invalid value %q", e.Value)
	}
	return strings.TrimPrefix(b.String(), " ")
}

// Unwrap returns the underlying error.
func (e RowError) Unwrap() error { return e.Err }

// withFix appends a hint telling the user how to correct the input.
func withFix(err error, fix string) error {
	return fmt.Errorf("%w (fix: %s)", err, fix)
}

// rowError builds a RowError whose message ends with a fix hint.
func rowError(at origin, field, value string, err error, fix string) RowError {
	return RowError{File: at.File, Line: at.Line, Field: field, Value: value, Err: withFix(err, fix)}
}

// ParseFile parses one file, or one τ-bench or Magento directory, in the
// given format. An empty format is detected with Detect. It returns an error
// only when the input as a whole cannot be read. Bad rows come back as
// RowErrors while the good rows load.
func ParseFile(path string, format Format) (*Batch, []RowError, error) {
	if format == "" {
		detected, err := Detect(path)
		if err != nil {
			return nil, nil, err
		}
		format = detected
	}

	batch, rowErrs, err := parsePath(path, format)
	if err != nil {
		return nil, nil, err
	}

	rowErrs = append(rowErrs, batch.finish()...)
	return batch, rowErrs, nil
}

// ParsePaths parses files and directories and merges the results. A
// directory is a Magento raw directory, a τ-bench data directory, or a plain
// directory whose files are each detected (hidden files, README, LICENSE and
// SOURCE.md files and unsupported extensions are skipped). A non-empty
// override is used for every file instead of detection. progress, when not
// nil, is called after each file with the number done and the total.
//
// Files given by path that cannot be detected are an error, and so is any
// file that cannot be read or parsed as a whole. Files found in a plain
// directory whose format cannot be detected become RowErrors. Duplicates
// across files (product id, variant SKU, document key, customer id or
// email, order number) are reported as RowErrors and the later copy is
// dropped. A repeated product handle gets the product id appended.
func ParsePaths(paths []string, override Format, progress func(done, total int)) (*Batch, []RowError, error) {
	if override != "" && !validFormat(override) {
		return nil, nil, fmt.Errorf("unknown format %q (fix: use one of %s)", override, formatList())
	}

	var jobs []job
	var rowErrs []RowError
	for _, path := range paths {
		found, skipped, err := expand(path, override)
		if err != nil {
			return nil, nil, err
		}
		jobs = append(jobs, found...)
		rowErrs = append(rowErrs, skipped...)
	}

	batch := &Batch{}
	for i, j := range jobs {
		part, errs, err := parsePath(j.path, j.format)
		if err != nil {
			return nil, nil, err
		}
		batch.merge(part)
		rowErrs = append(rowErrs, errs...)
		if progress != nil {
			progress(i+1, len(jobs))
		}
	}

	rowErrs = append(rowErrs, batch.finish()...)
	return batch, rowErrs, nil
}

// parser parses the content of one file. The name is the file's base name,
// used in RowErrors and as Document.Source.
type parser func(name string, data []byte) (*Batch, []RowError, error)

var parsers = map[Format]parser{
	FormatShopifyJSON:       parseShopifyJSON,
	FormatShopifyCSV:        parseShopifyCSV,
	FormatMagentoCSV:        parseMagentoCSV,
	FormatWooCommerceJSON:   parseWooCommerceJSON,
	FormatFAQMarkdown:       parseFAQMarkdown,
	FormatFAQJSON:           parseFAQJSON,
	FormatPolicyMarkdown:    parsePolicyMarkdown,
	FormatSizeGuideMarkdown: parseSizeGuideMarkdown,
	FormatTauBench:          parseTauBenchFile,
}

// parsePath parses one file, or a τ-bench or Magento directory, without the
// final cross-file checks.
func parsePath(path string, format Format) (*Batch, []RowError, error) {
	parse, ok := parsers[format]
	if !ok {
		return nil, nil, fmt.Errorf("parse %s: unknown format %q (fix: use one of %s)", path, format, formatList())
	}

	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if info.IsDir() {
		return parseDir(path, format)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	batch, rowErrs, err := parse(filepath.Base(path), data)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s as %s: %w", path, format, err)
	}
	return batch, rowErrs, nil
}

// parseDir parses the files of a τ-bench or Magento directory.
func parseDir(dir string, format Format) (*Batch, []RowError, error) {
	var jobs []job
	var err error
	switch format {
	case FormatTauBench:
		jobs, err = tauBenchJobs(dir)
	case FormatMagentoCSV:
		jobs, err = magentoJobs(dir)
	default:
		err = fmt.Errorf("%s is a directory but format %s reads single files (fix: pass the files, or use ParsePaths to detect each one)", dir, format)
	}
	if err != nil {
		return nil, nil, err
	}

	batch := &Batch{}
	var rowErrs []RowError
	for _, j := range jobs {
		part, errs, err := parsePath(j.path, j.format)
		if err != nil {
			return nil, nil, err
		}
		batch.merge(part)
		rowErrs = append(rowErrs, errs...)
	}
	return batch, rowErrs, nil
}
