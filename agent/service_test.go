package agent

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesagent/salesagent"
)

func TestSizingQuestionSendsGuide(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "will it fit if I'm 5'10 180lb", jacketPage)

	card := cardOf(got.reply, salesagent.CardSizeGuide)
	if card == nil {
		t.Fatalf("reply %q has no size_guide card; cards = %+v", got.reply.Body, got.reply.Cards)
	}
	want := testDocuments()[2].Table
	if !reflect.DeepEqual(card.Table, want) {
		t.Errorf("size guide table = %+v, want the stored %+v", card.Table, want)
	}
	// M is in stock in Black only, so the sizes are listed per colour.
	if !strings.Contains(got.reply.Body, "In stock now: Blue in sizes S and L; Black in size M.") {
		t.Errorf("reply %q does not list the in-stock sizes of each colour", got.reply.Body)
	}
	if !strings.Contains(got.reply.Body, "Sold out: XL.") {
		t.Errorf("reply %q does not say XL is sold out", got.reply.Body)
	}
	if !strings.Contains(got.reply.Body, "Runs small") {
		t.Errorf("reply %q lacks the fit note from the description", got.reply.Body)
	}
	if got.reply.ReplyTo != got.sent.Seq || got.reply.Seq != got.sent.Seq+1 || got.reply.Role != salesagent.RoleAgent {
		t.Errorf("stored reply seq %d reply_to %d role %s, want seq %d reply_to %d role agent",
			got.reply.Seq, got.reply.ReplyTo, got.reply.Role, got.sent.Seq+1, got.sent.Seq)
	}
	if !hasCitation(got.reply, salesagent.KindSizeGuide, b.guideID) {
		t.Errorf("citations %+v do not cite the size guide %d", got.reply.Citations, b.guideID)
	}
}

func TestReplyStreamsBySentence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "what size should I get?", jacketPage)

	deltas := got.stream.ofType(StreamDelta)
	if len(deltas) < 2 {
		t.Errorf("reply streamed in %d parts, want several", len(deltas))
	}
	if text := got.stream.text(); text != got.reply.Body {
		t.Errorf("streamed text %q differs from stored body %q", text, got.reply.Body)
	}
	cards := got.stream.ofType(StreamCard)
	if len(cards) != len(got.reply.Cards) {
		t.Errorf("streamed %d cards, stored %d", len(cards), len(got.reply.Cards))
	}
	tools := got.stream.ofType(StreamToolCall)
	if len(tools) != 1 || tools[0].Tool.Name != "send_size_guide" || !tools[0].Tool.OK {
		t.Errorf("tool call events = %+v, want one successful send_size_guide", tools)
	}
	// Cards follow the text.
	lastDelta, firstCard := -1, -1
	for i, e := range got.stream.events {
		switch e.Type {
		case StreamDelta:
			lastDelta = i
		case StreamCard:
			if firstCard < 0 {
				firstCard = i
			}
		}
	}
	if firstCard >= 0 && firstCard < lastDelta {
		t.Errorf("a card was streamed at %d, before the last text part at %d", firstCard, lastDelta)
	}
}

func TestStockQuestionsUseVariants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		text string
		want []string
	}{
		{"do you have this in M", []string{"Summit Rain Jacket in size M is in stock at $89.00.", "Only 4 left."}},
		{"is the blue one in stock", []string{"in Blue is in stock at $89.00."}},
		{"do you have it in XL?", []string{"size XL is sold out right now"}},
		{"is it in stock?", []string{"in stock at $89.00: Blue in sizes S and L; Black in size M."}},
		{"how much is this jacket", []string{"costs $89.00–$94.00."}},
	}
	for _, tc := range cases {
		got := b.say(t, tc.text, jacketPage)
		for _, want := range tc.want {
			if !strings.Contains(got.reply.Body, want) {
				t.Errorf("reply to %q = %q, want it to contain %q", tc.text, got.reply.Body, want)
			}
		}
	}
}

func TestShippingQuestionQuotesFAQ(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "how much is shipping to Canada", PageContext{})

	if !strings.Contains(got.reply.Body, `"`) || !strings.Contains(got.reply.Body, "Shipping to Canada costs $15.00 and takes 5 to 8 business days.") {
		t.Errorf("reply %q does not quote the shipping FAQ", got.reply.Body)
	}
	if !hasCitation(got.reply, salesagent.KindFAQ, b.faqID) {
		t.Errorf("citations %+v do not cite the shipping FAQ %d", got.reply.Citations, b.faqID)
	}
}

func TestReturnsQuestionQuotesPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "can I return worn shoes", PageContext{})

	if !strings.Contains(got.reply.Body, "Worn shoes cannot be returned unless they are faulty.") {
		t.Errorf("reply %q does not quote the returns policy", got.reply.Body)
	}
	if !hasCitation(got.reply, salesagent.KindPolicy, b.returnID) {
		t.Errorf("citations %+v do not cite the returns policy %d", got.reply.Citations, b.returnID)
	}
}

func TestTalkToPersonEscalates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	got := b.say(t, "I want to talk to a human", PageContext{})

	conv, err := b.db.ConversationByID(ctx, b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.Status != salesagent.StatusEscalated {
		t.Errorf("conversation status = %s, want escalated", conv.Status)
	}
	if n := countEvents(b.events(t), salesagent.EventEscalated, "shopper asked for a person"); n != 1 {
		t.Errorf("recorded %d escalated events, want 1", n)
	}
	handoffs := got.stream.ofType(StreamHandoff)
	if len(handoffs) != 1 || handoffs[0].Handoff.Reason == "" || !strings.Contains(handoffs[0].Handoff.Summary, "talk to a human") {
		t.Errorf("handoff events = %+v, want one with a reason and the shopper's words", handoffs)
	}
	if cardOf(got.reply, salesagent.CardHandoff) == nil {
		t.Errorf("reply has no handoff card: %+v", got.reply.Cards)
	}
	if !strings.Contains(got.reply.Body, "person from the Northwind team") {
		t.Errorf("reply %q does not tell the shopper a person will reply", got.reply.Body)
	}

	// Asking again does not escalate twice.
	b.say(t, "hello? can I speak to someone", PageContext{})
	if n := countEvents(b.events(t), salesagent.EventEscalated, ""); n != 1 {
		t.Errorf("after a second request, %d escalated events, want 1", n)
	}
}

func TestSaveCartStoresItems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cart := []salesagent.CartItem{{SKU: "SRJ-BLU-S", Quantity: 1}, {SKU: "MT-M", Quantity: 2}}
	got := b.say(t, "can you save my cart for later?", PageContext{Cart: cart})

	card := cardOf(got.reply, salesagent.CardCart)
	if card == nil {
		t.Fatalf("reply %q has no cart card", got.reply.Body)
	}
	prefix := "/shop/" + b.shop.Slug + "/cart/"
	if !strings.HasPrefix(card.URL, prefix) || len(card.URL) <= len(prefix) {
		t.Fatalf("cart link = %q, want %s{token}", card.URL, prefix)
	}
	if !strings.Contains(got.reply.Body, card.URL) {
		t.Errorf("reply %q does not give the link %s", got.reply.Body, card.URL)
	}
	items, _, err := b.db.CartByToken(ctx, b.shop.ID, strings.TrimPrefix(card.URL, prefix))
	if err != nil {
		t.Fatalf("saved cart not found: %v", err)
	}
	if !reflect.DeepEqual(items, cart) {
		t.Errorf("saved items = %+v, want %+v", items, cart)
	}
	if n := countEvents(b.events(t), salesagent.EventCartSaved, `"quantity": 3`); n != 1 {
		t.Errorf("recorded %d cart_saved events with quantity 3, want 1: %+v", n, b.events(t))
	}
}

func TestSaveEmptyCartAsksForItems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "save my cart", PageContext{})

	if cardOf(got.reply, salesagent.CardCart) != nil {
		t.Errorf("an empty cart was saved: %+v", got.reply.Cards)
	}
	if !strings.Contains(got.reply.Body, "cart is empty") {
		t.Errorf("reply %q does not say the cart is empty", got.reply.Body)
	}
	if n := countEvents(b.events(t), salesagent.EventCartSaved, ""); n != 0 {
		t.Errorf("recorded %d cart_saved events for an empty cart", n)
	}
}

func TestOrderStatusOnlyForOwnOrders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	// Before identifying, the shopper gets a request for the checkout email.
	got := b.say(t, "where is my order #1001?", PageContext{})
	if cardOf(got.reply, salesagent.CardOrder) != nil || strings.Contains(got.reply.Body, "shipped") {
		t.Fatalf("an unidentified shopper got order details: %q", got.reply.Body)
	}
	if !strings.Contains(got.reply.Body, "email address you used at checkout") {
		t.Errorf("reply %q does not ask for the checkout email", got.reply.Body)
	}

	// The email answers the question and ties the conversation to Ann.
	got = b.say(t, "it's ann@example.com", PageContext{})
	card := cardOf(got.reply, salesagent.CardOrder)
	if card == nil {
		t.Fatalf("reply %q has no order card", got.reply.Body)
	}
	if !strings.Contains(got.reply.Body, "Order #1001 is shipped.") || !strings.Contains(got.reply.Body, "UPS 1Z999AA10123456784") {
		t.Errorf("reply %q lacks the status and tracking of order #1001", got.reply.Body)
	}
	conv, err := b.db.ConversationByID(ctx, b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.CustomerID == nil || *conv.CustomerID != b.ann.ID {
		t.Errorf("conversation customer = %v, want Ann (%d)", conv.CustomerID, b.ann.ID)
	}

	// Bob's order and an order that does not exist get the same refusal.
	other := b.say(t, "and what's the status of order #1002?", PageContext{})
	missing := b.say(t, "what's the status of order #9999?", PageContext{})
	for _, r := range []turnResult{other, missing} {
		if cardOf(r.reply, salesagent.CardOrder) != nil || strings.Contains(r.reply.Body, "processing") || strings.Contains(r.reply.Body, "Merino") {
			t.Errorf("refusal %q reveals order details", r.reply.Body)
		}
	}
	if strings.ReplaceAll(other.reply.Body, "1002", "N") != strings.ReplaceAll(missing.reply.Body, "9999", "N") {
		t.Errorf("refusals differ, which tells whether an order exists:\n%q\n%q", other.reply.Body, missing.reply.Body)
	}
	if !strings.Contains(other.reply.Body, "can't find order #1002") {
		t.Errorf("refusal %q does not say the order cannot be found for the shopper", other.reply.Body)
	}
}

func TestOrderStatusIgnoresOtherEmailOnIdentifiedConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if err := b.db.SetConversationCustomer(ctx, b.shop.ID, b.conv.ID, b.ann.ID); err != nil {
		t.Fatal(err)
	}
	b.conv.CustomerID = &b.ann.ID

	got := b.say(t, "I'm bob@example.com, where is order #1002?", PageContext{})
	if cardOf(got.reply, salesagent.CardOrder) != nil {
		t.Errorf("claiming Bob's email on Ann's conversation revealed his order: %q", got.reply.Body)
	}
	conv, err := b.db.ConversationByID(ctx, b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.CustomerID == nil || *conv.CustomerID != b.ann.ID {
		t.Errorf("conversation customer = %v, want it to stay Ann (%d)", conv.CustomerID, b.ann.ID)
	}
}

func TestUnknownQuestionClarifies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "what's the airspeed velocity of an unladen swallow", jacketPage)

	if strings.Contains(got.reply.Body, "$") {
		t.Errorf("reply %q states a price for an unknown question", got.reply.Body)
	}
	if !strings.Contains(got.reply.Body, "?") || !strings.Contains(got.reply.Body, "person") {
		t.Errorf("reply %q neither asks a question back nor offers a person", got.reply.Body)
	}
	if len(got.reply.Cards) != 0 || len(got.reply.Citations) != 0 {
		t.Errorf("clarifying reply has cards %+v or citations %+v", got.reply.Cards, got.reply.Citations)
	}
	if n := countEvents(b.events(t), salesagent.EventAnswered, `"outcome": "clarified"`); n != 1 {
		t.Errorf("recorded %d answered events with outcome clarified, want 1", n)
	}
}

func TestEventsAndProfileRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if err := b.db.SetConversationCustomer(ctx, b.shop.ID, b.conv.ID, b.ann.ID); err != nil {
		t.Fatal(err)
	}

	b.say(t, "what size should I get?", jacketPage)
	b.say(t, "save my cart please", PageContext{Cart: []salesagent.CartItem{{SKU: "TR-10", Quantity: 1}}})
	b.say(t, "let me talk to a person", PageContext{})

	events := b.events(t)
	for _, want := range []struct {
		eventType, data string
		n               int
	}{
		{salesagent.EventNeedRecognised, `"need": "sizing"`, 1},
		{salesagent.EventNeedRecognised, `"need": "save_cart"`, 1},
		{salesagent.EventNeedRecognised, `"need": "human"`, 1},
		{salesagent.EventToolCalled, `"tool": "send_size_guide"`, 1},
		{salesagent.EventToolCalled, `"tool": "save_cart"`, 1},
		{salesagent.EventToolCalled, `"tool": "escalate_to_human"`, 1},
		{salesagent.EventCartSaved, "", 1},
		{salesagent.EventEscalated, "", 1},
		{salesagent.EventAnswered, `"brain": "offline"`, 3},
	} {
		if n := countEvents(events, want.eventType, want.data); n != want.n {
			t.Errorf("%d %s events with %s, want %d", n, want.eventType, want.data, want.n)
		}
	}
	for _, e := range events {
		if e.CustomerID == nil || *e.CustomerID != b.ann.ID {
			t.Errorf("%s event has customer %v, want Ann (%d)", e.Type, e.CustomerID, b.ann.ID)
		}
	}

	ann, err := b.db.CustomerByID(ctx, b.shop.ID, b.ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := ann.Profile
	if p.Needs["sizing"] != 1 || p.Needs["save_cart"] != 1 || p.Needs["human"] != 1 {
		t.Errorf("profile needs = %v, want sizing, save_cart and human once each", p.Needs)
	}
	if p.ToolsUsed["send_size_guide"] != 1 || p.ToolsUsed["save_cart"] != 1 || p.ToolsUsed["escalate_to_human"] != 1 {
		t.Errorf("profile tools used = %v, want each tool once", p.ToolsUsed)
	}
	if p.CartsSaved != 1 || p.Escalations != 1 {
		t.Errorf("profile carts saved %d, escalations %d, want 1 and 1", p.CartsSaved, p.Escalations)
	}
	if p.LastSeenAt == nil {
		t.Error("profile last seen time is not set")
	}

	if v := testutil.ToFloat64(b.service.Metrics.turns.WithLabelValues("offline", OutcomeEscalated)); v != 1 {
		t.Errorf("escalated turns metric = %v, want 1", v)
	}
	if v := testutil.ToFloat64(b.service.Metrics.toolCalls.WithLabelValues("save_cart", toolOK)); v != 1 {
		t.Errorf("save_cart ok metric = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(b.service.Metrics.turnDuration); n != 1 {
		t.Errorf("turn duration series = %d, want 1", n)
	}
}

func TestOperatorHeldConversationGetsNoReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if err := b.db.SetConversationStatus(ctx, b.shop.ID, b.conv.ID, salesagent.StatusOperator); err != nil {
		t.Fatal(err)
	}

	got := b.say(t, "how much is shipping to Canada", PageContext{})
	if got.reply.Seq != 0 {
		t.Errorf("HandleMessage returned message seq %d, want none", got.reply.Seq)
	}
	if len(got.stream.events) != 0 {
		t.Errorf("streamed %d events on an operator-held conversation", len(got.stream.events))
	}
	messages, err := b.db.MessagesAfter(ctx, b.shop.ID, b.conv.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(messages) != 1 || messages[0].Role != salesagent.RoleShopper {
		t.Errorf("conversation has %d messages, want only the shopper's", len(messages))
	}
	if v := testutil.ToFloat64(b.service.Metrics.turns.WithLabelValues("offline", OutcomeOperator)); v != 1 {
		t.Errorf("operator turns metric = %v, want 1", v)
	}
}

func TestProductSearchQuotesExactPrices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.say(t, "I'm looking for a rain jacket", PageContext{})

	card := cardOf(got.reply, salesagent.CardProducts)
	if card == nil || len(card.Products) == 0 {
		t.Fatalf("reply %q has no product tiles", got.reply.Body)
	}
	if card.Products[0].Handle != "summit-rain-jacket" || card.Products[0].Price != "$89.00–$94.00" {
		t.Errorf("first tile = %+v, want the Summit Rain Jacket at $89.00–$94.00", card.Products[0])
	}
	if !strings.Contains(got.reply.Body, "Summit Rain Jacket ($89.00–$94.00, in stock)") {
		t.Errorf("reply %q does not list the jacket with its stored prices", got.reply.Body)
	}
}

func TestBrainChosenPerShop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := &scriptedBrain{text: "Scripted answer. Second part."}
	b.service.Brains = func(shop *salesagent.Shop) Brain {
		if shop.ID == b.shop.ID {
			return fake
		}
		return nil
	}
	got := b.say(t, "hello", PageContext{})
	if got.reply.Body != fake.text || fake.turn == nil {
		t.Fatalf("reply %q, want the scripted brain's %q", got.reply.Body, fake.text)
	}
	if fake.turn.Customer == nil || fake.turn.Message.Seq != got.sent.Seq || len(fake.turn.Needs) == 0 {
		t.Errorf("brain got turn %+v, want the customer, the message and its needs", fake.turn)
	}
	if n := countEvents(b.events(t), salesagent.EventAnswered, `"brain": "scripted"`); n != 1 {
		t.Errorf("recorded %d answered events of the scripted brain, want 1", n)
	}
}

// scriptedBrain replies to every message with fixed text.
type scriptedBrain struct {
	text string
	turn *Turn
}

func (s *scriptedBrain) Name() string { return "scripted" }

func (s *scriptedBrain) Respond(ctx context.Context, turn *Turn, tools *Toolbox, out Emitter) (*Reply, error) {
	s.turn = turn
	for _, part := range streamParts(s.text) {
		if err := out.Emit(ctx, StreamEvent{Type: StreamDelta, Text: part}); err != nil {
			return nil, err
		}
	}
	return &Reply{Text: s.text, Outcome: OutcomeAnswered}, nil
}

func hasCitation(m salesagent.Message, kind string, documentID int64) bool {
	for _, c := range m.Citations {
		if c.Kind == kind && c.DocumentID == documentID {
			return true
		}
	}
	return false
}

func TestClosedStreamStillStoresReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	sent, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: b.conv.ID, Role: salesagent.RoleShopper, Body: "how much is shipping to Canada"})
	if err != nil {
		t.Fatal(err)
	}
	closed := &failingEmitter{}
	reply, err := b.service.HandleMessage(ctx, b.shop, b.conv, sent, PageContext{}, closed)
	if err != nil {
		t.Fatalf("HandleMessage with a closed stream: %v", err)
	}
	if closed.calls != 1 {
		t.Errorf("emitter called %d times after failing, want 1", closed.calls)
	}
	stored, err := b.db.MessagesAfter(ctx, b.shop.ID, b.conv.ID, sent.Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].Body != reply.Body || !strings.Contains(reply.Body, "$15.00") {
		t.Errorf("stored %+v, want the reply quoting the shipping FAQ", stored)
	}
}

// failingEmitter fails every write, as a closed socket does.
type failingEmitter struct{ calls int }

func (f *failingEmitter) Emit(context.Context, StreamEvent) error {
	f.calls++
	return errors.New("write: broken pipe")
}

// TestOrderStatusOverSeveralMessages gives the order number and the email
// in separate messages, each answering the agent's question, as shoppers
// often do.
func TestOrderStatusOverSeveralMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)

	if got := b.say(t, "Where is my order?", PageContext{}); !strings.Contains(got.reply.Body, askOrderNumber) {
		t.Fatalf("reply %q does not ask for the order number", got.reply.Body)
	}
	if got := b.say(t, "1001", PageContext{}); !strings.Contains(got.reply.Body, "email address you used at checkout") {
		t.Fatalf("reply to the bare number = %q, want a request for the checkout email", got.reply.Body)
	}
	got := b.say(t, "ann@example.com", PageContext{})
	if !strings.Contains(got.reply.Body, "Order #1001 is shipped.") {
		t.Errorf("reply to the email = %q, want the status of order #1001", got.reply.Body)
	}
}

func TestHowToTrackQuotesFAQThenLooksUp(t *testing.T) {
	t.Parallel()
	b := setupDemo(t, false)
	got := b.sayFresh(t, "How do I track my order?").reply.Body
	if !strings.Contains(got, "tracking link") || !strings.Contains(got, offerOrderLookup) {
		t.Errorf("reply = %q, want the FAQ on tracking and the offer to look the order up", got)
	}
}
