package agent

import (
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// shopDocuments are FAQ entries and policies written the way shops write
// them: Markdown lists with bold labels, rate tables, and entries whose
// exceptions follow the summary.
func shopDocuments() []salesagent.Document {
	faq := func(key, question, answer string) salesagent.Document {
		return salesagent.Document{Kind: salesagent.KindFAQ, Source: "test", Key: key, Title: question, Body: answer}
	}
	return []salesagent.Document{
		faq("us-shipping", "How much does shipping cost?",
			"Within the United States we offer two methods:\n\n"+
				"- **Standard:** free on orders of $75 or more, otherwise $6.95. Delivery takes 3–5 business days after your order ships.\n"+
				"- **Express:** $14.95 on any order, delivered 1–2 business days after your order ships.\n\n"+
				"The $75 threshold is based on your subtotal after discounts."),
		faq("international", "Do you ship internationally?",
			"Yes, to Canada, the United Kingdom and the European Union:\n\n"+
				"| Destination | Cost | Delivery time |\n| --- | --- | --- |\n"+
				"| Canada | $19.95 | 5–8 business days |\n"+
				"| United Kingdom | $24.95 | 6–10 business days |\n"+
				"| European Union | $24.95 | 7–12 business days |\n\n"+
				"We do not ship to other countries yet."),
		faq("discounts", "Do you offer discount codes?",
			"Sign up for our newsletter and we'll email you a code for 10% off your first order. "+
				"The code works once, on full-price items only, and not on gift cards. "+
				"You can use one discount code per order, and codes can't be added after an order is placed."),
		{
			Kind: salesagent.KindPolicy, Source: "test", Key: "price-adjustment", Title: "Price Adjustment Policy",
			Body: "If we lower the price of an item within 14 days of your order, we refund the difference.\n\n" +
				"Price adjustments don't apply to items bought with a discount code, Final Sale items or gift cards.",
		},
		faq("return-policy", "What is your return policy?",
			"You can return items within 30 days of delivery for a refund or an exchange. "+
				"Items must be unworn and unwashed, with the original tags attached. "+
				"Try shoes on indoors only, and send them back in their original box. "+
				"Returns are free within the US, and we email you a prepaid label. "+
				"Items marked Final Sale cannot be returned."),
		{
			Kind: salesagent.KindPolicy, Source: "test", Key: "refunds", Title: "Returns and Exchanges Policy",
			Body: "**Refunds.** We refund the original payment method within 5 business days of receiving the return.\n\n" +
				"**Items that don't qualify.** We may refuse a return, or refund only part of the price, if the item has been worn, washed or altered, or if its tags are missing.",
		},
		faq("down-care", "How do I wash my down jacket or sleeping bag?",
			"Wash down only when it is dirty or has lost its loft. "+
				"Use a front-loading machine, a down-specific wash and a gentle cycle. "+
				"Tumble dry on low with clean dryer balls until no clumps remain. Never dry clean down."),
		faq("reproof", "How do I re-proof my waterproof jacket?",
			"First wash the jacket with a technical wash and close all zips. "+
				"Then tumble dry on medium heat for 20 minutes, which often brings the water-repellent finish back."),
	}
}

// customerServicePage is a store's help page whose shipping section holds
// a rate table without Markdown's separator row, under prose that states
// no amount.
func customerServicePage() salesagent.Document {
	return salesagent.Document{
		Kind: salesagent.KindPage, Source: "test", Key: "customer-service", Title: "Customer Service",
		Body: "## Shipping and Delivery\n\n" +
			"Shipping and Delivery is the charge for order processing, packaging, transport and handling. " +
			"Shipping and Delivery charges are subject to change and are determined when you order.\n\n" +
			"Shipping and Delivery\n" +
			"Merchandise total * | STANDARD 5—7 day shipping ** | PRIORITY 2—3 day shipping ** | OVERNIGHT Next business day **\n" +
			"Up to $200 | $16 | $26 | $33\n" +
			"$200.01—500.00 | $21 | $31 | $38\n" +
			"Over $500.00 | $29 | $39 | $46\n\n" +
			"*before tax and additional charges\n\n" +
			"## Returns\n\n" +
			"You can return items within 30 days of delivery.",
	}
}

// toolCalls returns the names of the tools a turn called.
func toolCalls(r turnResult) []string {
	var names []string
	for _, e := range r.stream.ofType(StreamToolCall) {
		names = append(names, e.Tool.Name)
	}
	return names
}

func TestShippingQuestionPrefersNamedPlace(t *testing.T) {
	t.Parallel()
	b := setupWith(t, shopDocuments())
	got := b.say(t, "How much is shipping to Canada?", jacketPage)

	if !strings.Contains(got.reply.Body, "Canada: Cost $19.95; Delivery time 5–8 business days.") {
		t.Errorf("reply %q does not quote the Canada row of the rate table", got.reply.Body)
	}
	for _, other := range []string{"$6.95", "$14.95", "$24.95"} {
		if strings.Contains(got.reply.Body, other) {
			t.Errorf("reply %q quotes %s, which is not the rate for Canada", got.reply.Body, other)
		}
	}
	if len(got.reply.Citations) != 1 || got.reply.Citations[0].DocumentID != b.docIDs["international"] {
		t.Errorf("citations = %+v, want only the international shipping FAQ %d", got.reply.Citations, b.docIDs["international"])
	}
}

func TestShippingCostQuotesRateTable(t *testing.T) {
	t.Parallel()
	b := setupWith(t, []salesagent.Document{customerServicePage()})
	got := b.say(t, "How much does shipping cost?", PageContext{})

	if calls := toolCalls(got); len(calls) != 0 {
		t.Errorf("a shipping cost question called tools %v, want none", calls)
	}
	if strings.Contains(got.reply.Body, "couldn't find products") {
		t.Errorf("reply %q answers a shipping question with a product search", got.reply.Body)
	}
	for _, row := range []string{
		"Merchandise total Up to $200: STANDARD 5—7 day shipping $16; PRIORITY 2—3 day shipping $26; OVERNIGHT Next business day $33.",
		"Merchandise total $200.01—500.00: STANDARD 5—7 day shipping $21;",
		"Merchandise total Over $500.00: STANDARD 5—7 day shipping $29;",
	} {
		if !strings.Contains(got.reply.Body, row) {
			t.Errorf("reply %q lacks the table row %q", got.reply.Body, row)
		}
	}
	if !hasCitation(got.reply, salesagent.KindPage, b.docIDs["customer-service"]) {
		t.Errorf("citations %+v do not cite the customer service page", got.reply.Citations)
	}
}

func TestDiscountQuestionQuotesFAQ(t *testing.T) {
	t.Parallel()
	b := setupWith(t, shopDocuments())
	for _, page := range []PageContext{{}, jacketPage} {
		got := b.say(t, "Do you have any discounts?", page)

		if calls := toolCalls(got); len(calls) != 0 {
			t.Errorf("with page %q, a discount question called tools %v, want none", page.ProductHandle, calls)
		}
		if !strings.Contains(got.reply.Body, "Sign up for our newsletter and we'll email you a code for 10% off your first order.") {
			t.Errorf("with page %q, reply %q does not quote the discount FAQ's offer", page.ProductHandle, got.reply.Body)
		}
		if strings.Contains(got.reply.Body, "Price adjustments don't apply") || strings.Contains(got.reply.Body, "couldn't find products") {
			t.Errorf("with page %q, reply %q quotes an exception or a failed search", page.ProductHandle, got.reply.Body)
		}
		// The jacket's stored prices have no compare-at price, so the
		// reply has no sale of it to tell.
		if strings.Contains(got.reply.Body, "$89.00") {
			t.Errorf("with page %q, reply %q quotes the jacket's price, which is not reduced", page.ProductHandle, got.reply.Body)
		}
	}
}

func TestDiscountQuestionNamesSaleOfProductInView(t *testing.T) {
	t.Parallel()
	b := setupWith(t, shopDocuments())
	got := b.say(t, "any discounts on this?", PageContext{ProductHandle: "merino-tee"})

	if !strings.Contains(got.reply.Body, "The Merino Tee is on sale at $34.00, down from $42.00.") {
		t.Errorf("reply %q does not give the tee's sale price from its variants", got.reply.Body)
	}
}

func TestHowToQuestionPrefersFAQ(t *testing.T) {
	t.Parallel()
	b := setupWith(t, shopDocuments())
	got := b.say(t, "How do I wash my down jacket?", jacketPage)

	if !strings.Contains(got.reply.Body, "Wash down only when it is dirty or has lost its loft.") {
		t.Errorf("reply %q does not quote the down care FAQ", got.reply.Body)
	}
	if strings.Contains(got.reply.Body, "machine wash cold") || strings.Contains(got.reply.Body, "re-proof") {
		t.Errorf("reply %q quotes the rain jacket's care or the re-proofing FAQ", got.reply.Body)
	}
	if !hasCitation(got.reply, salesagent.KindFAQ, b.docIDs["down-care"]) {
		t.Errorf("citations %+v do not cite the down care FAQ", got.reply.Citations)
	}

	// A how-to question pointing at the product in view is answered from it.
	got = b.say(t, "How do I wash this jacket?", jacketPage)
	if !strings.Contains(got.reply.Body, `"Care: machine wash cold with a technical wash, then tumble dry low."`) {
		t.Errorf("reply %q does not quote the jacket's care line", got.reply.Body)
	}
}

func TestBroadPolicyQuestionQuotesSummary(t *testing.T) {
	t.Parallel()
	b := setupWith(t, shopDocuments())
	got := b.say(t, "What is your return policy?", PageContext{})

	for _, fact := range []string{"within 30 days of delivery", "unworn and unwashed, with the original tags attached", "Returns are free within the US, and we email you a prepaid label."} {
		if !strings.Contains(got.reply.Body, fact) {
			t.Errorf("reply %q lacks the summary fact %q", got.reply.Body, fact)
		}
	}
	for _, exception := range []string{"Final Sale", "refuse", "indoors only"} {
		if strings.Contains(got.reply.Body, exception) {
			t.Errorf("reply %q quotes the exception %q instead of the summary", got.reply.Body, exception)
		}
	}
}

func TestStockQuestionChecksColour(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		text       string
		want, deny []string
	}{
		{
			// The jacket comes in Blue and Black, and size M is sold out in Blue.
			text: "Is the red one in stock in M?",
			want: []string{
				"The Summit Rain Jacket doesn't come in red. Its color options are Blue and Black.",
				"In size M, the Summit Rain Jacket is in stock in Black at $89.00. Only 4 left.",
				"It is sold out in size M in Blue.",
			},
			deny: []string{"Yes"},
		},
		{
			text: "Is the blue one in stock in M?",
			want: []string{"The Summit Rain Jacket in Blue, size M is sold out right now.", "Size M is in stock in Black.", "Blue is in stock in sizes S and L."},
			deny: []string{"Yes"},
		},
		{
			text: "is the black one in stock in medium?",
			want: []string{"Yes, the Summit Rain Jacket in size M, Black is in stock at $89.00. Only 4 left."},
		},
		{
			text: "do you have this in M",
			want: []string{"Size M is in stock in Black and sold out in Blue."},
		},
		{
			text: "do you have it in blue?",
			want: []string{"Blue is in stock in sizes S and L and sold out in size M."},
		},
	}
	for _, tc := range cases {
		got := b.say(t, tc.text, jacketPage)
		for _, want := range tc.want {
			if !strings.Contains(got.reply.Body, want) {
				t.Errorf("reply to %q = %q, want it to contain %q", tc.text, got.reply.Body, want)
			}
		}
		for _, deny := range tc.deny {
			if strings.Contains(got.reply.Body, deny) {
				t.Errorf("reply to %q = %q, want no %q", tc.text, got.reply.Body, deny)
			}
		}
	}
}

func TestQuotesReadWithoutMarkdown(t *testing.T) {
	t.Parallel()
	b := setupWith(t, shopDocuments())
	got := b.say(t, "How much does shipping cost?", PageContext{})

	if !strings.Contains(got.reply.Body, "Standard: free on orders of $75 or more, otherwise $6.95. Delivery takes 3–5 business days after your order ships.") {
		t.Errorf("reply %q does not quote the Standard rate as one clean item", got.reply.Body)
	}
	if !strings.Contains(got.reply.Body, "Express: $14.95 on any order") {
		t.Errorf("reply %q does not quote the Express rate", got.reply.Body)
	}
	for _, mark := range []string{"**", "- ", "|"} {
		if strings.Contains(got.reply.Body, mark) {
			t.Errorf("reply %q contains the Markdown mark %q", got.reply.Body, mark)
		}
	}
}

func TestCleanMarkdown(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"- **Standard:** free on orders of $75 or more.":  "Standard: free on orders of $75 or more.",
		"* _Express_ is *fast*":                           "Express is fast",
		"1. See [our returns page](https://shop.example)": "See our returns page",
		"Merchandise total *":                             "Merchandise total",
		"*before tax and additional charges":              "before tax and additional charges",
		"Prices `exclude` tax":                            "Prices exclude tax",
		"5 - 8 business days":                             "5 - 8 business days",
	}
	for in, want := range cases {
		if got := cleanMarkdown(in); got != want {
			t.Errorf("cleanMarkdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPassageUnitsKeepTables(t *testing.T) {
	t.Parallel()
	units := passageUnits(customerServicePage().Body)
	var rows []string
	for _, u := range units {
		if u.table > 0 {
			rows = append(rows, u.text)
		}
	}
	want := []string{
		"Merchandise total Up to $200: STANDARD 5—7 day shipping $16; PRIORITY 2—3 day shipping $26; OVERNIGHT Next business day $33",
		"Merchandise total $200.01—500.00: STANDARD 5—7 day shipping $21; PRIORITY 2—3 day shipping $31; OVERNIGHT Next business day $38",
		"Merchandise total Over $500.00: STANDARD 5—7 day shipping $29; PRIORITY 2—3 day shipping $39; OVERNIGHT Next business day $46",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("table rows = %q, want %q", rows, want)
	}
}

func TestBestPassageBroadQuestionSkipsExceptions(t *testing.T) {
	t.Parallel()
	hit := retrieval.Hit{
		ChunkID: 1, Kind: salesagent.KindFAQ, Heading: "Returns",
		Content: "You can return items within 30 days of delivery. Items must be unworn, with the original tags attached. " +
			"Final Sale items cannot be returned, refunded or exchanged unless they are faulty.",
		Source: retrieval.Source{DocumentID: 1, DocumentTitle: "Returns"},
	}
	best, ok := bestPassage([]retrieval.Hit{hit}, "What is your return policy?", NeedReturns)
	if !ok {
		t.Fatal("no passage chosen")
	}
	want := `Our FAQ on returns and exchanges says: "You can return items within 30 days of delivery. Items must be unworn, with the original tags attached."`
	if got := best.quote(); got != want {
		t.Errorf("quote = %s, want %s", got, want)
	}

	// A narrow question still gets the exception that answers it.
	best, _ = bestPassage([]retrieval.Hit{hit}, "Can I return Final Sale items?", NeedReturns)
	if got := best.quote(); !strings.Contains(got, "Final Sale items cannot be returned") {
		t.Errorf("quote for a Final Sale question = %s, want the Final Sale rule", got)
	}
}
