package agent

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

// assertContains checks that reply contains each of want and none of deny.
func assertContains(t *testing.T, message, reply string, want, deny []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(reply, w) {
			t.Errorf("reply to %q = %q, want it to contain %q", message, reply, w)
		}
	}
	for _, d := range deny {
		if strings.Contains(reply, d) {
			t.Errorf("reply to %q = %q, want no %q", message, reply, d)
		}
	}
}

// tileInStock returns whether a products card of m shows the product with
// the given handle, and its stock flag.
func tileInStock(m salesagent.Message, handle string) (shown, inStock bool) {
	for _, card := range m.Cards {
		for _, tile := range card.Products {
			if tile.Handle == handle {
				return true, tile.InStock
			}
		}
	}
	return false, false
}

func TestNamedVariantStockWithoutPage(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	cases := []struct {
		text, handle string
		want, deny   []string
	}{
		{
			text:   "Do you have the Everyday Organic Cotton Tee in medium white?",
			handle: "everyday-organic-tee",
			want:   []string{"The Everyday Organic Cotton Tee in White, size M is sold out right now.", "Size M is in stock in Black."},
			deny:   []string{"Everyday Organic Cotton Tee ($32.00, in stock)", "Yes"},
		},
		{
			text:   "Is the Kestrel sleeping bag available in Long?",
			handle: "kestrel-20-sleeping-bag",
			want:   []string{"The Kestrel 20 Down Sleeping Bag in Long is sold out right now.", "Regular"},
			deny:   []string{"Longtrail", "Yes"},
		},
		{
			text:   "Is the Everyday Organic Cotton Tee in stock in small white?",
			handle: "everyday-organic-tee",
			want:   []string{"Yes, the Everyday Organic Cotton Tee in size S, White is in stock at $32.00."},
		},
	}
	for _, tc := range cases {
		got := b.say(t, tc.text, PageContext{})
		assertContains(t, tc.text, got.reply.Body, tc.want, tc.deny)
		if shown, inStock := tileInStock(got.reply, tc.handle); shown && inStock && strings.Contains(got.reply.Body, "sold out") {
			t.Errorf("reply to %q shows an in-stock tile for %s beside a sold-out variant", tc.text, tc.handle)
		}
		if !hasProductCitation(got.reply, tc.handle, b) {
			t.Errorf("reply to %q does not cite %s: %+v", tc.text, tc.handle, got.reply.Citations)
		}
	}
}

// hasProductCitation reports whether m cites the product with handle.
func hasProductCitation(m salesagent.Message, handle string, b *bundle) bool {
	p, err := b.db.ProductByHandle(context.Background(), b.shop.ID, handle)
	if err != nil {
		return false
	}
	for _, c := range m.Citations {
		if c.ProductID == p.ID {
			return true
		}
	}
	return false
}

func TestSearchTileUsesNamedVariant(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	tb := b.toolbox(t, PageContext{})
	result, err := tb.Call(context.Background(), "search_products", json.RawMessage(`{"query": "Everyday Organic Cotton Tee in medium white"}`))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range result.Data.(SearchProductsData).Products {
		if p.Handle != "everyday-organic-tee" {
			continue
		}
		found = true
		if p.InStock {
			t.Errorf("tee summary %+v says in stock, but size M in White has no stock", p)
		}
		if p.Options != "White, size M" {
			t.Errorf("tee summary options = %q, want %q", p.Options, "White, size M")
		}
	}
	if !found {
		t.Fatalf("search found no tee: %+v", result.Data)
	}
	if shown, inStock := tileInStock(salesagent.Message{Cards: []salesagent.Card{*result.Card}}, "everyday-organic-tee"); !shown || inStock {
		t.Errorf("tee tile shown %v, in stock %v; want a sold-out tile", shown, inStock)
	}
}

func TestShippingToNamedCountries(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	domestic := []string{"$6.95", "$14.95", "Alaska"}
	cases := []struct {
		text       string
		want, deny []string
	}{
		{"How much is shipping to Germany?", []string{"European Union: Cost $24.95; Delivery time 7–12 business days."}, append([]string{"Canada:"}, domestic...)},
		{"How long does shipping to the UK take?", []string{"United Kingdom: Cost $24.95; Delivery time 6–10 business days."}, domestic},
		{"Do you ship to Scotland?", []string{"United Kingdom"}, domestic},
		{"How much is shipping to England?", []string{"United Kingdom: Cost $24.95; Delivery time 6–10 business days."}, domestic},
		{
			"Can you ship to Australia?",
			[]string{"Australia isn't among the destinations in our shipping information.", "We do not ship to other countries yet."},
			append([]string{"$24.95"}, domestic...),
		},
	}
	for _, tc := range cases {
		got := b.say(t, tc.text, PageContext{})
		assertContains(t, tc.text, got.reply.Body, tc.want, tc.deny)
		if !hasCitation(got.reply, salesagent.KindFAQ, b.docIDs["international"]) {
			t.Errorf("reply to %q does not cite the international shipping FAQ: %+v", tc.text, got.reply.Citations)
		}
	}
}

// A domestic cost question must get the domestic rates, not a sentence
// that shares only "within" and the pronoun "us" with it.
func TestShippingWithinTheUS(t *testing.T) {
	t.Parallel()
	docs := append(outfittersDocuments(), salesagent.Document{
		Kind: salesagent.KindFAQ, Source: "test", Key: "tracking", Title: "How do I track my parcel?",
		Body: "We email a tracking link when each parcel ships. If a parcel shows as delivered but has not arrived, contact us within 14 days and we will open a claim with the carrier.",
	})
	for i, d := range docs {
		if d.Key == "us-shipping" {
			docs[i].Body = strings.Replace(d.Body, "delivered 1–2 business days after your order ships.", "delivered 1–2 business days after your order ships. Express is available to the 48 contiguous states only.", 1)
		}
	}
	b := setupCatalog(t, outfittersCatalog(), docs)

	text := "How much is shipping within the US?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body, []string{"$6.95", "$75"}, []string{"14 days", "$24.95"})
	if !hasCitation(got.reply, salesagent.KindFAQ, b.docIDs["us-shipping"]) {
		t.Errorf("reply to %q does not cite the US shipping FAQ: %+v", text, got.reply.Citations)
	}
}

func TestPlacesIn(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"shipping to Germany?":                {"DE"},
		"do you ship to the U.K.":             {"GB"},
		"England or Scotland":                 {"GB"},
		"Papua New Guinea please":             {"PG"},
		"can you send it to us in Texas?":     nil,
		"Australia and New Zealand":           {"AU", "NZ"},
		"How much is shipping within the US?": {"US"},
	}
	for text, want := range cases {
		var got []string
		for _, p := range placesIn(text) {
			got = append(got, p.code)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("placesIn(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestProductSearchFiltersByNamedType(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	cases := []struct {
		text       string
		want, deny []string
	}{
		{"I need a waterproof jacket under $120", []string{"Squall Packable Rain Shell ($99.00, in stock)"}, []string{"Fleece", "Daypack", "Ridgeline", "Backpack"}},
		{"Show me hiking boots under $150", []string{"Cascade Mid Waterproof Boot ($139.00, down from $159.00, in stock)"}, []string{"Shorts", "Pants", "Granite"}},
	}
	for _, tc := range cases {
		got := b.say(t, tc.text, PageContext{})
		assertContains(t, tc.text, got.reply.Body, tc.want, tc.deny)
	}
}

func TestProductTypeNamed(t *testing.T) {
	t.Parallel()
	types := []string{"Jackets", "Fleece", "Boots", "Shoes", "T-Shirts", "Sleeping Bags", "Backpacks", "Hoodies & Sweatshirts"}
	cases := map[string]string{
		"waterproof jacket":         "Jackets",
		"a rain shell":              "Jackets",
		"hiking boots":              "Boots",
		"trail sneakers":            "Shoes",
		"a plain tee":               "T-Shirts",
		"a warm sleeping bag":       "Sleeping Bags",
		"a hoodie":                  "Hoodies & Sweatshirts",
		"a fleece jacket":           "",
		"something for the weekend": "",
	}
	for text, want := range cases {
		if got := productTypeNamed(text, types); got != want {
			t.Errorf("productTypeNamed(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestCompareNamedProducts(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	text := "What's the difference between the Scree and the Tempo?"
	got := b.say(t, text, PageContext{})

	assertContains(t, text, got.reply.Body, []string{
		"Scree Trail Runner: $135.00, in stock in sizes 7, 8, 9 and 10, sold out in size 11.",
		"Tempo Road-to-Trail Shoe: $89.00, down from $119.00, in stock in sizes 7, 8, 9, 10 and 11.",
		"Fit: narrow through the midfoot and runs about a half size small.",
		"Fit: true to size, standard width with a roomy toe box.",
		"Specs: 6 mm heel-to-toe drop, 5 mm lugs, rock plate.",
	}, []string{"Boot", "Tee", "Jacket"})
	if strings.Index(got.reply.Body, "Scree Trail Runner:") > strings.Index(got.reply.Body, "Tempo Road-to-Trail Shoe:") {
		t.Errorf("reply %q compares in another order than the message names the products", got.reply.Body)
	}
	for _, handle := range []string{"scree-trail-runner", "tempo-road-to-trail-shoe"} {
		if shown, _ := tileInStock(got.reply, handle); !shown {
			t.Errorf("comparison shows no tile for %s: %+v", handle, got.reply.Cards)
		}
	}
}

func TestSaleListUnderPrice(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	text := "Anything on sale for under $50?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body,
		[]string{"Trail Tech Tee ($29.00, down from $38.00, in stock)", "Ledge Hiking Shorts ($44.00, down from $58.00, in stock)"},
		[]string{"Cascade", "Tempo", "Harbor", "Everyday"})
}

func TestWarmestJacketFromDescriptions(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	text := "Which of your jackets is the warmest?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body,
		[]string{`The Summit 800 Down Jacket ($229.00) description says: "Our warmest jacket for its weight.`, "800-fill-power goose down"},
		[]string{"Harbor", "warm gentle cycle", "re-proof"})
	for _, title := range []string{"Ridgeline Rain Jacket", "Squall Packable Rain Shell"} {
		if !strings.Contains(got.reply.Body, title) {
			t.Errorf("reply %q does not name the %s as stating no insulation", got.reply.Body, title)
		}
	}
}

func TestSizeRecommendationFromTable(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	ridgeline := PageContext{ProductHandle: "ridgeline-rain-jacket"}
	cases := []struct {
		text       string
		page       PageContext
		want, deny []string
	}{
		{"I have a 39 inch chest, which size?", ridgeline, []string{"In our Jackets size guide, a 39 in chest is size M (Chest (in) 38–40)."}, []string{"size L"}},
		{"My chest is 99 cm, what size should I get?", ridgeline, []string{"a 99 cm chest is size M (Chest (cm) 97–102)."}, nil},
		{"I have a 37.5 inch chest, which size?", ridgeline, []string{"falls between size S (Chest (in) 35–37) and size M (Chest (in) 38–40).", "take the larger size"}, nil},
		{
			"I have a 39 inch chest, which size?", PageContext{ProductHandle: "squall-packable-shell"},
			[]string{"a 39 in chest is size M", `"Fit: runs small and trim through the chest and shoulders." So go one size up from size M, to size L.`}, nil,
		},
		{
			"I wear a women's 9.5, what size Cascade boot?", PageContext{},
			[]string{"In our Boots size guide, US Women's 9.5 is US 8.", `"Fit: runs a half size small." So go one size up from US 8, to US 9.`, "Size 9 is in stock in Black and sold out in Tan."}, nil,
		},
		{
			"I'm 5'10 180lb, which size?", ridgeline,
			[]string{"Our Jackets size guide goes by chest, waist and sleeve, not by height or weight. What is your chest measurement?"}, []string{"size M"},
		},
	}
	for _, tc := range cases {
		got := b.say(t, tc.text, tc.page)
		assertContains(t, tc.text, got.reply.Body, tc.want, tc.deny)
		if cardOf(got.reply, salesagent.CardSizeGuide) == nil {
			t.Errorf("reply to %q has no size guide card", tc.text)
		}
	}
}

func TestMeasuresIn(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"I have a 39 inch chest":    "chest 39 in",
		"my waist is 81 cm":         "waist 81 cm",
		"32\" waist":                "waist 32 in",
		"I'm 5'10":                  "height 70 in",
		"I wear a women's 9.5":      "shoe 9.5 women",
		"size 10 in men's":          "shoe 10 men",
		"hips 40, what size pants?": "hip 40 ",
	}
	for text, want := range cases {
		measures, _ := measuresIn(text)
		if len(measures) == 0 {
			t.Errorf("measuresIn(%q) found nothing, want %s", text, want)
			continue
		}
		m := measures[0]
		if got := m.part + " " + strconv.FormatFloat(m.value, 'f', -1, 64) + " " + m.unit; got != want {
			t.Errorf("measuresIn(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestFollowUpUsesLastProduct(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	first := b.say(t, "Is the Ridgeline Rain Jacket in stock in medium?", PageContext{})
	if !strings.Contains(first.reply.Body, "Ridgeline Rain Jacket") {
		t.Fatalf("first reply %q is not about the Ridgeline", first.reply.Body)
	}

	text := "What about large in black?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body,
		[]string{"The Ridgeline Rain Jacket in Black, size L is sold out right now.", "Size L is in stock in Slate."},
		[]string{"not sure"})

	text = "And in slate?"
	got = b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body, []string{"Ridgeline Rain Jacket", "Slate"}, []string{"not sure"})
}

func TestFollowUpAfterSeveralProductsAsksWhich(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	b.say(t, "Show me rain jackets", PageContext{})
	text := "Do you have it in large?"
	got := b.say(t, text, PageContext{})
	if !strings.HasPrefix(got.reply.Body, "Which one do you mean: the ") {
		t.Errorf("reply to %q = %q, want a question naming the jackets shown", text, got.reply.Body)
	}
}

func TestPhoneNumberQuotesContactFAQ(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	text := "What's your phone number?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body,
		[]string{"1-800-555-0142", "support@outfitters.example", "Monday to Friday, 8 a.m. to 6 p.m."},
		[]string{"asked a person"})
	if len(got.stream.ofType(StreamHandoff)) != 0 {
		t.Errorf("a phone number question handed the chat to a person")
	}
	if !hasCitation(got.reply, salesagent.KindFAQ, b.docIDs["contact"]) {
		t.Errorf("citations %+v do not cite the contact FAQ", got.reply.Citations)
	}

	for _, request := range []string{"can I talk to someone", "call me"} {
		b := setupOutfitters(t)
		got := b.say(t, request, PageContext{})
		if len(got.stream.ofType(StreamHandoff)) != 1 {
			t.Errorf("%q did not hand the chat to a person; reply %q", request, got.reply.Body)
		}
	}
}

func TestQuotesNameTheirSource(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	got := b.say(t, "How much does shipping cost?", PageContext{})
	if !strings.HasPrefix(got.reply.Body, `Our FAQ on shipping says: "`) {
		t.Errorf("reply %q does not open by naming the FAQ", got.reply.Body)
	}
	if strings.Contains(got.reply.Body, `From "`) {
		t.Errorf("reply %q keeps the stiff From heading", got.reply.Body)
	}
	if !hasCitation(got.reply, salesagent.KindFAQ, b.docIDs["us-shipping"]) {
		t.Errorf("citations %+v do not cite the shipping FAQ", got.reply.Citations)
	}
}

// A fit note that says to size down only between sizes must leave a size
// that sits on the chart as it is, and still move one that falls between.
func TestRecommendSizeBetweenSizesNote(t *testing.T) {
	t.Parallel()
	data := SizeGuideData{
		Title:        "Sandals size guide",
		ProductTitle: "Riverbend Sport Sandal",
		FitNotes:     []string{"Fit: runs large.", "If you are between sizes, size down."},
		Table: &salesagent.Table{
			Columns: []string{"US", "US Women's", "Foot length (cm)"},
			Rows:    [][]string{{"7", "8.5", "25.0"}, {"8", "9.5", "25.8"}, {"9", "10.5", "26.7"}},
		},
	}

	got, usedFit := recommendSize("I wear a women's 9.5. Which size should I order in these sandals?", data, nil)
	reply := strings.Join(got, " ")
	assertContains(t, "women's 9.5", reply, []string{"US Women's 9.5 is US 8.", "You are not between sizes, so take US 8."}, []string{"US 7", "one size down"})
	if !usedFit {
		t.Errorf("reply %q quotes the fit note but usedFit is false", reply)
	}

	got, _ = recommendSize("My foot is 26.2 cm long, which size?", data, nil)
	reply = strings.Join(got, " ")
	assertContains(t, "26.2 cm foot", reply, []string{"falls between size 8", `If you are between sizes, size down." So take size 8.`}, []string{"take size 9"})
}

// A question on the sizes of the product in view that has no size guide
// still lists its sizes in stock, and "this fleece jacket" on its page
// asks about it rather than for a search.
func TestSizesInStockWithoutSizeGuide(t *testing.T) {
	t.Parallel()
	b := setupOutfitters(t)
	text := "Which sizes of this fleece jacket can I buy right now?"
	got := b.say(t, text, PageContext{ProductHandle: "harbor-high-pile-fleece"})
	assertContains(t, text, got.reply.Body, []string{"Harbor High-Pile Fleece Jacket is in stock in size S, M, L and XL"}, []string{"Here's what I found"})
	if cardOf(got.reply, salesagent.CardProducts) != nil {
		t.Errorf("reply to %q shows search results for the product in view: %q", text, got.reply.Body)
	}
}

// A shopper whose purchase went on sale asks for the price adjustment
// policy, not for the list of products on sale.
func TestPriceAdjustmentQuotesPolicy(t *testing.T) {
	t.Parallel()
	docs := append(outfittersDocuments(), salesagent.Document{
		Kind: salesagent.KindPolicy, Source: "test", Key: "price-adjustment", Title: "Price Adjustment Policy",
		Body: "If we lower the price of an item within 14 days of your order date, we refund the difference to your original payment method. " +
			"Request the adjustment by chat or email with your order number.\n\n" +
			"Price adjustments don't apply to items bought with a discount code, Final Sale items or gift cards.",
	})
	b := setupCatalog(t, outfittersCatalog(), docs)

	text := "I bought boots last week and now they're on sale for less. Can I get the difference back?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body, []string{"within 14 days of your order date, we refund the difference"}, []string{"$139.00"})
	if cardOf(got.reply, salesagent.CardProducts) != nil {
		t.Errorf("reply to %q lists products on sale: %q", text, got.reply.Body)
	}
	if !hasCitation(got.reply, salesagent.KindPolicy, b.docIDs["price-adjustment"]) {
		t.Errorf("reply to %q does not cite the price adjustment policy: %+v", text, got.reply.Citations)
	}
}

// A fit note never ends in a question cut from its answer.
func TestFitNotesKeepAnswers(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"A merino crew.\n- **Fit:** next-to-skin fit, snug on purpose so it can move sweat away. Between sizes? Take the smaller one to layer, or the larger one to wear on its own.": {
			"Fit: next-to-skin fit, snug on purpose so it can move sweat away.",
			"Between sizes? Take the smaller one to layer, or the larger one to wear on its own.",
		},
		"A tee.\n- Fit: relaxed. Which size?":     {"Fit: relaxed."},
		"A shell that runs small. Between sizes?": {"A shell that runs small."},
	}
	for description, want := range cases {
		got := fitNotes(description)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("fitNotes(%q) = %q, want %q", description, got, want)
		}
	}
}

// A request for help choosing a product type searches that type, even when
// an FAQ entry on caring for it shares the type's name.
func TestHelpChoosingSearchesProducts(t *testing.T) {
	t.Parallel()
	docs := append(outfittersDocuments(), salesagent.Document{
		Kind: salesagent.KindFAQ, Source: "test", Key: "down-care", Title: "How do I wash my down jacket?",
		Body: "Wash down only when it is dirty or has lost its loft. Use a front-loading machine, a down-specific wash and a gentle cycle.",
	})
	b := setupCatalog(t, outfittersCatalog(), docs)

	text := "Can you help me choose a jacket?"
	got := b.say(t, text, PageContext{})
	assertContains(t, text, got.reply.Body, []string{"Ridgeline Rain Jacket"}, []string{"Wash down", "front-loading"})
	if cardOf(got.reply, salesagent.CardProducts) == nil {
		t.Errorf("reply to %q shows no products: %q", text, got.reply.Body)
	}
}
