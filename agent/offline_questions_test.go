package agent

import (
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

// TestAttributeQuestionsQuoteTheSpec sends questions about attributes in
// words the demo descriptions do not use, with the product in view or
// named, and checks that the reply quotes the line that states them.
func TestAttributeQuestionsQuoteTheSpec(t *testing.T) {
	b := setupDemo(t, false)
	cases := []struct {
		handle, message, want string
	}{
		{"meridian-2-tent", "is it waterproof?", "1,500 mm coating"},
		{"meridian-2-tent", "how heavy is it?", "trail weight 3 lb 14 oz"},
		{"meridian-2-tent", "what's included?", "10 stakes"},
		{"kestrel-20-sleeping-bag", "how warm is it?", "comfort rating 32°F"},
		{"", "Is the Meridian 2 tent waterproof?", "1,500 mm coating"},
		{"", "how warm is the kestrel sleeping bag?", "comfort rating 32°F"},
	}
	for _, c := range cases {
		t.Run(c.message, func(t *testing.T) {
			fresh := b.fresh(t)
			got := fresh.say(t, c.message, PageContext{ProductHandle: c.handle}).reply.Body
			if !strings.Contains(got, c.want) {
				t.Errorf("reply to %q on %q = %q, want it to quote %q", c.message, c.handle, got, c.want)
			}
		})
	}
}

// TestCorrectedSearchSaysSo checks that products found only through a
// spelling correction are not presented as the product asked for.
func TestCorrectedSearchSaysSo(t *testing.T) {
	b := setupDemo(t, false)
	for _, message := range []string{"Patagonia Nano Puff?", "do you have the patagonia nano puff?"} {
		got := b.sayFresh(t, message).reply.Body
		if !strings.Contains(got, `couldn't find "patagonia nano puff"`) || strings.Contains(got, "Here's what I found") {
			t.Errorf("reply to %q = %q, want it to say the product was not found", message, got)
		}
	}
	got := b.sayFresh(t, "do you have hiking boots?").reply.Body
	if !strings.Contains(got, "Here's what I found") || !strings.Contains(got, "Hiking Boot") {
		t.Errorf("reply to a product the shop sells = %q, want it listed as found", got)
	}
}

func TestCartContentsQuestion(t *testing.T) {
	b := setupDemo(t, false)
	cart := []salesagent.CartItem{{SKU: "NW-RJ-XS-FOR", Quantity: 2}, {SKU: "NW-RJ-XS-SLA", Quantity: 1}, {SKU: "GONE-1", Quantity: 1}}
	for _, message := range []string{"what's in my cart?", "show me my basket", "what is my cart total?"} {
		got := b.fresh(t).say(t, message, PageContext{Cart: cart}).reply.Body
		for _, want := range []string{"2 × Ridgeline Rain Jacket – XS / Forest ($149.00 each)", "1 × Ridgeline Rain Jacket – XS / Slate", "GONE-1 (no longer in our catalog)"} {
			if !strings.Contains(got, want) {
				t.Errorf("reply to %q = %q, want it to list %q", message, got, want)
			}
		}
	}
	got := b.fresh(t).say(t, "what's in my cart?", PageContext{Cart: cart[:2]}).reply.Body
	if !strings.Contains(got, "$447.00") {
		t.Errorf("reply = %q, want the total $447.00", got)
	}
	if got := b.fresh(t).say(t, "what's in my cart?", PageContext{}).reply.Body; !strings.Contains(got, "cart is empty") {
		t.Errorf("reply for an empty cart = %q, want it to say so", got)
	}
}

func TestGreetingWithQuestionAnswersIt(t *testing.T) {
	b := setupDemo(t, false)
	got := b.sayFresh(t, "hi do you have tents").reply.Body
	if !strings.Contains(got, "Meridian 2") || strings.Contains(got, "I can help you find products") {
		t.Errorf("reply to a greeting with a question = %q, want the tent and no introduction", got)
	}
	for _, greeting := range []string{"hi", "Hello there!", "good morning team"} {
		if got := b.sayFresh(t, greeting).reply.Body; !strings.Contains(got, "I can help you find products") {
			t.Errorf("reply to %q = %q, want the introduction", greeting, got)
		}
	}
}

func TestThanksWithQuestionHasNoClosingLine(t *testing.T) {
	b := setupDemo(t, false)
	got := b.sayFresh(t, "Thanks! One more: does the Ridgeline Rain Jacket run small?").reply.Body
	if !strings.Contains(got, "true to size") || strings.Contains(got, "You're welcome") {
		t.Errorf("reply = %q, want the fit answer without a closing line", got)
	}
	if got := b.sayFresh(t, "thanks!").reply.Body; !strings.Contains(got, "You're welcome") {
		t.Errorf("reply to thanks = %q, want the closing line", got)
	}
}

func TestSizeAvailabilityGetsStockNotSizeGuide(t *testing.T) {
	b := setupDemo(t, false)
	r := b.sayFresh(t, "do you have the cabin hoodie in size M?")
	if got := r.reply.Body; !strings.HasPrefix(got, "Yes, the Cabin Heavyweight Hoodie in size M is in stock") {
		t.Errorf("reply = %q, want it to start with the stock of size M", got)
	}
	for _, name := range toolsCalled(r) {
		if name == "send_size_guide" {
			t.Error("sent the size guide for a question about stock")
		}
	}
	r = b.sayFresh(t, "which size of the cabin hoodie should I get? I have a 100 cm chest")
	if got := r.reply.Body; !strings.Contains(got, "size guide") {
		t.Errorf("reply to a fit question = %q, want the size guide", got)
	}
}

// TestShortFAQAnswersAreQuotedWithTheirQuestion loads FAQ entries whose
// answers do not repeat the question's words, as most short FAQs do.
func TestShortFAQAnswersAreQuotedWithTheirQuestion(t *testing.T) {
	docs := []salesagent.Document{
		{Kind: salesagent.KindFAQ, Source: "faq.json", Key: "faq/canada", Title: "Do you ship to Canada?", Body: "Yes, in 5 days."},
		{Kind: salesagent.KindFAQ, Source: "faq.json", Key: "faq/trail", Title: "Is the Trail Jacket waterproof?", Body: "Yes, fully."},
	}
	b := setupCatalog(t, nil, docs)
	for message, want := range map[string]string{
		"Do you ship to Canada?":          `answers "Do you ship to Canada?" with: "Yes, in 5 days."`,
		"Is the Trail Jacket waterproof?": `answers "Is the Trail Jacket waterproof?" with: "Yes, fully."`,
	} {
		if got := b.sayFresh(t, message).reply.Body; !strings.Contains(got, want) {
			t.Errorf("reply to %q = %q, want it to contain %q", message, got, want)
		}
	}
}

func TestOtherLanguagesGetEnglishOnlyReply(t *testing.T) {
	b := setupDemo(t, false)
	for _, message := range []string{"¿Cuánto cuesta el envío a México?", "Combien coûte la livraison?", "送料はいくらですか？", "Wie viel kostet der Versand?", "¿Tienen chaquetas impermeables?"} {
		if got := b.sayFresh(t, message).reply.Body; !strings.Contains(got, "only answer in English") {
			t.Errorf("reply to %q = %q, want the English-only reply", message, got)
		}
	}
	for _, message := range []string{"do you have la sportiva shoes?", "how much is shipping to Canada?", "hi"} {
		if got := b.sayFresh(t, message).reply.Body; strings.Contains(got, "only answer in English") {
			t.Errorf("reply to the English %q = %q, want no English-only reply", message, got)
		}
	}
}
