package whatsapp

import (
	"strings"

	"github.com/salesagent/salesagent"
)

// Ids of the reply buttons and list rows the channel sends. A tapped one
// comes back as the inbound message's intent.
const (
	// intentPerson requests a person.
	intentPerson = "person"
	// intentSizeGuidePrefix, followed by a product handle, requests the
	// product's size guide.
	intentSizeGuidePrefix = "size_guide:"
	// intentProductPrefix, followed by a product handle, chooses a product
	// from a list.
	intentProductPrefix = "product:"
)

// Titles of the reply buttons, within WhatsApp's 20 characters.
const (
	titlePerson    = "Talk to a person"
	titleSizeGuide = "Size guide"
)

// productOfIntent returns the product handle a button or row id names, or
// "".
func productOfIntent(intent string) string {
	if handle, ok := strings.CutPrefix(intent, intentSizeGuidePrefix); ok {
		return handle
	}
	if handle, ok := strings.CutPrefix(intent, intentProductPrefix); ok {
		return handle
	}
	return ""
}

// intentText returns what the agent reads for a tapped button or list row:
// a plain request, because a 20-character title such as "Size guide" is
// unclear on its own. product is the product the intent names, if found.
// Other messages keep the shopper's text.
func intentText(intent, text string, product *salesagent.Product) string {
	switch {
	case intent == intentPerson:
		return "I'd like to talk to a person, please."
	case strings.HasPrefix(intent, intentSizeGuidePrefix):
		return "Can I see the size guide?"
	case strings.HasPrefix(intent, intentProductPrefix) && product != nil:
		return "Tell me about the " + product.Title + "."
	}
	return text
}
