package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

// get fetches path from the bundle's server and returns the status, the
// headers and the body.
func (b *bundle) get(t *testing.T, path string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, b.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func assertContains(t *testing.T, page, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", page, want)
		}
	}
}

func TestShopGrid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, header, body := b.get(t, "/shop/"+b.shop.Slug)
	if status != http.StatusOK {
		t.Fatalf("status = %d, body %s", status, body)
	}
	if ct := header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type = %q", ct)
	}
	if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'nonce-") {
		t.Errorf("CSP = %q, want scripts limited to self and a nonce", csp)
	}
	assertContains(t, "grid", body,
		"Trail Tee", "from $34.00", "In stock",
		"Sun Cap", "$19.00", "Out of stock",
		`href="/shop/`+b.shop.Slug+`/products/trail-tee"`,
		`<script src="/widget.js" data-shop-key="`+b.shop.WidgetKey+`" async></script>`,
		"2 products",
	)

	status, _, body = b.get(t, "/shop/"+b.shop.Slug+"?page=abc")
	if status != http.StatusBadRequest || !strings.Contains(body, "Invalid page &#34;abc&#34;") {
		t.Errorf("bad page param: status %d, body %s", status, body)
	}
	status, _, body = b.get(t, "/shop/"+b.shop.Slug+"?page=5")
	if status != http.StatusOK || !strings.Contains(body, "No products on this page") {
		t.Errorf("page past the end: status %d", status)
	}
}

func TestProductPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, _, body := b.get(t, "/shop/"+b.shop.Slug+"/products/trail-tee")
	if status != http.StatusOK {
		t.Fatalf("status = %d, body %s", status, body)
	}
	assertContains(t, "product page", body,
		"<h1>Trail Tee</h1>",
		`<label for="option-0">Size</label>`,
		`<option value="S">S</option>`,
		// The first variant in stock is preselected: S has none left.
		`<option value="M" selected>M</option>`,
		`<span id="price">$34.00</span>`,
		`<s id="compare">$39.00</s>`,
		`<span id="sku">TEE-M</span>`,
		`"sku":"TEE-S"`, `"in_stock":false`, `"stock":3`,
		`"salesagent:cart:"`,
		`data-product="trail-tee"`,
		`data-shop-key="`+b.shop.WidgetKey+`"`,
		"A light merino tee",
		"Add to cart",
	)

	status, _, body = b.get(t, "/shop/"+b.shop.Slug+"/products/no-such-thing")
	if status != http.StatusNotFound || !strings.Contains(body, "Product &#34;no-such-thing&#34; not found") {
		t.Errorf("unknown product: status %d, body %s", status, body)
	}
	status, _, body = b.get(t, "/shop/no-such-shop-here/products/trail-tee")
	if status != http.StatusNotFound {
		t.Errorf("unknown shop: status %d, want 404", status)
	}
	assertContains(t, "unknown shop page", body, "Shop &#34;no-such-shop-here&#34; not found", "lists the shops", `<a href="/">`)
	status, _, _ = b.get(t, "/shop/Bad%20Slug")
	if status != http.StatusNotFound {
		t.Errorf("invalid slug: status %d, want 404", status)
	}
}

func TestPageTitlesNameShopOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		path, title string
	}{
		{"/shop/" + b.shop.Slug, b.shop.Name},
		{"/shop/" + b.shop.Slug + "?page=2", "Page 2 · " + b.shop.Name},
		{"/shop/" + b.shop.Slug + "/products/trail-tee", "Trail Tee · " + b.shop.Name},
		{"/shop/no-such-shop", "Not Found"},
	}
	for _, tc := range cases {
		_, _, body := b.get(t, tc.path)
		if want := "<title>" + tc.title + "</title>"; !strings.Contains(body, want) {
			start := strings.Index(body, "<title>")
			end := strings.Index(body, "</title>")
			t.Errorf("%s: title %q, want %q", tc.path, body[max(start, 0):max(end, 0)], want)
		}
	}
}

func TestProductDescriptionParagraphsAndLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.db.UpsertProducts(context.Background(), b.shop.ID, []salesagent.Product{{
		ExternalID: "jacket-1", Handle: "rain-jacket", Title: "Rain Jacket",
		Description: "A shell for wet days.\nPacks small.\n\n- Fit: true to size\n- Care: wash <cold> & dry low\n\nMade in Portugal.",
		Variants:    []salesagent.Variant{{ExternalID: "j1", SKU: "JKT-M", Price: 12000, Available: true}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := b.get(t, "/shop/"+b.shop.Slug+"/products/rain-jacket")
	if status != http.StatusOK {
		t.Fatalf("status %d, body %s", status, body)
	}
	assertContains(t, "description", body,
		"<p>A shell for wet days.<br>Packs small.</p>",
		"<ul><li>Fit: true to size</li><li>Care: wash &lt;cold&gt; &amp; dry low</li></ul>",
		"<p>Made in Portugal.</p>",
	)
	if strings.Contains(body, "- Fit") {
		t.Error("description keeps the list marker \"- \" in the page")
	}
}

func TestDescriptionBlocks(t *testing.T) {
	t.Parallel()
	got := descriptionBlocks("Intro\n- a\n-  b \nAfter list\n\n\n  \n- c\n-\nEnd line\nsecond")
	want := []descriptionBlock{
		{Lines: []string{"Intro"}},
		{Items: []string{"a", "b"}},
		{Lines: []string{"After list"}},
		{Items: []string{"c"}},
		{Lines: []string{"End line", "second"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("descriptionBlocks =\n%q\nwant\n%q", got, want)
	}
	if blocks := descriptionBlocks(" \n\n "); len(blocks) != 0 {
		t.Errorf("blank description gave %q, want no blocks", blocks)
	}
}

func TestCartPageRestoresSavedCart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	token, err := b.db.SaveCart(ctx, b.shop.ID, nil, nil, []salesagent.CartItem{
		{SKU: "TEE-M", Quantity: 2}, {SKU: "TEE-L", Quantity: 1}, {SKU: "GONE-1", Quantity: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := b.get(t, "/shop/"+b.shop.Slug+"/cart/"+token)
	if status != http.StatusOK {
		t.Fatalf("status = %d, body %s", status, body)
	}
	assertContains(t, "cart page", body,
		"Trail Tee", "Size: M", "$68.00", "Size: L", "$36.00",
		`<td class="num" id="cart-total">$104.00</td>`,
		"SKU GONE-1 is no longer sold",
		// Only the lines still sold go back into the browser's cart.
		`var items = [{"sku":"TEE-M","qty":2},{"sku":"TEE-L","qty":1}];`,
		`<th scope="col">Product</th>`,
	)

	status, _, body = b.get(t, "/shop/"+b.shop.Slug+"/cart/unknown-token")
	if status != http.StatusNotFound || !strings.Contains(body, "saved cart link is unknown") {
		t.Errorf("unknown cart: status %d", status)
	}

	// A cart token of one shop does not open in another.
	other := newShop(t, b.db)
	status, _, _ = b.get(t, "/shop/"+other.Slug+"/cart/"+token)
	if status != http.StatusNotFound {
		t.Errorf("cart of shop %s opened in shop %s: status %d", b.shop.Slug, other.Slug, status)
	}
}

func TestWidgetAssets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, contentType := range map[string]string{
		"/widget.js":  "text/javascript; charset=utf-8",
		"/widget.css": "text/css; charset=utf-8",
	} {
		status, header, body := b.get(t, path)
		if status != http.StatusOK || header.Get("Content-Type") != contentType || len(body) < 1000 {
			t.Errorf("%s: status %d, type %q, %d bytes", path, status, header.Get("Content-Type"), len(body))
			continue
		}
		etag := header.Get("ETag")
		status, _, _ = b.get(t, path, "If-None-Match", etag)
		if etag == "" || status != http.StatusNotModified {
			t.Errorf("%s: revalidation with ETag %q got %d, want 304", path, etag, status)
		}
	}

	_, _, js := b.get(t, "/widget.js")
	for _, external := range []string{"https://", "http://", "cdn", "fonts.googleapis"} {
		if strings.Contains(stripComments(js), external) {
			t.Errorf("widget.js refers to %q; it must load nothing from other hosts", external)
		}
	}
	assertContains(t, "widget.js", js, `attachShadow`, `"role", "dialog"`, `"aria-live", "polite"`, `"Escape"`, `th.scope = "col"`)
	_, _, css := b.get(t, "/widget.css")
	assertContains(t, "widget.css", css, "@media (max-width: 480px)")
}

// stripComments drops /* */ comments, where widget.js documents its tag.
func stripComments(js string) string {
	var out strings.Builder
	for {
		start := strings.Index(js, "/*")
		if start < 0 {
			out.WriteString(js)
			return out.String()
		}
		out.WriteString(js[:start])
		end := strings.Index(js[start:], "*/")
		if end < 0 {
			return out.String()
		}
		js = js[start+end+2:]
	}
}

func TestWidgetInfoAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, header, body := b.get(t, "/api/shops/"+b.shop.Slug+"/widget")
	if status != http.StatusOK || header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", status, header.Get("Content-Type"))
	}
	var info WidgetInfo
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	if info.ShopKey != b.shop.WidgetKey || info.Name != b.shop.Name || info.Slug != b.shop.Slug {
		t.Errorf("info = %+v", info)
	}

	status, _, body = b.get(t, "/api/shops/missing-shop/widget")
	if status != http.StatusNotFound || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("unknown shop: status %d, body %s", status, body)
	}
}

func TestSocketEndpointNeedsUpgrade(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, _, body := b.get(t, "/ws")
	if status != http.StatusUpgradeRequired || !strings.Contains(body, "WebSocket") {
		t.Errorf("plain GET /ws: status %d, body %q", status, body)
	}
}
