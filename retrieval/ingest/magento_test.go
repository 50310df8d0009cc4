package ingest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestMagentoLumaCatalog(t *testing.T) {
	t.Parallel()
	raw := sharedData(t, "magento-luma-catalog", "raw")
	batch, rowErrs, err := ParsePaths([]string{raw}, "", nil)
	if err != nil {
		t.Fatalf("ParsePaths(%s): %v", raw, err)
	}

	configurable, configurableVariants := 0, 0
	gear, gearVariants := 0, 0
	types := map[string]int{}
	for _, p := range batch.Products {
		types[p.ProductType]++
		if strings.HasPrefix(p.ExternalID, "24-") {
			gear++
			gearVariants += len(p.Variants)
			continue
		}
		configurable++
		configurableVariants += len(p.Variants)
	}
	if configurable != 147 || configurableVariants != 1847 {
		t.Errorf("configurable products %d with %d variants, want 147 with 1847", configurable, configurableVariants)
	}
	// 44 gear rows: the 9 stasis-ball rows make 3 products (one per size,
	// a variant per colour), the other 35 rows one product each.
	if gear != 38 || gearVariants != 44 {
		t.Errorf("gear products %d with %d variants, want 38 with 44", gear, gearVariants)
	}

	wantTypes := map[string]int{
		"Jackets": 23, "Tees": 24, "Hoodies & Sweatshirts": 25, "Tanks": 12, "Bras & Tanks": 14,
		"Pants": 25, "Shorts": 24, "Bags": 14, "Fitness Equipment": 15, "Watches": 9,
	}
	for productType, want := range wantTypes {
		if types[productType] != want {
			t.Errorf("%d products of type %q, want %d (all types: %v)", types[productType], productType, want, types)
		}
	}

	jacket := productByID(t, batch, "MJ01")
	if jacket.Title != "Beaumont Summit Kit" || jacket.Handle != "beaumont-summit-kit" || jacket.ProductType != "Jackets" {
		t.Errorf("MJ01 = %q / %q / %q", jacket.Title, jacket.Handle, jacket.ProductType)
	}
	if got := distinctOption(jacket, "Size"); !slices.Equal(got, []string{"XS", "S", "M", "L", "XL"}) {
		t.Errorf("MJ01 sizes = %q", got)
	}
	if got := distinctOption(jacket, "Color"); !slices.Equal(got, []string{"Orange", "Red", "Yellow"}) {
		t.Errorf("MJ01 colours = %q", got)
	}
	mRed := variantBySKU(t, jacket, "MJ01-M-Red")
	if mRed.Price != money(t, "42") || stockOf(mRed) != 100 || !mRed.InStock() || mRed.Title != "M / Red" {
		t.Errorf("MJ01-M-Red: price %s stock %d in stock %v title %q", mRed.Price, stockOf(mRed), mRed.InStock(), mRed.Title)
	}
	if jacket.Attributes["gender"] != "Men" || jacket.Attributes["material"] != "Fleece, LumaTech™, Polyester" {
		t.Errorf("MJ01 attributes = %v", jacket.Attributes)
	}
	if strings.Contains(jacket.Description, "<") || !strings.Contains(jacket.Description, "• Stand-up collar.") {
		t.Errorf("MJ01 description not converted to text: %q", jacket.Description)
	}
	if jacket.Attributes["reviews"] != "2" || jacket.Attributes["rating"] != "4.5" {
		t.Errorf("MJ01 reviews %q rating %q, want 2 and 4.5", jacket.Attributes["reviews"], jacket.Attributes["rating"])
	}

	if got := productByID(t, batch, "MJ10").Title; got != "Mars HeatTech™ Pullover" {
		t.Errorf("MJ10 title = %q, want the entity decoded", got)
	}
	if got := productByID(t, batch, "MJ06").Variants[0].Price; got != money(t, "56.99") {
		t.Errorf("MJ06 price = %s, want 56.99", got)
	}

	ball := productByID(t, batch, "24-WG081")
	if ball.Title != "Sprite Stasis Ball 55 cm" || len(ball.Variants) != 3 || ball.ProductType != "Fitness Equipment" {
		t.Errorf("stasis ball = %q with %d variants, type %q", ball.Title, len(ball.Variants), ball.ProductType)
	}
	if got := distinctOption(ball, "Color"); !slices.Equal(got, []string{"Gray", "Red", "Blue"}) {
		t.Errorf("stasis ball colours = %q", got)
	}
	duffle := productByID(t, batch, "24-MB01")
	if duffle.Attributes["rating"] != "2.5" || duffle.Attributes["reviews"] != "2" || !strings.Contains(duffle.Attributes["review_summary"], `"I prefer more compartments"`) {
		t.Errorf("24-MB01 review attributes = %v", duffle.Attributes)
	}

	attached := 0
	for _, p := range batch.Products {
		if p.Attributes["reviews"] != "" {
			attached++
		}
	}
	// 181 SKUs have reviews, and 56 of them (boots, socks, polos and
	// more) are not in the sample catalog, so Magento skips them too.
	if attached != 125 {
		t.Errorf("%d products got reviews, want 125", attached)
	}
	// Reviews of products missing from the files are counted, not
	// rejected, so they cannot block --prune.
	noRowErrors(t, rowErrs)
	if got := len(batch.SkippedReviews.SKUs); got != 56 {
		t.Errorf("%d unknown review SKUs counted, want 56", got)
	}
	if batch.SkippedReviews.Count < 56 {
		t.Errorf("%d reviews skipped, want at least one per unknown SKU", batch.SkippedReviews.Count)
	}
	summary := batch.SkippedReviews.String()
	if strings.Contains(summary, "\n") || !strings.Contains(summary, "and 51 more") {
		t.Errorf("skipped reviews summary = %q, want one line with 5 example SKUs and 51 more", summary)
	}

	handles, skus := map[string]bool{}, map[string]bool{}
	for _, p := range batch.Products {
		if handles[p.Handle] {
			t.Errorf("handle %q used twice", p.Handle)
		}
		handles[p.Handle] = true
		for _, v := range p.Variants {
			if skus[v.SKU] {
				t.Errorf("SKU %q used twice", v.SKU)
			}
			skus[v.SKU] = true
		}
	}
}

func TestMagentoCustomerServicePage(t *testing.T) {
	t.Parallel()
	path := sharedData(t, "magento-luma-catalog", "raw", "CmsSampleData", "pages.csv")
	batch, rowErrs := mustParse(t, path, "")
	noRowErrors(t, rowErrs)

	var policyTitles []string
	for _, d := range batch.Documents {
		if strings.ContainsAny(d.Body, "<>") || strings.Contains(d.Body, "{{") {
			t.Errorf("document %q still has markup: %q", d.Title, d.Body)
		}
		if strings.HasPrefix(d.Key, "customer-service/") {
			if d.Kind != salesagent.KindPolicy {
				t.Errorf("customer service section %q has kind %q, want policy", d.Title, d.Kind)
			}
			policyTitles = append(policyTitles, d.Title)
		}
	}
	want := []string{"Luma Delivery and Returns", "Shipping and Delivery", "Returns and Replacements", "Returning Gifts", "Returning Merchandise by Mail"}
	if !slices.Equal(policyTitles, want) {
		t.Errorf("customer service sections = %q, want %q", policyTitles, want)
	}

	shipping := documentByTitle(t, batch, "Shipping and Delivery")
	for _, line := range []string{"Up to $200 | $16 | $26 | $33", "Over $1000.00 | $34 | $44 | $51", "Orders arrive in 7 to 9 business days"} {
		if !strings.Contains(shipping.Body, line) {
			t.Errorf("shipping section lacks %q:\n%s", line, shipping.Body)
		}
	}
	returns := documentByTitle(t, batch, "Returns and Replacements")
	if !strings.Contains(returns.Body, "within 30 days of receipt") {
		t.Errorf("returns section = %q", returns.Body)
	}
	if about := documentByTitle(t, batch, "About us"); about.Kind != salesagent.KindPage {
		t.Errorf("About us kind = %q, want page", about.Kind)
	}
}

func TestMagentoCatalogBadRows(t *testing.T) {
	t.Parallel()
	const catalog = `sku,store_view_code,attribute_set_code,product_type,categories,name,description,price,special_price,url_key,additional_attributes,qty,is_in_stock,configurable_variations
TS1-S-Red,,Top,simple,,Tee-S-Red,,20.000000,,,"size=S,color=Red",7,1,
TS1-M-Red,,Top,simple,,Tee-M-Red,,twenty,,,"size=M,color=Red",7,1,
TS1-L-Red,,Top,simple,,Tee-L-Red,,,,,"size=L,color=Red",0,0,
TS1,,Top,configurable,"Default Category/Women/Tops/Tees,Default Category/Promotions/Tees",Tee &amp; Co,<p>Soft.</p>,20,15,,"material=Cotton|Modal,has_options=1",0,1,"sku=TS1-S-Red,size=S,color=Red|sku=TS1-M-Red,size=M,color=Red|sku=TS1-L-Red,size=L,color=Red|sku=TS1-XL-Red,size=XL,color=Red"
TS1,fr,Top,configurable,,Tee FR,<p>Doux.</p>,20,,,,0,1,
`
	path := writeTemp(t, "products.csv", catalog)
	batch, rowErrs := mustParse(t, path, FormatMagentoCSV)

	if len(rowErrs) != 2 {
		t.Fatalf("got row errors %v, want 2", rowErrs)
	}
	if e, ok := findRowError(rowErrs, `invalid price "twenty"`); !ok || e.Line != 3 || e.Field != "price" {
		t.Errorf("bad price error = %+v (found %v), want line 3 field price", e, ok)
	}
	if e, ok := findRowError(rowErrs, `no simple product row with sku "TS1-XL-Red"`); !ok || e.Line != 5 || e.Field != "configurable_variations" {
		t.Errorf("missing child error = %+v (found %v), want line 5 field configurable_variations", e, ok)
	}

	if len(batch.Products) != 1 {
		t.Fatalf("got %d products, want 1 (the store-view row only translates)", len(batch.Products))
	}
	tee := batch.Products[0]
	if tee.Title != "Tee & Co" || tee.Handle != "tee-co" || tee.ProductType != "Tees" || tee.Description != "Soft." {
		t.Errorf("tee = %q / %q / %q / %q", tee.Title, tee.Handle, tee.ProductType, tee.Description)
	}
	if tee.Attributes["material"] != "Cotton, Modal" || tee.Attributes["gender"] != "Women" || !slices.Equal(tee.Tags, []string{"Tees"}) {
		t.Errorf("tee attributes %v tags %q", tee.Attributes, tee.Tags)
	}
	if len(tee.Variants) != 2 {
		t.Fatalf("tee variants = %+v, want S and L", tee.Variants)
	}
	small, large := tee.Variants[0], tee.Variants[1]
	if small.Price != money(t, "20") || stockOf(small) != 7 || !small.InStock() {
		t.Errorf("small: price %s stock %d", small.Price, stockOf(small))
	}
	if large.Price != money(t, "15") || large.CompareAtPrice == nil || *large.CompareAtPrice != money(t, "20") {
		t.Errorf("large takes the parent's price and special price: price %s compare-at %v", large.Price, large.CompareAtPrice)
	}
	if large.Available {
		t.Error("variant with is_in_stock 0 is available")
	}
}

func TestMagentoGearBadRows(t *testing.T) {
	t.Parallel()
	const gear = "category,name,sku,price,qty,description,material,eco_collection,attribute_set\n" +
		"\"Gear\nBags\",Day Pack,B-1,30,lots,<p>Pack.</p>,\"Nylon\nMesh\",1,Bag\n" +
		"\"Gear\nBags\nCollections\nErin Recommends\",Tote,B-2,25,3,<p>Tote.</p>,\"Canvas\nCotton\",1,Bag\n"
	path := writeTemp(t, "products_gear_bags.csv", gear)
	batch, rowErrs := mustParse(t, path, "")

	e, ok := findRowError(rowErrs, `invalid quantity "lots"`)
	if len(rowErrs) != 1 || !ok || e.Line != 2 || e.Field != "qty" {
		t.Fatalf("row errors = %v, want one for qty on line 2", rowErrs)
	}
	// The day pack's only row was rejected, so nothing of it is stored.
	if len(batch.Products) != 1 || batch.Products[0].ExternalID != "B-2" {
		t.Errorf("products = %+v, want the tote alone", batch.Products)
	}
	tote := productByID(t, batch, "B-2")
	if tote.ProductType != "Bags" || !slices.Equal(tote.Tags, []string{"Erin Recommends"}) || stockOf(tote.Variants[0]) != 3 {
		t.Errorf("tote type %q tags %q stock %d", tote.ProductType, tote.Tags, stockOf(tote.Variants[0]))
	}
	if got := tote.Attributes; got["material"] != "Canvas, Cotton" || got["eco_collection"] != "Yes" {
		t.Errorf("tote attributes = %v, want material Canvas, Cotton and eco_collection Yes", got)
	}
}

func TestMagentoReviewsJoinAcrossFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gear := "category,name,sku,price,qty,description\n\"Gear\nWatches\",Clock,W-1,10,1,<p>Tick.</p>\n"
	reviews := "sku,rating_code,rating_value,title,review,reviewer,email\nW-1,Rating,4,Good,Fine.,Ann,\nW-1,Rating,3,Okay,Meh.,Bo,\nW-9,Rating,5,Gone,Where?,Cy,\nW-1,Rating,9,Broken,Bad row.,Di,\n"
	gearPath := filepath.Join(dir, "products_gear_watches.csv")
	reviewPath := filepath.Join(dir, "products_reviews.csv")
	for path, content := range map[string]string{gearPath: gear, reviewPath: reviews} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	batch, rowErrs, err := ParsePaths([]string{reviewPath, gearPath}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := productByID(t, batch, "W-1")
	if clock.Attributes["reviews"] != "2" || clock.Attributes["rating"] != "3.5" || clock.Attributes["review_summary"] != `4/5 "Good"; 3/5 "Okay"` {
		t.Errorf("clock review attributes = %v", clock.Attributes)
	}
	if e, ok := findRowError(rowErrs, `invalid rating "9"`); !ok || e.Line != 5 {
		t.Errorf("bad rating error = %+v (found %v), want line 5", e, ok)
	}
	if len(rowErrs) != 1 {
		t.Errorf("row errors = %v, want only the bad rating", rowErrs)
	}
	if got := batch.SkippedReviews; got.Count != 1 || !slices.Equal(got.SKUs, []string{"W-9"}) {
		t.Errorf("skipped reviews = %+v, want one review of W-9", got)
	}
	want := "skipped 1 review of 1 product not loaded from these files (SKU W-9)"
	if got := batch.SkippedReviews.String(); !strings.HasPrefix(got, want) {
		t.Errorf("skipped reviews summary = %q, want it to start with %q", got, want)
	}
}

// The ingest command skips --prune when ParsePaths returns any RowError,
// because a rejected product would look missing. Reviews of products
// missing from the files must not count, and a rejected product must.
func TestPruneGuardIgnoresUnknownReviews(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"products_gear_watches.csv": "category,name,sku,price,qty,description\nGear/Watches,Clock,W-1,10,1,<p>Tick.</p>\n",
		"products_reviews.csv": "sku,rating_code,rating_value,title,review,reviewer,email\n" +
			"W-1,Rating,4,Good,Fine.,Ann,\nBOOT-1,Rating,5,Warm,Cosy.,Bo,\nBOOT-1,Rating,2,Tight,Small.,Cy,\nSOCK-7,Rating,3,Fine,Okay.,Di,\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	batch, rowErrs, err := ParsePaths([]string{dir}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	noRowErrors(t, rowErrs)
	if got := batch.SkippedReviews; got.Count != 3 || !slices.Equal(got.SKUs, []string{"BOOT-1", "SOCK-7"}) {
		t.Errorf("skipped reviews = %+v, want 3 reviews of BOOT-1 and SOCK-7", got)
	}
	want := "skipped 3 reviews of 2 products not loaded from these files (SKUs BOOT-1, SOCK-7)"
	if got := batch.SkippedReviews.String(); !strings.HasPrefix(got, want) {
		t.Errorf("summary = %q, want it to start with %q", got, want)
	}
	if clock := productByID(t, batch, "W-1"); clock.Attributes["reviews"] != "1" {
		t.Errorf("clock reviews = %q, want the 1 review of a known SKU", clock.Attributes["reviews"])
	}
}

func TestPruneGuardCountsRejectedProduct(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"products_gear_watches.csv": "category,name,sku,price,qty,description\n" +
			"Gear/Watches,Clock,W-1,10,1,<p>Tick.</p>\nGear/Watches,Timer,W-2,ten,1,<p>Tock.</p>\n",
		"products_reviews.csv": "sku,rating_code,rating_value,title,review,reviewer,email\nW-2,Rating,4,Good,Fine.,Ann,\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	batch, rowErrs, err := ParsePaths([]string{dir}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := findRowError(rowErrs, `"ten"`); !ok || e.File != "products_gear_watches.csv" || e.Line != 3 {
		t.Errorf("price row error = %+v (found %v), want products_gear_watches.csv line 3; all row errors: %v", e, ok, rowErrs)
	}
	if len(batch.Products) != 1 {
		t.Errorf("%d products, want only the clock", len(batch.Products))
	}
	// The timer's review is skipped, but the timer's own row error is what
	// keeps --prune from removing it.
	if got := batch.SkippedReviews; got.Count != 1 || !slices.Equal(got.SKUs, []string{"W-2"}) {
		t.Errorf("skipped reviews = %+v, want the timer's review", got)
	}
}
