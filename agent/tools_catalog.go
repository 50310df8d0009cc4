package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// Limits of search_products.
const (
	defaultProductResults = 4
	maxProductResults     = 10
	maxQueryLength        = 200
)

var searchProductsTool = &Tool{
	Name:        "search_products",
	Description: "Search the shop's catalog and show matching products as tiles with their exact prices and stock.",
	Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "query": {"type": "string", "description": "What the shopper is looking for, in their words.", "minLength": 1, "maxLength": 200},
    "product_type": {"type": "string", "description": "Limit results to one product type, such as Jackets."},
    "max_price": {"type": "number", "description": "Highest price in the shop's currency.", "exclusiveMinimum": 0},
    "in_stock": {"type": "boolean", "description": "Only products with a variant in stock."},
    "on_sale": {"type": "boolean", "description": "Only products with a variant whose compare-at price is above its price, biggest reduction first."},
    "limit": {"type": "integer", "description": "Number of products to show; defaults to 4.", "minimum": 1, "maximum": 10}
  },
  "required": ["query"],
  "additionalProperties": false
}`),
	Run: runSearchProducts,
}

type searchProductsArgs struct {
	Query       string   `json:"query"`
	ProductType string   `json:"product_type"`
	MaxPrice    *float64 `json:"max_price"`
	InStock     bool     `json:"in_stock"`
	OnSale      bool     `json:"on_sale"`
	Limit       int      `json:"limit"`
}

// ProductSummary describes one product found by search_products, with
// prices formatted in the shop's currency exactly as stored.
type ProductSummary struct {
	ProductID int64  `json:"product_id"`
	Handle    string `json:"handle"`
	Title     string `json:"title"`
	Price     string `json:"price"`
	// WasPrice is the compare-at price shared by the variants found, when
	// it is above each one's price, as for a product on sale.
	WasPrice string `json:"was_price,omitempty"`
	InStock  bool   `json:"in_stock"`
	// Options names the option values the query asked for, as "size M,
	// White". Price and InStock are then those of the matching variants.
	Options     string `json:"options,omitempty"`
	ProductType string `json:"product_type,omitempty"`
	Description string `json:"description,omitempty"`
	// Corrected is set when the product was found only through a
	// spelling correction of a query word, none of the query's own words
	// or the shop's synonyms for them.
	Corrected bool `json:"found_by_correction,omitempty"`
}

// SearchProductsData is the Data of a search_products result.
type SearchProductsData struct {
	// Query is the query searched for.
	Query    string           `json:"query"`
	Products []ProductSummary `json:"products"`
	// Corrections maps each query word the shop does not use to the word
	// searched for instead, as "sprkinler" to "sprinkler".
	Corrections map[string]string `json:"corrections,omitempty"`
}

// AllCorrected reports whether every product was found only through a
// spelling correction.
func (d SearchProductsData) AllCorrected() bool {
	return len(d.Products) > 0 && !slices.ContainsFunc(d.Products, func(p ProductSummary) bool { return !p.Corrected })
}

func runSearchProducts(ctx context.Context, env *ToolEnv, raw json.RawMessage) (*ToolResult, error) {
	var args searchProductsArgs
	if err := decodeArgs("search_products", raw, &args); err != nil {
		return nil, err
	}
	args.Query = strings.TrimSpace(args.Query)
	switch {
	case args.Query == "":
		return nil, salesagent.Errorf(salesagent.EINVALID, "search_products needs a query: say what the shopper is looking for")
	case len([]rune(args.Query)) > maxQueryLength:
		return nil, salesagent.Errorf(salesagent.EINVALID, "search_products query is %d characters long; shorten it to %d", len([]rune(args.Query)), maxQueryLength)
	case args.Limit < 0 || args.Limit > maxProductResults:
		return nil, salesagent.Errorf(salesagent.EINVALID, "search_products limit %d is out of range; use 1 to %d", args.Limit, maxProductResults)
	case args.MaxPrice != nil && (*args.MaxPrice <= 0 || math.IsInf(*args.MaxPrice, 0) || math.IsNaN(*args.MaxPrice)):
		return nil, salesagent.Errorf(salesagent.EINVALID, "search_products max_price %v is invalid; use a positive amount or leave it out", *args.MaxPrice)
	}
	if args.Limit == 0 {
		args.Limit = defaultProductResults
	}
	if env.Search == nil {
		return nil, fmt.Errorf("search products: no retriever configured")
	}

	filter := variantFilter{inStock: args.InStock, onSale: args.OnSale}
	if args.MaxPrice != nil {
		m := salesagent.MoneyFromFloat(*args.MaxPrice)
		filter.maxPrice = &m
	}
	var products []*salesagent.Product
	var err error
	if args.OnSale {
		products, err = saleProducts(ctx, env, args.ProductType, filter)
	} else {
		products, err = retrieveProducts(ctx, env, args, filter)
	}
	if err != nil {
		return nil, err
	}
	alternatives, err := queryAlternatives(ctx, env, args.Query)
	if err != nil {
		return nil, err
	}
	products = keepMatching(products, args.Query, alternatives, true)
	named := map[int64]bool{}
	for _, p := range keepMatching(products, args.Query, alternatives, false) {
		named[p.ID] = true
	}

	currency := env.Turn.Shop.Currency
	data := SearchProductsData{Query: args.Query, Products: []ProductSummary{}}
	card := &salesagent.Card{Type: salesagent.CardProducts, Title: "Products"}
	var citations []salesagent.Citation
	var lines []string
	for _, p := range products {
		// The retriever filters too, but prices and stock are checked here
		// against the variants just loaded, so a tile never shows a stale fact.
		variants := filter.keep(p.Variants)
		// A query naming an option value, as "the tee in medium white",
		// gets the price and stock of those variants only, so a tile never
		// shows "in stock" for a variant that is sold out.
		label := ""
		requested, _ := resolveColours(p, args.Query, requestedOptions(p, args.Query))
		if len(requested) > 0 {
			if matching := variantsWith(variants, requested); len(matching) > 0 {
				variants, label = matching, requestedLabel(requested)
			}
		}
		if len(variants) == 0 {
			continue
		}
		summary := ProductSummary{
			ProductID: p.ID, Handle: p.Handle, Title: p.Title,
			Price: priceRange(variants, currency), InStock: anyInStock(variants),
			Options: label, ProductType: p.ProductType, Description: p.Description,
			Corrected: !named[p.ID],
		}
		title := p.Title
		if label != "" {
			title += " in " + label
		}
		line := fmt.Sprintf("%s: %s, %s", title, summary.Price, stockWord(summary.InStock))
		if was := commonCompareAt(variants); was != nil {
			summary.WasPrice = was.Format(currency)
			line = fmt.Sprintf("%s: %s (was %s), %s", title, summary.Price, summary.WasPrice, stockWord(summary.InStock))
		}
		data.Products = append(data.Products, summary)
		card.Products = append(card.Products, salesagent.ProductTile{
			Handle: p.Handle, Title: p.Title, Price: summary.Price, ImageURL: p.ImageURL, InStock: summary.InStock,
		})
		citations = append(citations, salesagent.Citation{Kind: salesagent.KindProduct, ProductID: p.ID, Title: p.Title})
		lines = append(lines, line)
		if len(data.Products) == args.Limit {
			break
		}
	}

	if len(data.Products) == 0 {
		return &ToolResult{Text: fmt.Sprintf("No products match %q with these filters.", args.Query), Data: data}, nil
	}
	if data.AllCorrected() {
		data.Corrections = map[string]string{}
		for _, a := range alternatives {
			if a.Correction {
				data.Corrections[a.For] = phraseText(a.Text)
			}
		}
		lines = append(lines, fmt.Sprintf("None of these names the query's words; they were found by the spelling corrections %s.", correctionList(data.Corrections)))
	}
	return &ToolResult{
		Text:      fmt.Sprintf("Found %d products:\n%s", len(data.Products), strings.Join(lines, "\n")),
		Card:      card,
		Data:      data,
		Citations: citations,
	}, nil
}

// retrieveProducts returns the products whose passages best match the
// query, with the retriever applying the filters it supports.
func retrieveProducts(ctx context.Context, env *ToolEnv, args searchProductsArgs, filter variantFilter) ([]*salesagent.Product, error) {
	query := retrieval.Query{
		Text: args.Query, Kinds: []string{salesagent.KindProduct}, ProductType: args.ProductType,
		InStockOnly: args.InStock, MaxPrice: filter.maxPrice, Limit: args.Limit * 3,
	}
	hits, err := env.Search.Search(ctx, env.Turn.Shop, query)
	if err != nil {
		return nil, fmt.Errorf("search products: %w", err)
	}
	return env.DB.ProductsByIDs(ctx, env.Turn.Shop.ID, productIDs(hits))
}

// Limits of the catalog scan for products on sale.
const (
	salePageSize = 200
	// maxSaleScan caps the products read to find those on sale.
	// NOTE: a catalog larger than this lists only the sales among its
	// first maxSaleScan products, in the store's catalog order.
	maxSaleScan = 5000
)

// saleProducts returns the products of the catalog with a variant on sale
// that passes filter, of productType when it is set, the biggest
// reduction first. The retriever ranks by meaning and cannot tell a sale,
// so the catalog is read page by page.
func saleProducts(ctx context.Context, env *ToolEnv, productType string, filter variantFilter) ([]*salesagent.Product, error) {
	type onSale struct {
		product   *salesagent.Product
		reduction float64
	}
	var found []onSale
	for offset := 0; offset < maxSaleScan; offset += salePageSize {
		page, err := env.DB.ListProducts(ctx, env.Turn.Shop.ID, salePageSize, offset)
		if err != nil {
			return nil, fmt.Errorf("list products on sale: %w", err)
		}
		for _, p := range page {
			if productType != "" && !strings.EqualFold(p.ProductType, productType) {
				continue
			}
			best := 0.0
			for _, v := range filter.keep(p.Variants) {
				best = max(best, 1-float64(v.Price)/float64(*v.CompareAtPrice))
			}
			if best > 0 {
				found = append(found, onSale{product: p, reduction: best})
			}
		}
		if len(page) < salePageSize {
			break
		}
	}
	sort.SliceStable(found, func(a, b int) bool { return found[a].reduction > found[b].reduction })
	products := make([]*salesagent.Product, len(found))
	for i, f := range found {
		products[i] = f.product
	}
	return products, nil
}

// queryNoise are words of a product search that do not describe products.
var queryNoise = stemSet([]string{
	"looking", "look", "find", "buy", "show", "recommend", "something", "anything", "stock",
	"available", "cost", "price", "much", "cheap", "under", "below", "less", "sell", "carry", "any",
	"sale", "discount", "discounted", "deal", "deals", "reduced", "clearance", "product", "products",
	"items", "item", "stuff",
})

// keepMatching keeps the products that share a word with the query or
// with one of its alternatives (see queryAlternatives). The retriever also
// ranks by meaning, and its nearest neighbours include unrelated products
// when few are related, so a product must name something the shopper
// asked for, in the shopper's words or the shop's. A query of filler
// words only, such as "show me something", keeps every product.
func keepMatching(products []*salesagent.Product, query string, alternatives []retrieval.Alternative, corrections bool) []*salesagent.Product {
	words := map[string]bool{}
	for _, s := range contentStems(query) {
		if !queryNoise[s] && !isNumber(s) {
			words[s] = true
		}
	}
	if len(words) == 0 {
		return products
	}
	// An alternative of several words, as "water bottle", must be named
	// whole: "water" alone would keep every waterproof jacket.
	var phrases [][]string
	for _, a := range alternatives {
		if a.Correction && !corrections {
			continue
		}
		if stems := contentStems(phraseText(a.Text)); len(stems) > 0 {
			phrases = append(phrases, stems)
		}
	}
	var matching []*salesagent.Product
	for _, p := range products {
		stems := setOf(contentStems(productText(p)))
		if overlap(words, stems) > 0 || slices.ContainsFunc(phrases, func(phrase []string) bool {
			return !slices.ContainsFunc(phrase, func(s string) bool { return !stems[s] })
		}) {
			matching = append(matching, p)
		}
	}
	return matching
}

// correctionList writes corrections as "\"puff\" as \"cuff\"", sorted.
func correctionList(corrections map[string]string) string {
	items := make([]string, 0, len(corrections))
	for _, word := range slices.Sorted(maps.Keys(corrections)) {
		items = append(items, fmt.Sprintf("%q as %q", word, corrections[word]))
	}
	return joinList(items)
}

// alternativesFinder is a retriever that reports the other words its
// full-text search matches for a query, as retrieval.Searcher does.
type alternativesFinder interface {
	Alternatives(ctx context.Context, shop *salesagent.Shop, text string) ([]retrieval.Alternative, error)
}

// queryAlternatives returns the alternatives that the retriever's
// full-text search matches for the query's words, leaving out those of
// filler words.
func queryAlternatives(ctx context.Context, env *ToolEnv, query string) ([]retrieval.Alternative, error) {
	finder, ok := env.Search.(alternativesFinder)
	if !ok {
		return nil, nil
	}
	found, err := finder.Alternatives(ctx, env.Turn.Shop, query)
	if err != nil {
		return nil, fmt.Errorf("search products: %w", err)
	}
	var kept []retrieval.Alternative
	for _, a := range found {
		if slices.ContainsFunc(contentStems(phraseText(a.For)), func(s string) bool { return !queryNoise[s] && !isNumber(s) }) {
			kept = append(kept, a)
		}
	}
	return kept, nil
}

// phraseText turns a tsquery phrase such as "door <-> knob" into its
// words.
func phraseText(phrase string) string {
	var words []string
	for _, f := range strings.Fields(phrase) {
		if !strings.HasPrefix(f, "<") {
			words = append(words, f)
		}
	}
	return strings.Join(words, " ")
}

// productText joins the words that describe a product.
func productText(p *salesagent.Product) string {
	parts := []string{p.Title, p.ProductType, p.Vendor, p.Description, strings.Join(p.Tags, " ")}
	for _, v := range p.Variants {
		for _, o := range v.Options {
			parts = append(parts, o.Value)
		}
	}
	for k, v := range p.Attributes {
		parts = append(parts, k, v)
	}
	return strings.Join(parts, " ")
}

// productIDs returns the distinct product ids of hits in rank order.
func productIDs(hits []retrieval.Hit) []int64 {
	var ids []int64
	seen := map[int64]bool{}
	for _, h := range hits {
		if id := h.Source.ProductID; id != 0 && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// variantFilter is the conditions of a product search on variants.
type variantFilter struct {
	maxPrice *salesagent.Money
	inStock  bool
	onSale   bool
}

// keep returns the variants priced at most maxPrice (when set), in stock
// (when inStock is set) and on sale (when onSale is set).
func (f variantFilter) keep(variants []salesagent.Variant) []salesagent.Variant {
	var out []salesagent.Variant
	for _, v := range variants {
		if f.maxPrice != nil && v.Price > *f.maxPrice {
			continue
		}
		if f.inStock && !v.InStock() {
			continue
		}
		if f.onSale && (v.CompareAtPrice == nil || *v.CompareAtPrice <= v.Price) {
			continue
		}
		out = append(out, v)
	}
	return out
}

func anyInStock(variants []salesagent.Variant) bool {
	for _, v := range variants {
		if v.InStock() {
			return true
		}
	}
	return false
}

func stockWord(inStock bool) string {
	if inStock {
		return "in stock"
	}
	return "sold out"
}

// priceRange formats the variants' price, or their lowest and highest
// price when they differ, as in "$79.00–$89.00".
func priceRange(variants []salesagent.Variant, currency string) string {
	if len(variants) == 0 {
		return ""
	}
	low, high := variants[0].Price, variants[0].Price
	for _, v := range variants[1:] {
		low, high = min(low, v.Price), max(high, v.Price)
	}
	if low == high {
		return low.Format(currency)
	}
	return low.Format(currency) + "–" + high.Format(currency)
}

var sendSizeGuideTool = &Tool{
	Name:        "send_size_guide",
	Description: "Show the size guide table for a product or product type, with the product's fit notes and the sizes in stock. Defaults to the product the shopper is viewing.",
	Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "product": {"type": "string", "description": "Handle or SKU of the product; defaults to the product in view."},
    "product_type": {"type": "string", "description": "Product type whose size guide to show, when no product is named."}
  },
  "additionalProperties": false
}`),
	Run: runSendSizeGuide,
}

type sizeGuideArgs struct {
	Product     string `json:"product"`
	ProductType string `json:"product_type"`
}

// SizeGuideData is the Data of a send_size_guide result.
type SizeGuideData struct {
	ProductType string            `json:"product_type"`
	Title       string            `json:"title"`
	Table       *salesagent.Table `json:"table,omitempty"`
	// Product fields are set when the guide was sent for a product.
	ProductTitle string   `json:"product_title,omitempty"`
	FitNotes     []string `json:"fit_notes,omitempty"`
	SizesInStock []string `json:"sizes_in_stock,omitempty"`
	SizesSoldOut []string `json:"sizes_sold_out,omitempty"`
	// Colors lists the product's colours, and InStockByColor its in-stock
	// sizes grouped by colour. Both are set only for a product with a size
	// and several colours, where a size may be in stock in one colour and
	// sold out in another.
	Colors         []string     `json:"colors,omitempty"`
	InStockByColor []ColorSizes `json:"in_stock_by_color,omitempty"`
}

func runSendSizeGuide(ctx context.Context, env *ToolEnv, raw json.RawMessage) (*ToolResult, error) {
	var args sizeGuideArgs
	if err := decodeArgs("send_size_guide", raw, &args); err != nil {
		return nil, err
	}
	shop := env.Turn.Shop

	product := env.Turn.Product
	if ref := strings.TrimSpace(args.Product); ref != "" {
		p, err := findProduct(ctx, env, ref)
		if err != nil {
			return nil, err
		}
		product = p
	}
	productType := strings.TrimSpace(args.ProductType)
	if productType == "" && product != nil {
		productType = product.ProductType
	}
	if productType == "" {
		return nil, salesagent.Errorf(salesagent.EINVALID, "send_size_guide needs a product or product_type: no product is in view")
	}

	guide, err := env.DB.SizeGuide(ctx, shop.ID, productType)
	if err != nil {
		if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
			return nil, salesagent.Errorf(salesagent.ENOTFOUND, "the shop has no size guide for %s", productType)
		}
		return nil, err
	}

	data := SizeGuideData{ProductType: productType, Title: guide.Title, Table: guide.Table}
	citations := []salesagent.Citation{{Kind: salesagent.KindSizeGuide, DocumentID: guide.ID, Title: guide.Title}}
	if product != nil && strings.EqualFold(product.ProductType, productType) {
		data.ProductTitle = product.Title
		data.FitNotes = fitNotes(product.Description)
		data.SizesInStock, data.SizesSoldOut = sizesByStock(product.Variants)
		if groups := sizesByColour(product.Variants); groups != nil {
			data.Colors = valuesOf(product.Variants, optionNamed(product, isColourOption))
			data.InStockByColor = groups
		}
		if len(data.FitNotes) > 0 {
			citations = append(citations, salesagent.Citation{Kind: salesagent.KindProduct, ProductID: product.ID, Title: product.Title})
		}
	}

	card := &salesagent.Card{Type: salesagent.CardSizeGuide, Title: guide.Title, Table: guide.Table}
	if len(data.FitNotes) > 0 {
		card.Text = strings.Join(data.FitNotes, " ")
	}
	return &ToolResult{Text: sizeGuideText(data), Card: card, Data: data, Citations: citations}, nil
}

// findProduct looks a product up by handle, then by SKU.
func findProduct(ctx context.Context, env *ToolEnv, ref string) (*salesagent.Product, error) {
	shopID := env.Turn.Shop.ID
	p, err := env.DB.ProductByHandle(ctx, shopID, ref)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		p, err = env.DB.ProductBySKU(ctx, shopID, ref)
	}
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND, "no product has the handle or SKU %q", ref)
	}
	return p, err
}

// sizeGuideText writes the guide as plain text for a model.
func sizeGuideText(d SizeGuideData) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Size guide %q for %s.\n", d.Title, d.ProductType)
	if d.Table != nil {
		b.WriteString(strings.Join(d.Table.Columns, " | ") + "\n")
		for _, row := range d.Table.Rows {
			b.WriteString(strings.Join(row, " | ") + "\n")
		}
		if d.Table.Notes != "" {
			b.WriteString("Notes: " + d.Table.Notes + "\n")
		}
	}
	if len(d.FitNotes) > 0 {
		fmt.Fprintf(&b, "Fit notes from the %s description: %s\n", d.ProductTitle, strings.Join(d.FitNotes, " "))
	}
	if d.ProductTitle != "" {
		fmt.Fprintf(&b, "Sizes of %s in stock: %s.\n", d.ProductTitle, listOrNone(d.SizesInStock))
		if len(d.InStockByColor) > 0 {
			fmt.Fprintf(&b, "In stock by color: %s.\n", describeSizesByColour(d.InStockByColor, d.Colors))
		}
	}
	return strings.TrimSpace(b.String())
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// fitStems are the stems of words that make a description sentence a note
// about fit.
var fitStems = map[string]bool{}

func init() {
	for _, w := range []string{
		"fit", "fits", "sizing", "size", "sizes", "runs", "snug", "relaxed", "slim", "loose", "tight",
		"roomy", "oversized", "regular", "tailored", "boxy", "cropped", "stretch", "inseam", "length",
	} {
		fitStems[stem(w)] = true
	}
}

// fitNotes returns up to two sentences of a product description that speak
// about fit, such as "Runs small; order a size up." A line labelled "Fit:"
// is the fit note when the description has one.
func fitNotes(description string) []string {
	for _, line := range strings.Split(description, "\n") {
		line = cleanMarkdown(line)
		if label, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(label), "fit") {
			notes := withAnswers(splitSentences(line))
			return notes[:min(len(notes), 2)]
		}
	}
	var notes []string
	for _, sentence := range withAnswers(splitSentences(description)) {
		for _, s := range stems(sentence) {
			if fitStems[s] {
				notes = append(notes, cleanMarkdown(sentence))
				break
			}
		}
		if len(notes) == 2 {
			break
		}
	}
	return notes
}

// withAnswers joins a question to the sentence after it, which answers
// it, as "Between sizes? Take the smaller one." A question with no
// sentence after it is dropped, so a quote never ends in one.
func withAnswers(sentences []string) []string {
	var out []string
	for i := 0; i < len(sentences); i++ {
		sentence := sentences[i]
		for strings.HasSuffix(strings.TrimSpace(sentence), "?") {
			if i+1 == len(sentences) {
				return out
			}
			i++
			sentence += " " + sentences[i]
		}
		out = append(out, sentence)
	}
	return out
}

// sizesByStock returns the values of the variants' size option, in catalog
// order, split into sizes with a variant in stock and sizes with none.
func sizesByStock(variants []salesagent.Variant) (inStock, soldOut []string) {
	var order []string
	stocked := map[string]bool{}
	for _, v := range variants {
		size := v.Option("Size")
		if size == "" {
			continue
		}
		if _, seen := stocked[size]; !seen {
			order = append(order, size)
			stocked[size] = false
		}
		if v.InStock() {
			stocked[size] = true
		}
	}
	for _, size := range order {
		if stocked[size] {
			inStock = append(inStock, size)
		} else {
			soldOut = append(soldOut, size)
		}
	}
	return inStock, soldOut
}
