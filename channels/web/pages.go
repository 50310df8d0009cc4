package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/widget"
)

//go:embed templates/*.html
var templateFS embed.FS

// productsPerPage is the size of one page of the shop's product grid.
const productsPerPage = 24

// pageTemplates are the shop pages, each parsed together with base.html.
var pageTemplates = []string{"shop.html", "product.html", "cart.html", "error.html"}

// parseTemplates parses each page together with base.html. The templates
// are embedded, so an error is a build mistake and panics.
func parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{"json": toJSON}
	pages := map[string]*template.Template{}
	for _, name := range pageTemplates {
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/"+name))
	}
	return pages
}

func toJSON(v any) (template.JS, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return template.JS(b), nil
}

// pageData contains the values base.html uses on every page.
type pageData struct {
	// Title is the page's own title. base.html follows it with the shop's
	// name, or shows the shop's name alone when Title is empty.
	Title string
	Shop  *salesagent.Shop
	Nonce string
	// Product is the handle of the product in view, for the widget.
	Product string
	Content any
}

// render writes the page with status. Rendering into a buffer first means
// a template error becomes a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) {
	var buf bytes.Buffer
	if err := s.templates[name].ExecuteTemplate(&buf, "base", data); err != nil {
		s.log.ErrorContext(r.Context(), "render page failed", "page", name, "error", err)
		http.Error(w, "The page could not be shown. Please try again.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", fmt.Sprintf(
		"default-src 'self'; script-src 'self' 'nonce-%s'; style-src 'self' 'nonce-%s'; img-src 'self' data: https:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
		data.Nonce, data.Nonce))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows err as an error page with the status of its code.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, shop *salesagent.Shop, err error) {
	code := salesagent.ErrorCode(err)
	status := salesagent.HTTPStatus(code)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "shop page failed", "path", r.URL.Path, "error", err)
	}
	s.render(w, r, status, "error.html", pageData{
		Title:   http.StatusText(status),
		Shop:    shop,
		Nonce:   newNonce(),
		Content: salesagent.ErrorMessage(err),
	})
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// shopFromPath loads the shop named by the {slug} path value.
func (s *Server) shopFromPath(r *http.Request) (*salesagent.Shop, error) {
	slug := r.PathValue("slug")
	if !salesagent.ValidSlug(slug) {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND,
			"Shop %q not found: a shop slug has lowercase letters, digits and hyphens. The home page / lists the shops on this server.", truncate(slug, 64))
	}
	shop, err := s.db.ShopBySlug(r.Context(), slug)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, salesagent.Errorf(salesagent.ENOTFOUND, "Shop %q not found. The home page / lists the shops on this server.", slug)
	}
	return shop, err
}

// productTile is a product in the grid.
type productTile struct {
	Handle   string
	Title    string
	Type     string
	ImageURL string
	Price    string
	InStock  bool
}

// shopPage is the product grid.
type shopPage struct {
	Products []productTile
	Page     int
	PrevPage int
	NextPage int
	Total    int
}

func (s *Server) handleShop(w http.ResponseWriter, r *http.Request) {
	shop, err := s.shopFromPath(r)
	if err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	page := 1
	if raw := r.URL.Query().Get("page"); raw != "" {
		page, err = strconv.Atoi(raw)
		if err != nil || page < 1 {
			s.renderError(w, r, shop, salesagent.Errorf(salesagent.EINVALID, "Invalid page %q: use a whole number from 1.", truncate(raw, 20)))
			return
		}
	}

	products, err := s.db.ListProducts(r.Context(), shop.ID, productsPerPage, (page-1)*productsPerPage)
	if err != nil {
		s.renderError(w, r, shop, fmt.Errorf("list products of shop %s: %w", shop.Slug, err))
		return
	}
	total, err := s.db.CountProducts(r.Context(), shop.ID)
	if err != nil {
		s.renderError(w, r, shop, fmt.Errorf("count products of shop %s: %w", shop.Slug, err))
		return
	}

	data := shopPage{Page: page, Total: total}
	for _, p := range products {
		data.Products = append(data.Products, productTile{
			Handle:   p.Handle,
			Title:    p.Title,
			Type:     p.ProductType,
			ImageURL: imageURL(p.ImageURL),
			Price:    priceRange(p.Variants, shop.Currency),
			InStock:  anyInStock(p.Variants),
		})
	}
	if page > 1 {
		data.PrevPage = page - 1
	}
	if page*productsPerPage < total {
		data.NextPage = page + 1
	}
	// base.html adds the shop's name to every title, so the first page
	// needs no title of its own.
	title := ""
	if page > 1 {
		title = fmt.Sprintf("Page %d", page)
	}
	s.render(w, r, http.StatusOK, "shop.html", pageData{Title: title, Shop: shop, Nonce: newNonce(), Content: data})
}

// variantView is a variant in the JSON form the product page's script reads.
type variantView struct {
	SKU     string            `json:"sku"`
	Title   string            `json:"title"`
	Options map[string]string `json:"options"`
	Price   string            `json:"price"`
	Compare string            `json:"compare_at,omitempty"`
	InStock bool              `json:"in_stock"`
	// Stock is nil when the shop does not count the variant's stock.
	Stock *int `json:"stock"`
}

// optionPicker is one option of a product with its values, in the order
// the variants name them.
type optionPicker struct {
	Name   string
	ID     string
	Values []string
}

type productPage struct {
	Product     *salesagent.Product
	Description []descriptionBlock
	ImageURL    string
	Pickers     []optionPicker
	Variants    []variantView
	First       variantView
}

func (s *Server) handleProduct(w http.ResponseWriter, r *http.Request) {
	shop, err := s.shopFromPath(r)
	if err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	handle := r.PathValue("handle")
	product, err := s.db.ProductByHandle(r.Context(), shop.ID, handle)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		err = salesagent.Errorf(salesagent.ENOTFOUND, "Product %q not found in %s.", truncate(handle, 80), shop.Name)
	}
	if err != nil {
		s.renderError(w, r, shop, err)
		return
	}

	data := productPage{
		Product:     product,
		Description: descriptionBlocks(product.Description),
		ImageURL:    imageURL(product.ImageURL),
		Pickers:     optionPickers(product.Variants),
	}
	for _, v := range product.Variants {
		data.Variants = append(data.Variants, viewVariant(v, shop.Currency))
	}
	if len(data.Variants) > 0 {
		data.First = firstAvailable(data.Variants)
	}
	s.render(w, r, http.StatusOK, "product.html", pageData{
		Title: product.Title, Shop: shop, Nonce: newNonce(), Product: product.Handle, Content: data,
	})
}

func viewVariant(v salesagent.Variant, currency string) variantView {
	view := variantView{
		SKU:     v.SKU,
		Title:   v.Title,
		Options: map[string]string{},
		Price:   v.Price.Format(currency),
		InStock: v.InStock(),
		Stock:   v.Stock,
	}
	if v.CompareAtPrice != nil && *v.CompareAtPrice > v.Price {
		view.Compare = v.CompareAtPrice.Format(currency)
	}
	for _, o := range v.Options {
		view.Options[o.Name] = o.Value
	}
	return view
}

func firstAvailable(variants []variantView) variantView {
	for _, v := range variants {
		if v.InStock {
			return v
		}
	}
	return variants[0]
}

func optionPickers(variants []salesagent.Variant) []optionPicker {
	var pickers []optionPicker
	index := map[string]int{}
	seen := map[string]bool{}
	for _, v := range variants {
		for _, o := range v.Options {
			i, ok := index[o.Name]
			if !ok {
				i = len(pickers)
				index[o.Name] = i
				pickers = append(pickers, optionPicker{Name: o.Name, ID: fmt.Sprintf("option-%d", i)})
			}
			if key := o.Name + "\x00" + o.Value; !seen[key] {
				seen[key] = true
				pickers[i].Values = append(pickers[i].Values, o.Value)
			}
		}
	}
	return pickers
}

// cartLine is one line of a restored cart.
type cartLine struct {
	SKU       string
	Title     string
	Handle    string
	Variant   string
	Quantity  int
	UnitPrice string
	LineTotal string
	InStock   bool
	Missing   bool
}

type cartPage struct {
	Lines   []cartLine
	Items   []salesagent.CartItem
	Total   string
	SavedAt time.Time
}

func (s *Server) handleCart(w http.ResponseWriter, r *http.Request) {
	shop, err := s.shopFromPath(r)
	if err != nil {
		s.renderError(w, r, nil, err)
		return
	}
	items, savedAt, err := s.db.CartByToken(r.Context(), shop.ID, r.PathValue("token"))
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		err = salesagent.Errorf(salesagent.ENOTFOUND, "This saved cart link is unknown. Ask the shop's assistant to save your cart again.")
	}
	if err != nil {
		s.renderError(w, r, shop, err)
		return
	}

	data := cartPage{SavedAt: savedAt, Items: []salesagent.CartItem{}}
	var total salesagent.Money
	for _, item := range items {
		line, price, err := s.cartLine(r, shop, item)
		if err != nil {
			s.renderError(w, r, shop, err)
			return
		}
		data.Lines = append(data.Lines, line)
		if !line.Missing {
			total += price * salesagent.Money(item.Quantity)
			data.Items = append(data.Items, item)
		}
	}
	data.Total = total.Format(shop.Currency)
	s.render(w, r, http.StatusOK, "cart.html", pageData{Title: "Saved cart", Shop: shop, Nonce: newNonce(), Content: data})
}

// cartLine looks up a saved cart item's product. An item whose SKU is gone
// from the catalog is kept as a missing line, so the page lists it.
func (s *Server) cartLine(r *http.Request, shop *salesagent.Shop, item salesagent.CartItem) (cartLine, salesagent.Money, error) {
	line := cartLine{SKU: item.SKU, Quantity: item.Quantity}
	product, err := s.db.ProductBySKU(r.Context(), shop.ID, item.SKU)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		line.Missing = true
		return line, 0, nil
	}
	if err != nil {
		return line, 0, fmt.Errorf("look up cart item %s: %w", item.SKU, err)
	}
	line.Title, line.Handle = product.Title, product.Handle
	for _, v := range product.Variants {
		if v.SKU != item.SKU {
			continue
		}
		line.Variant = variantLabel(v)
		line.UnitPrice = v.Price.Format(shop.Currency)
		line.LineTotal = (v.Price * salesagent.Money(item.Quantity)).Format(shop.Currency)
		line.InStock = v.InStock()
		return line, v.Price, nil
	}
	line.Missing = true
	return line, 0, nil
}

func variantLabel(v salesagent.Variant) string {
	parts := make([]string, 0, len(v.Options))
	for _, o := range v.Options {
		parts = append(parts, o.Name+": "+o.Value)
	}
	if len(parts) == 0 {
		return v.Title
	}
	return strings.Join(parts, ", ")
}

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
	return "from " + low.Format(currency)
}

func anyInStock(variants []salesagent.Variant) bool {
	for _, v := range variants {
		if v.InStock() {
			return true
		}
	}
	return false
}

// imageURL keeps http(s) and site-relative image addresses and drops any
// other scheme.
func imageURL(raw string) string {
	if strings.HasPrefix(raw, "https://") || strings.HasPrefix(raw, "http://") ||
		(strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//")) {
		return raw
	}
	return ""
}

// handleWidgetInfo returns the public widget key of a shop, so that a client
// given only the shop's slug can send hello.
func (s *Server) handleWidgetInfo(w http.ResponseWriter, r *http.Request) {
	shop, err := s.shopFromPath(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		status := salesagent.HTTPStatus(salesagent.ErrorCode(err))
		if status >= 500 {
			s.log.ErrorContext(r.Context(), "widget info failed", "error", err)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
			"code": salesagent.ErrorCode(err), "message": salesagent.ErrorMessage(err),
		}})
		return
	}
	_ = json.NewEncoder(w).Encode(WidgetInfo{ShopKey: shop.WidgetKey, Name: shop.Name, Slug: shop.Slug})
}

// WidgetInfo is the body of GET /api/shops/{slug}/widget.
type WidgetInfo struct {
	ShopKey string `json:"shop_key"`
	Name    string `json:"name"`
	Slug    string `json:"slug"`
}

// asset is an embedded widget file with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

var (
	assetsOnce sync.Once
	assets     map[string]asset
)

func loadAssets() map[string]asset {
	assetsOnce.Do(func() {
		assets = map[string]asset{}
		types := map[string]string{
			"widget.js":  "text/javascript; charset=utf-8",
			"widget.css": "text/css; charset=utf-8",
		}
		for name, contentType := range types {
			body, err := fs.ReadFile(widget.FS, name)
			if err != nil {
				panic(fmt.Sprintf("widget asset %s missing from the embedded files: %v", name, err))
			}
			sum := sha256.Sum256(body)
			assets[name] = asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		}
	})
	return assets
}

// handleAsset serves widget.js and widget.css. Shops embed the script on
// their own pages, so it is cacheable by anyone for a short time and
// revalidated by ETag.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := loadAssets()[path.Base(r.URL.Path)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body)
}
