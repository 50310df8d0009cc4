package agent

import (
	"fmt"
	"testing"

	"github.com/salesagent/salesagent"
)

// outfittersCatalog is a small outdoor shop written the way shops write
// their catalogs. It has several products per type, and a fleece jacket
// and a daypack that are not of type Jackets. Some variants are sold out
// in one size and colour, and descriptions have labelled fit lines.
func outfittersCatalog() []salesagent.Product {
	variant := func(sku string, price salesagent.Money, was *salesagent.Money, stock int, options ...string) salesagent.Variant {
		v := salesagent.Variant{ExternalID: sku, SKU: sku, Price: price, CompareAtPrice: was, Stock: intPtr(stock), Available: true}
		for i := 0; i+1 < len(options); i += 2 {
			v.Options = append(v.Options, salesagent.Option{Name: options[i], Value: options[i+1]})
			if v.Title != "" {
				v.Title += " / "
			}
			v.Title += options[i+1]
		}
		return v
	}
	sized := func(prefix string, price salesagent.Money, was *salesagent.Money, sizes, colours []string, soldOut map[string]bool) []salesagent.Variant {
		var out []salesagent.Variant
		for _, size := range sizes {
			for _, colour := range colours {
				stock := 5
				if soldOut[size+"/"+colour] {
					stock = 0
				}
				out = append(out, variant(fmt.Sprintf("%s-%s-%s", prefix, size, colour), price, was, stock, "Size", size, "Color", colour))
			}
		}
		return out
	}
	apparel := []string{"S", "M", "L", "XL"}
	shoes := []string{"7", "8", "9", "10", "11"}
	return []salesagent.Product{
		{
			ExternalID: "tee", Handle: "everyday-organic-tee", Title: "Everyday Organic Cotton Tee", ProductType: "T-Shirts",
			Description: "A soft organic cotton tee for every day.\n\n- Fit: true to size with a classic straight fit.",
			Variants:    sized("EOT", 3200, nil, apparel, []string{"White", "Black"}, map[string]bool{"M/White": true}),
		},
		{
			ExternalID: "tech-tee", Handle: "trail-tech-tee", Title: "Trail Tech Tee", ProductType: "T-Shirts",
			Description: "A quick-drying tee for hot trail days.\n\n- Fit: athletic, slim fit.",
			Variants:    sized("TTT", 2900, moneyPtr(3800), apparel, []string{"Black"}, nil),
		},
		{
			ExternalID: "kestrel", Handle: "kestrel-20-sleeping-bag", Title: "Kestrel 20 Down Sleeping Bag", ProductType: "Sleeping Bags",
			Description: "A mummy bag for three-season backpacking, filled with water-resistant down.",
			Variants: []salesagent.Variant{
				variant("KES-R", 27900, nil, 6, "Length", "Regular"),
				variant("KES-L", 29900, nil, 0, "Length", "Long"),
			},
		},
		{
			ExternalID: "longtrail", Handle: "longtrail-55-backpack", Title: "Longtrail 55L Backpack", ProductType: "Backpacks",
			Description: "A 55-liter pack for long trips, with a waterproof rain cover.",
			Variants:    []salesagent.Variant{variant("LT-G", 22900, nil, 4, "Color", "Graphite")},
		},
		{
			ExternalID: "traverse", Handle: "traverse-28-daypack", Title: "Traverse 28L Daypack", ProductType: "Backpacks",
			Description: "A daypack with a waterproof phone pocket and a hydration sleeve.",
			Variants:    []salesagent.Variant{variant("TR-S", 11900, nil, 17, "Color", "Slate")},
		},
		{
			ExternalID: "ridgeline", Handle: "ridgeline-rain-jacket", Title: "Ridgeline Rain Jacket", ProductType: "Jackets",
			Description: "A waterproof rain jacket with fully taped seams for steady rain.\n\n" +
				"- Fit: true to size, regular fit with room for a fleece underneath.\n" +
				"- Materials: 100% recycled nylon face, waterproof-breathable membrane.\n" +
				"- Care: machine wash cold, then tumble dry low to revive the water repellency.",
			Variants: sized("RRJ", 14900, nil, apparel, []string{"Slate", "Black"}, map[string]bool{"L/Black": true}),
		},
		{
			ExternalID: "squall", Handle: "squall-packable-shell", Title: "Squall Packable Rain Shell", ProductType: "Jackets",
			Description: "A waterproof emergency shell that stuffs into its own chest pocket to about the size of a grapefruit.\n\n" +
				"- Fit: runs small and trim through the chest and shoulders. Size up to wear it over a fleece.\n" +
				"- Materials: 15-denier recycled nylon ripstop, taped seams.",
			Variants: sized("SPS", 9900, nil, apparel, []string{"Black"}, nil),
		},
		{
			ExternalID: "summit", Handle: "summit-down-jacket", Title: "Summit 800 Down Jacket", ProductType: "Jackets",
			Description: "Our warmest jacket for its weight. The Summit is filled with 800-fill-power goose down sewn into narrow baffles.\n\n" +
				"- Fit: true to size, regular fit that ends at the hip.\n" +
				"- Care: wash rarely, in a warm gentle cycle.",
			Variants: sized("SDJ", 22900, nil, apparel, []string{"Black"}, nil),
		},
		{
			ExternalID: "harbor", Handle: "harbor-high-pile-fleece", Title: "Harbor High-Pile Fleece Jacket", ProductType: "Fleece",
			Description: "A thick, cozy full-zip fleece jacket for camp evenings, with a water-resistant nylon yoke.",
			Variants:    sized("HHF", 11900, moneyPtr(13900), apparel, []string{"Sage"}, nil),
		},
		{
			ExternalID: "cascade", Handle: "cascade-mid-boot", Title: "Cascade Mid Waterproof Boot", ProductType: "Boots",
			Description: "A light mid-height hiking boot with a waterproof lining.\n\n" +
				"- Fit: runs a half size small. We stock whole sizes only, so order one size up from your sneaker size.",
			Variants: sized("CMB", 13900, moneyPtr(15900), shoes, []string{"Tan", "Black"}, map[string]bool{"9/Tan": true}),
		},
		{
			ExternalID: "granite", Handle: "granite-hiking-boot", Title: "Granite Waterproof Hiking Boot", ProductType: "Boots",
			Description: "A supportive leather hiking boot for heavy loads.\n\n- Fit: true to size with a roomy toe box.",
			Variants:    sized("GHB", 18900, nil, shoes, []string{"Brown"}, nil),
		},
		{
			ExternalID: "ledge", Handle: "ledge-hiking-shorts", Title: "Ledge Hiking Shorts", ProductType: "Shorts",
			Description: "Stretchy hiking shorts with a 9 in inseam.",
			Variants:    sized("LHS", 4400, moneyPtr(5800), apparel, []string{"Khaki"}, nil),
		},
		{
			ExternalID: "switchback", Handle: "switchback-hiking-pants", Title: "Switchback Hiking Pants", ProductType: "Pants",
			Description: "Durable hiking pants that shed light rain.",
			Variants:    sized("SHP", 8900, nil, apparel, []string{"Khaki"}, nil),
		},
		{
			ExternalID: "scree", Handle: "scree-trail-runner", Title: "Scree Trail Runner", ProductType: "Shoes",
			Description: "A grippy trail shoe for technical ground.\n\n" +
				"- Fit: narrow through the midfoot and runs about a half size small.\n" +
				"- Specs: 6 mm heel-to-toe drop, 5 mm lugs, rock plate.\n" +
				"- Weight: 10.2 oz (289 g) per shoe, US 9.",
			Variants: sized("STR", 13500, nil, shoes, []string{"Black"}, map[string]bool{"11/Black": true}),
		},
		{
			ExternalID: "tempo", Handle: "tempo-road-to-trail-shoe", Title: "Tempo Road-to-Trail Shoe", ProductType: "Shoes",
			Description: "A cushioned shoe for runs that start on pavement and end on gravel paths.\n\n" +
				"- Fit: true to size, standard width with a roomy toe box.\n" +
				"- Specs: 8 mm heel-to-toe drop, 4 mm lugs.\n" +
				"- Weight: 9.4 oz (266 g) per shoe, US 9.",
			Variants: sized("TRT", 8900, moneyPtr(11900), shoes, []string{"Slate"}, nil),
		},
	}
}

// outfittersDocuments are the shop's FAQ entries on shipping and contact,
// and its size guides for jackets and boots.
func outfittersDocuments() []salesagent.Document {
	faq := func(key, question, answer string) salesagent.Document {
		return salesagent.Document{Kind: salesagent.KindFAQ, Source: "test", Key: key, Title: question, Body: answer}
	}
	shoeRows := [][]string{
		{"7", "8.5", "6", "40", "25.0"}, {"8", "9.5", "7", "41", "25.8"}, {"9", "10.5", "8", "42.5", "26.7"},
		{"10", "11.5", "9", "44", "27.5"}, {"11", "12.5", "10", "45", "28.3"},
	}
	return []salesagent.Document{
		faq("us-shipping", "How much does shipping cost?",
			"Within the United States we offer two methods:\n\n"+
				"- **Standard:** free on orders of $75 or more, otherwise $6.95. Delivery takes 3–5 business days after your order ships.\n"+
				"- **Express:** $14.95 on any order, delivered 1–2 business days after your order ships."),
		faq("international", "Do you ship internationally?",
			"Yes, to Canada, the United Kingdom and the European Union:\n\n"+
				"| Destination | Cost | Delivery time |\n| --- | --- | --- |\n"+
				"| Canada | $19.95 | 5–8 business days |\n"+
				"| United Kingdom | $24.95 | 6–10 business days |\n"+
				"| European Union | $24.95 | 7–12 business days |\n\n"+
				"International shipping is free on orders of $250 or more. We do not ship to other countries yet."),
		faq("alaska", "Do you ship to Alaska, Hawaii, PO boxes or military addresses?",
			"Yes. Orders to Alaska, Hawaii, PO boxes and APO/FPO/DPO addresses go by Standard shipping only, at the usual price, and take 5–9 business days after they ship."),
		faq("contact", "How can I contact customer support?",
			"Chat with us on the website at any time. Our team answers live Monday to Friday, 8 a.m. to 6 p.m. Pacific Time. "+
				"We are closed on Sundays. You can also email support@outfitters.example, and we reply within 1 business day. "+
				"Or call 1-800-555-0142 during opening hours."),
		faq("cancel", "Can I change or cancel my order?",
			"You can change or cancel an order within 1 hour of placing it. Contact us by chat, email or phone with your order number."),
		{
			Kind: salesagent.KindSizeGuide, Source: "test", Key: "jackets", Title: "Jackets size guide", ProductType: "Jackets",
			Body: "These are body measurements.",
			Table: &salesagent.Table{
				Columns: []string{"Size", "Chest (in)", "Chest (cm)", "Waist (in)", "Sleeve (in)"},
				Rows: [][]string{
					{"S", "35–37", "89–94", "29–31", "33"}, {"M", "38–40", "97–102", "32–34", "34"},
					{"L", "41–43", "104–109", "35–37", "35"}, {"XL", "44–46", "112–117", "38–40", "36"},
				},
				Notes: "These are body measurements. If you are between sizes, take the larger size for a shell you will wear over a fleece.",
			},
		},
		{
			Kind: salesagent.KindSizeGuide, Source: "test", Key: "boots", Title: "Boots size guide", ProductType: "Boots",
			Body:  "Sizes are US men's.",
			Table: &salesagent.Table{Columns: []string{"US", "US Women's", "UK", "EU", "Foot length (cm)"}, Rows: shoeRows, Notes: "Sizes are US men's, and we stock whole sizes only."},
		},
	}
}

func setupOutfitters(t *testing.T) *bundle {
	t.Helper()
	return setupCatalog(t, outfittersCatalog(), outfittersDocuments())
}
