package agent

import (
	"strings"
	"testing"
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
