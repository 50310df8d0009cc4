package whatsapp

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
)

func TestAttachmentsAreKeptAndOfferAPerson(t *testing.T) {
	cases := []struct {
		key       string
		body      string
		cardType  string
		field     string
		wantReply string
	}{
		{"image", "[image]", CardMedia, "65463453", "Thanks for the image."},
		{"voice", "[voice message]", CardMedia, "1234567890987654321", "Thanks for the voice message."},
		{"static_sticker", "[sticker]", CardMedia, "1234567890987654321", "Thanks for the sticker."},
		{"chosen_location", "[location: Facebook HQ]", CardLocation, "37.4611978", "Thanks for sharing the location."},
		{"unsupported", "[unsupported message]", "", "", "can't open this type of message"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			b := setup(t, options{})
			fake := b.ch.cfg.Turns.(*fakeAgent)
			sent := b.exchange(t, inboundCapture(t, "message.json", tc.key, "", time.Now()))

			msgs := b.messages(t, b.conversation(t))
			shopper := msgs[0]
			if shopper.Body != tc.body {
				t.Errorf("shopper message = %q, want %q", shopper.Body, tc.body)
			}
			if tc.cardType != "" && (len(shopper.Cards) != 1 || shopper.Cards[0].Type != tc.cardType || !hasFieldValue(shopper.Cards[0], tc.field)) {
				t.Errorf("cards = %+v, want a %s card with %s", shopper.Cards, tc.cardType, tc.field)
			}
			if fake.callCount() != 0 {
				t.Errorf("the agent ran for an attachment without text")
			}
			if len(sent) != 1 || sent[0].Interactive == nil || !strings.Contains(sent[0].Interactive.Body.Text, tc.wantReply) {
				t.Fatalf("sent %+v, want an acknowledgement", sent)
			}
			if findButton(sent[0].Interactive, titlePerson) == nil {
				t.Errorf("the acknowledgement offers no person")
			}
		})
	}
}

func TestCaptionGoesToAgent(t *testing.T) {
	b := setup(t, options{})
	fake := b.ch.cfg.Turns.(*fakeAgent)
	sent := b.exchange(t, inboundCapture(t, "message.json", "video", "", time.Now()))

	if calls := fake.snapshot(); len(calls) != 1 || calls[0].Body != "caption" {
		t.Fatalf("agent calls = %+v, want one with the caption", calls)
	}
	last := sent[len(sent)-1]
	if last.Interactive == nil || findButton(last.Interactive, titlePerson) == nil {
		t.Errorf("the reply to an attachment offers no person: %+v", last)
	}
}

func TestReactionIsRecordedWithoutReply(t *testing.T) {
	b := setup(t, options{})
	b.deliver(t, inboundCapture(t, "message.json", "reaction", "", time.Now()))
	b.waitIdle(t)

	if n := len(b.graph.all()); n != 0 {
		t.Errorf("graph got %d requests, want no reply to a reaction", n)
	}
	conv := b.conversation(t)
	if msgs := b.messages(t, conv); len(msgs) != 0 {
		t.Errorf("messages = %+v, want none for a reaction", msgs)
	}
	events := b.events(t, conv)
	if !hasEvent(events, EventReaction) {
		t.Fatalf("events = %+v, want a reaction", events)
	}
	if !strings.Contains(string(events[0].Data), "wamid.yzxyzx=") {
		t.Errorf("reaction event %s does not name the message reacted to", events[0].Data)
	}
}

func TestUnknownTypeDoesNotFailBatch(t *testing.T) {
	b := setup(t, options{})
	body := capture(t, "message.json", "text")
	value := change(t, body)
	text := value["messages"].([]any)[0].(map[string]any)
	text["id"], text["timestamp"] = newWAMID(), strconv.FormatInt(time.Now().Unix(), 10)
	flow := firstMessage(t, capture(t, "flow_completion.json", "completion"))
	flow["id"] = newWAMID()
	value["messages"] = []any{flow, text}
	raw, _ := json.Marshal(body)

	b.deliver(t, raw)
	b.waitIdle(t)
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d inbound rows, want only the text", n)
	}
	if n := len(b.graph.sent()); n != 1 {
		t.Errorf("sent %d replies, want 1", n)
	}
}

func TestTappedButtonBecomesIntent(t *testing.T) {
	b := setup(t, options{})
	fake := b.ch.cfg.Turns.(*fakeAgent)
	b.exchange(t, tapCapture(t, "callback_button.json", "button", "button_reply", intentPerson, titlePerson))
	b.exchange(t, tapCapture(t, "callback_selection.json", "callback", "list_reply", "unknown-row", "Blue"))

	msgs := b.messages(t, b.conversation(t))
	if msgs[0].Body != titlePerson {
		t.Errorf("stored shopper message = %q, want the button's title", msgs[0].Body)
	}
	calls := fake.snapshot()
	if len(calls) != 2 {
		t.Fatalf("agent ran %d turns, want 2", len(calls))
	}
	if got := calls[0].Body; !strings.Contains(got, "talk to a person") {
		t.Errorf("agent read %q, want the intent of the person button", got)
	}
	if got := calls[1].Body; got != "Blue" {
		t.Errorf("agent read %q for an unknown row id, want its title", got)
	}
}

func TestStopRecordsOptOut(t *testing.T) {
	template := &salesagent.WhatsAppTemplate{Name: "reply_waiting", Language: "en_US"}
	b := setup(t, options{template: template})
	fake := b.ch.cfg.Turns.(*fakeAgent)

	sent := b.exchange(t, textCapture(t, "STOP"))
	if !strings.Contains(bodyText(sent[0]), "Send START") {
		t.Errorf("reply to STOP = %q, want a confirmation", bodyText(sent[0]))
	}
	conv := b.conversation(t)
	customer, err := b.db.CustomerByID(context.Background(), b.shop.ID, *conv.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	consent := customer.Profile.Consent
	if consent == nil || !consent.OptedOut || consent.Channel != salesagent.ChannelWhatsApp || consent.Keyword != "STOP" {
		t.Fatalf("consent = %+v, want an opt-out on whatsapp by STOP", consent)
	}
	if !hasEvent(b.events(t, conv), EventOptedOut) {
		t.Errorf("no %s event", EventOptedOut)
	}
	if fake.callCount() != 0 {
		t.Errorf("the agent ran for STOP")
	}

	// The agent still replies to the shopper's own messages.
	sent = b.exchange(t, textCapture(t, "Do you sell socks?"))
	if !strings.Contains(bodyText(sent[0]), "socks") {
		t.Errorf("reply after STOP = %q, want the agent's reply", bodyText(sent[0]))
	}

	// START subscribes again.
	b.exchange(t, textCapture(t, "start"))
	customer, err = b.db.CustomerByID(context.Background(), b.shop.ID, *conv.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if customer.Profile.Consent == nil || customer.Profile.Consent.OptedOut {
		t.Errorf("consent after START = %+v, want subscribed", customer.Profile.Consent)
	}
}

func TestOptedOutShopperGetsNoTemplate(t *testing.T) {
	template := &salesagent.WhatsAppTemplate{Name: "reply_waiting", Language: "en_US"}
	b := setup(t, options{template: template})

	// STOP sent more than a day ago, redelivered now: even its confirmation
	// falls outside the window, and no template replaces it.
	b.deliver(t, inboundCapture(t, "message.json", "text", "Stop messages", time.Now().Add(-26*time.Hour)))
	b.waitIdle(t)
	if n := len(b.graph.all()); n != 0 {
		t.Fatalf("graph got %d requests, want none", n)
	}
	conv := b.conversation(t)
	system := assertFailureRecorded(t, b, conv, codeOutsideWindow, "24-hour")
	if !strings.Contains(system.Body, "STOP") {
		t.Errorf("system message %q does not say the shopper opted out", system.Body)
	}
}

func hasFieldValue(card salesagent.Card, value string) bool {
	for _, f := range card.Fields {
		if f.Value == value {
			return true
		}
	}
	return false
}

func TestNULCharacterIsDropped(t *testing.T) {
	b := setup(t, options{})
	b.exchange(t, textCapture(t, "hello\x00there"))
	msgs := b.messages(t, b.conversation(t))
	if msgs[0].Body != "hellothere" {
		t.Errorf("stored %q, want the text without NUL", msgs[0].Body)
	}
}
