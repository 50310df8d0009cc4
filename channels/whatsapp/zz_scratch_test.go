package whatsapp

import (
	"encoding/json"
	"fmt"
	"time"
	"testing"
)

func TestScratchDump(t *testing.T) {
	b := setupDemo(t)
	for _, body := range [][]byte{
		textCapture(t, "Hi!"),
		textCapture(t, "Show me fleece jackets"),
		tapCapture(t, "callback_selection.json", "callback", "list_reply", "product:harbor-high-pile-fleece", "Harbor High-Pile Fleec…"),
		tapCapture(t, "callback_button.json", "button", "button_reply", "size_guide:harbor-high-pile-fleece", "Size guide"),
		textCapture(t, "I'd like to save my cart"),
		textCapture(t, "Where is my order #1001?"),
		inboundCapture(t, "message.json", "image", "", timeNow()),
		tapCapture(t, "callback_button.json", "button", "button_reply", "person", "Talk to a person"),
	} {
		for _, m := range b.exchange(t, body) {
			raw, _ := json.MarshalIndent(m, "", " ")
			fmt.Println(string(raw))
		}
		fmt.Println("-----")
	}
}

func timeNow() time.Time { return time.Now() }
