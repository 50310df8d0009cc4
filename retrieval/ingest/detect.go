package ingest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Detect returns the format of a file or directory. Directories are
// recognised when they hold the τ-bench files (products.json, users.json and
// orders.json, directly or under data/) or Magento sample-data modules
// (ConfigurableSampleData, CatalogSampleData, ReviewSampleData or
// CmsSampleData, directly or under raw/). Files are recognised by extension
// and content:
//
//   - .json: {"products":[...]}, {"product":{...}}, a bare product object or
//     an array of products with "variants" is Shopify. A WooCommerce REST
//     API product ("regular_price" or "stock_status"), customer ("billing",
//     "shipping" and "email") or order ("line_items" with "order_key"), or an
//     array of them, is WooCommerce. An object of τ-bench
//     products, users or orders keyed by id is τ-bench. A "questions" (or
//     "faqs" or "faq") array of objects with "question" and "answer", or a
//     bare array of them, is a JSON FAQ.
//   - .csv: a "Handle" or "URL handle" column is Shopify. Magento columns
//     (sku with product_type or category, rating_value, or identifier with
//     content) are Magento.
//   - .md and .markdown: a name containing "faq" is an FAQ, "size" a size
//     guide, and "polic", "terms", "shipping", "return", "privacy",
//     "warranty" or "wiki" a policy. Otherwise a file with a table is a size
//     guide, one whose headings are mostly questions is an FAQ, and the rest
//     are policies.
func Detect(path string) (Format, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}

	if info.IsDir() {
		if _, ok := tauBenchDataDir(path); ok {
			return FormatTauBench, nil
		}
		if _, ok := magentoRawDir(path); ok {
			return FormatMagentoCSV, nil
		}
		return "", unknownFormat(path, "directory is neither a τ-bench data directory nor a Magento sample-data directory")
	}

	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return detectJSON(path)
	case ".csv":
		return detectCSV(path)
	case ".md", ".markdown":
		return detectMarkdown(path)
	}
	return "", unknownExtension(path)
}

// unknownExtension builds the error for a file whose extension no layout
// uses. Markdown readers do not depend on the extension, so unlike
// unknownFormat it names the --format values that read Markdown text.
func unknownExtension(path string) error {
	ext := filepath.Ext(path)
	if ext == "" {
		ext = "(none)"
	}
	return fmt.Errorf("detect format of %s: file extension %s is not .json, .csv, .md or .markdown (supported layouts: %s); "+
		"if the file is Markdown text, rename it to .md or pass --format %s, %s or %s",
		path, ext, supportedLayouts, FormatFAQMarkdown, FormatPolicyMarkdown, FormatSizeGuideMarkdown)
}

// supportedLayouts names, for error messages, every layout Detect
// recognises.
const supportedLayouts = "Shopify products.json exports and product CSVs; " +
	"Magento 2 sample-data CSVs (products, gear, reviews, CMS pages) or their raw/ directory; " +
	"WooCommerce REST API v3 products, customers and orders (one object or an array); " +
	`JSON FAQs ({"questions": [{"question": "...", "answer": "..."}]} or a bare array of such objects); ` +
	"Markdown (.md) FAQs, policies and size guides; " +
	"the τ-bench retail data directory"

// unknownFormat builds the error Detect returns for a file or directory
// whose layout matches no supported one. No --format value reads such
// input, so the message lists the layouts instead of suggesting one.
func unknownFormat(path, reason string) error {
	return fmt.Errorf("detect format of %s: %s, so this is not a supported layout (supported layouts: %s)", path, reason, supportedLayouts)
}

// detectJSON reads the first keys of a JSON file to tell Shopify,
// WooCommerce, τ-bench and FAQ files apart.
func detectJSON(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	defer f.Close()

	dec := json.NewDecoder(f)
	tok, err := dec.Token()
	if err != nil {
		return "", invalidJSON(path, err)
	}

	if tok == json.Delim('[') {
		var first map[string]json.RawMessage
		if dec.More() {
			if err := dec.Decode(&first); err != nil && !isTypeError(err) {
				return "", invalidJSON(path, err)
			}
		}
		if first != nil {
			switch {
			case first["variants"] != nil:
				return FormatShopifyJSON, nil
			case wooKind(first) != "":
				return FormatWooCommerceJSON, nil
			case isFAQEntry(first):
				return FormatFAQJSON, nil
			}
		}
		return "", unknownFormat(path, `JSON array whose items are neither products with "variants", WooCommerce products, customers or orders, nor FAQ entries with "question" and "answer"`)
	}
	if tok != json.Delim('{') {
		return "", unknownFormat(path, "JSON is neither an object nor an array")
	}

	// A few keys are enough: exports put their telling keys first, and a
	// bare product has "variants" among its top-level fields. A WooCommerce
	// resource shows its kind by a combination of keys, so they are
	// collected.
	seen := map[string]json.RawMessage{}
	for i := 0; i < 64 && dec.More(); i++ {
		keyTok, err := dec.Token()
		if err != nil {
			return "", invalidJSON(path, err)
		}
		key, _ := keyTok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return "", invalidJSON(path, err)
		}
		switch key {
		case "products", "product", "variants", "body_html":
			return FormatShopifyJSON, nil
		}
		seen[key] = value
		if wooKind(seen) != "" {
			return FormatWooCommerceJSON, nil
		}
		if isFAQListKey(key) && isFAQList(value) {
			return FormatFAQJSON, nil
		}
		var entry map[string]json.RawMessage
		if json.Unmarshal(value, &entry) != nil {
			continue
		}
		if isTauBenchEntry(entry) {
			return FormatTauBench, nil
		}
	}
	return "", unknownFormat(path, "JSON keys match neither a Shopify export, a WooCommerce product, customer or order, τ-bench data nor a JSON FAQ")
}

// invalidJSON is the error for a file that is not valid JSON, as one cut
// short by an interrupted export.
func invalidJSON(path string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("the file ends before its JSON does")
	}
	return fmt.Errorf("read %s: invalid JSON: %v (fix: export the file again; it may be cut short or edited by hand)", path, err)
}

// isTypeError reports whether err is a JSON value of another type than
// expected, which still leaves the file's syntax valid.
func isTypeError(err error) bool {
	var typeErr *json.UnmarshalTypeError
	return errors.As(err, &typeErr)
}

// isFAQList reports whether value is an array whose first item is an FAQ
// entry.
func isFAQList(value json.RawMessage) bool {
	var items []json.RawMessage
	if json.Unmarshal(value, &items) != nil || len(items) == 0 {
		return false
	}
	var first map[string]json.RawMessage
	return json.Unmarshal(items[0], &first) == nil && isFAQEntry(first)
}

// isTauBenchEntry reports whether one value of a top-level object looks like
// a τ-bench product, user or order.
func isTauBenchEntry(entry map[string]json.RawMessage) bool {
	switch {
	case entry["product_id"] != nil && entry["variants"] != nil:
		return true
	case entry["order_id"] != nil && entry["items"] != nil:
		return true
	case entry["payment_methods"] != nil && entry["email"] != nil:
		return true
	}
	return false
}

// detectCSV looks at the header row.
func detectCSV(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	defer f.Close()

	header, err := readHeader(f)
	if err != nil {
		return "", unknownFormat(path, fmt.Sprintf("invalid CSV header: %v", err))
	}
	cols := newColumns(header)

	switch {
	case cols.has("handle") || cols.has("url handle"):
		return FormatShopifyCSV, nil
	case cols.has("sku") && (cols.has("product_type") || cols.has("configurable_variations") || cols.has("category")):
		return FormatMagentoCSV, nil
	case cols.has("sku") && cols.has("rating_value"):
		return FormatMagentoCSV, nil
	case cols.has("identifier") && cols.has("content"):
		return FormatMagentoCSV, nil
	}
	return "", unknownFormat(path, "CSV header matches neither a Shopify product CSV nor a Magento import CSV")
}

// readHeader returns the first CSV record.
func readHeader(r io.Reader) ([]string, error) {
	reader := csv.NewReader(r)
	reader.FieldsPerRecord = -1
	reader.LazyQuotes = true
	header, err := reader.Read()
	if errors.Is(err, io.EOF) {
		return nil, errNoHeader
	}
	return header, err
}

var (
	policyNames = []string{"polic", "terms", "shipping", "return", "privacy", "warranty", "wiki"}
	// tableDivider matches a table's delimiter row such as "|---|:--:|". A
	// line of dashes alone is a rule or heading underline, not a table.
	tableDivider = regexp.MustCompile(`(?m)^\s*\|?\s*:?-+:?\s*\|[\s|:-]*$`)
	mdHeading    = regexp.MustCompile(`(?m)^#{1,3}\s+(.+?)\s*#*\s*$`)
)

// detectMarkdown decides by file name first, then by content.
func detectMarkdown(path string) (Format, error) {
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.Contains(name, "faq"):
		return FormatFAQMarkdown, nil
	case strings.Contains(name, "size"):
		return FormatSizeGuideMarkdown, nil
	}
	for _, word := range policyNames {
		if strings.Contains(name, word) {
			return FormatPolicyMarkdown, nil
		}
	}

	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	if tableDivider.Match(data) {
		return FormatSizeGuideMarkdown, nil
	}
	headings := mdHeading.FindAllSubmatch(data, -1)
	questions := 0
	for _, h := range headings {
		if bytes.HasSuffix(h[1], []byte("?")) {
			questions++
		}
	}
	if questions > 0 && questions*2 >= len(headings) {
		return FormatFAQMarkdown, nil
	}
	return FormatPolicyMarkdown, nil
}

// job is one file to parse in a known format.
type job struct {
	path   string
	format Format
}

// tauBenchFiles are the data files of a τ-bench retail store.
var tauBenchFiles = []string{"products.json", "users.json", "orders.json"}

// tauBenchDataDir returns the directory holding the τ-bench data files: dir
// itself or its data/ subdirectory.
func tauBenchDataDir(dir string) (string, bool) {
	for _, candidate := range []string{dir, filepath.Join(dir, "data")} {
		complete := true
		for _, name := range tauBenchFiles {
			if !isFile(filepath.Join(candidate, name)) {
				complete = false
				break
			}
		}
		if complete {
			return candidate, true
		}
	}
	return "", false
}

// tauBenchJobs lists the τ-bench data files and the policy wiki.md that
// sits next to the data directory.
func tauBenchJobs(dir string) ([]job, error) {
	data, ok := tauBenchDataDir(dir)
	if !ok {
		return nil, fmt.Errorf("%s is not a τ-bench data directory: missing one of %s (fix: pass the directory that contains them)", dir, strings.Join(tauBenchFiles, ", "))
	}

	var jobs []job
	for _, name := range tauBenchFiles {
		jobs = append(jobs, job{path: filepath.Join(data, name), format: FormatTauBench})
	}
	for _, wiki := range []string{filepath.Join(filepath.Dir(data), "wiki.md"), filepath.Join(data, "wiki.md")} {
		if isFile(wiki) {
			jobs = append(jobs, job{path: wiki, format: FormatPolicyMarkdown})
			break
		}
	}
	return jobs, nil
}

// magentoModules are the sample-data module folders this package reads.
var magentoModules = []string{"ConfigurableSampleData", "CatalogSampleData", "ReviewSampleData", "CmsSampleData"}

// magentoRawDir returns the directory holding the Magento sample-data
// module folders: dir itself or its raw/ subdirectory.
func magentoRawDir(dir string) (string, bool) {
	for _, candidate := range []string{dir, filepath.Join(dir, "raw")} {
		for _, module := range magentoModules {
			if isDir(filepath.Join(candidate, module)) {
				return candidate, true
			}
		}
	}
	return "", false
}

// magentoJobs lists the Magento files this package reads, products first so
// that reviews find their products.
//
// TODO: BundleSampleData and GroupedProductSampleData are not read because
// their rows have no price of their own.
func magentoJobs(dir string) ([]job, error) {
	raw, ok := magentoRawDir(dir)
	if !ok {
		return nil, fmt.Errorf("%s is not a Magento sample-data directory: it needs one of %s (fix: pass the raw/ directory)", dir, strings.Join(magentoModules, ", "))
	}

	candidates := []string{filepath.Join(raw, "ConfigurableSampleData", "products.csv")}
	gear, err := filepath.Glob(filepath.Join(raw, "CatalogSampleData", "SimpleProduct", "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("list Magento gear files in %s: %w", raw, err)
	}
	sort.Strings(gear)
	candidates = append(candidates, gear...)
	candidates = append(candidates,
		filepath.Join(raw, "ReviewSampleData", "products_reviews.csv"),
		filepath.Join(raw, "CmsSampleData", "pages.csv"))

	var jobs []job
	for _, path := range candidates {
		if isFile(path) {
			jobs = append(jobs, job{path: path, format: FormatMagentoCSV})
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("%s has no Magento product, review or page CSV (fix: pass the raw/ directory of the sample data)", dir)
	}
	return jobs, nil
}

// supportedExt lists the extensions a plain directory walk considers.
var supportedExt = map[string]bool{".json": true, ".csv": true, ".md": true, ".markdown": true}

// expand turns one path into the files to parse. Undetectable files found
// while walking a plain directory come back as RowErrors.
func expand(path string, override Format) ([]job, []RowError, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}

	if !info.IsDir() {
		format := override
		if format == "" {
			if format, err = Detect(path); err != nil {
				return nil, nil, err
			}
		}
		return []job{{path: path, format: format}}, nil, nil
	}

	if jobs, ok, err := expandStoreDir(path, override); ok || err != nil {
		return jobs, nil, err
	}
	return walkPlainDir(path, override)
}

// expandStoreDir expands a τ-bench or Magento directory. It returns ok
// false for any other directory.
func expandStoreDir(dir string, override Format) ([]job, bool, error) {
	if _, isTau := tauBenchDataDir(dir); isTau && (override == "" || override == FormatTauBench) {
		jobs, err := tauBenchJobs(dir)
		return jobs, true, err
	}
	if _, isMagento := magentoRawDir(dir); isMagento && (override == "" || override == FormatMagentoCSV) {
		jobs, err := magentoJobs(dir)
		return jobs, true, err
	}
	return nil, false, nil
}

// walkPlainDir detects each supported file under root.
func walkPlainDir(root string, override Format) ([]job, []RowError, error) {
	var jobs []job
	var rowErrs []RowError

	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != root && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}

		if d.IsDir() {
			if path == root || override != "" {
				return nil
			}
			found, ok, err := expandStoreDir(path, "")
			if err != nil {
				return err
			}
			if ok {
				jobs = append(jobs, found...)
				return filepath.SkipDir
			}
			return nil
		}

		if skipFile(name) {
			return nil
		}
		format := override
		if format == "" {
			detected, err := Detect(path)
			if err != nil {
				rowErrs = append(rowErrs, RowError{File: path, Err: err})
				return nil
			}
			format = detected
		}
		jobs = append(jobs, job{path: path, format: format})
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk %s: %w", root, err)
	}
	return jobs, rowErrs, nil
}

// skipFile reports whether a directory walk ignores the file: documentation
// about the data rather than data, or an extension no format uses.
func skipFile(name string) bool {
	upper := strings.ToUpper(name)
	for _, prefix := range []string{"README", "LICENSE", "SOURCE."} {
		if strings.HasPrefix(upper, prefix) {
			return true
		}
	}
	return !supportedExt[strings.ToLower(filepath.Ext(name))]
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
