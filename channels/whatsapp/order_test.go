package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
)

// orderCapture returns the captured order message with a fresh wamid,
// sent now. edit, when not nil, changes the message's order object.
func orderCapture(t *testing.T, edit func(order map[string]any)) []byte {
	t.Helper()
	body := capture(t, "message.json", "order")
	m := firstMessage(t, body)
	m["id"] = newWAMID()
	m["timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
	if edit != nil {
		edit(m["order"].(map[string]any))
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// burgerShop is a catalog that sells one of the captured order's SKUs.
var burgerShop = []salesagent.Product{{
	Handle: "classic-burger", Title: "Classic Burger",
	Variants: []salesagent.Variant{{SKU: "HAMBURGER", Price: 3000, Available: true}},
}}

// savedCart returns the items of the shop's one saved cart.
func (b *bundle) savedCart(t *testing.T) []salesagent.CartItem {
	t.Helper()
	if n := b.count(t, `SELECT count(*) FROM carts WHERE shop_id = $1`); n != 1 {
		t.Fatalf("%d saved carts, want 1", n)
	}
	var token string
	if err := b.db.Pool.QueryRow(context.Background(), `SELECT token FROM carts WHERE shop_id = $1`, b.shop.ID).Scan(&token); err != nil {
		t.Fatal(err)
	}
	items, _, err := b.db.CartByToken(context.Background(), b.shop.ID, token)
	if err != nil {
		t.Fatal(err)
	}

	// The cart counts in the profile of the shopper who sent it.
	var saved int
	if err := b.db.Pool.QueryRow(context.Background(), `
		SELECT coalesce((profile->>'carts_saved')::int, 0) FROM customers
		WHERE id = (SELECT customer_id FROM carts WHERE shop_id = $1)`, b.shop.ID).Scan(&saved); err != nil {
		t.Fatal(err)
	}
	if saved != 1 {
		t.Errorf("profile counts %d saved carts, want 1", saved)
	}
	return items
}

func TestOrderSavesCartAndHandsOff(t *testing.T) {
	b := setup(t, options{products: burgerShop})
	fake := b.ch.cfg.Turns.(*fakeAgent)
	sent := b.exchange(t, orderCapture(t, nil))

	conv := b.conversation(t)
	msgs := b.messages(t, conv)
	if len(msgs) < 2 || msgs[0].Role != salesagent.RoleShopper {
		t.Fatalf("messages = %+v, want the shopper's order and a reply", msgs)
	}
	const wantBody = "Order from the catalog: 3 × HAMBURGER (30.00 ILS each), 2 × FRENCH_FRIES (35.00 ILS each), " +
		"2 × SODA (10.00 ILS each). Total: 180.00 ILS."
	if msgs[0].Body != wantBody {
		t.Errorf("shopper message = %q, want %q", msgs[0].Body, wantBody)
	}
	if len(msgs[0].Cards) != 1 || msgs[0].Cards[0].Type != salesagent.CardCart ||
		!strings.Contains(msgs[0].Cards[0].URL, "/shop/"+b.shop.Slug+"/cart/") || !hasFieldValue(msgs[0].Cards[0], "354160437058781") {
		t.Errorf("shopper cards = %+v, want a cart card with the restore link and the catalog id", msgs[0].Cards)
	}

	want := []salesagent.CartItem{{SKU: "HAMBURGER", Quantity: 3}, {SKU: "FRENCH_FRIES", Quantity: 2}, {SKU: "SODA", Quantity: 2}}
	if got := b.savedCart(t); !equalItems(got, want) {
		t.Errorf("saved cart = %+v, want %+v", got, want)
	}

	if conv.Status != salesagent.StatusEscalated {
		t.Errorf("conversation status = %q, want %q", conv.Status, salesagent.StatusEscalated)
	}
	events := b.events(t, conv)
	if !hasEvent(events, salesagent.EventCartSaved) || !hasEvent(events, salesagent.EventEscalated) {
		t.Errorf("events = %+v, want cart_saved and escalated", events)
	}
	if fake.callCount() != 0 {
		t.Errorf("the agent ran for an order")
	}

	if len(sent) != 1 {
		t.Fatalf("sent %d messages, want 1 confirmation", len(sent))
	}
	reply := bodyText(sent[0])
	for _, part := range []string{"3 × Classic Burger (HAMBURGER)", "2 × FRENCH_FRIES", "180.00 ILS", "Northwind Outfitters team will confirm"} {
		if !strings.Contains(reply, part) {
			t.Errorf("confirmation %q does not contain %q", reply, part)
		}
	}
	if sent[0].Interactive != nil && findButton(sent[0].Interactive, titlePerson) != nil {
		t.Errorf("the confirmation offers a person, who has been asked already")
	}
}

func TestOrderRedeliveryStoresAndRepliesOnce(t *testing.T) {
	b := setup(t, options{products: burgerShop})
	body := orderCapture(t, nil)
	signature := sign(body, testAppSecret)

	// Concurrent copies, then one after the turn ran.
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.post(t, body, signature)
		}()
	}
	wg.Wait()
	b.waitIdle(t)
	b.deliver(t, body)
	b.waitIdle(t)

	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d inbound rows, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM messages WHERE shop_id = $1 AND role = 'shopper'`); n != 1 {
		t.Errorf("%d shopper messages, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM carts WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d saved carts, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM events WHERE shop_id = $1 AND type = 'escalated'`); n != 1 {
		t.Errorf("%d escalated events, want 1", n)
	}
	if sent := b.graph.sent(); len(sent) != 1 {
		t.Errorf("sent %d messages, want 1 confirmation", len(sent))
	}
}

func TestOrderWithStringNumbersAndNote(t *testing.T) {
	b := setup(t, options{})
	body := orderCapture(t, func(order map[string]any) {
		order["text"] = "Please gift wrap"
		order["product_items"] = []any{
			map[string]any{"product_retailer_id": "SKU-1", "quantity": "2", "item_price": "12.5", "currency": "USD"},
			map[string]any{"product_retailer_id": "SKU-2", "quantity": 1, "item_price": 25, "currency": "USD"},
		}
	})
	sent := b.exchange(t, body)

	msgs := b.messages(t, b.conversation(t))
	const wantBody = "Order from the catalog: 2 × SKU-1 (12.50 USD each), 1 × SKU-2 (25.00 USD each). Total: 50.00 USD.\nNote: Please gift wrap"
	if msgs[0].Body != wantBody {
		t.Errorf("shopper message = %q, want %q", msgs[0].Body, wantBody)
	}
	want := []salesagent.CartItem{{SKU: "SKU-1", Quantity: 2}, {SKU: "SKU-2", Quantity: 1}}
	if got := b.savedCart(t); !equalItems(got, want) {
		t.Errorf("saved cart = %+v, want %+v", got, want)
	}
	if reply := bodyText(sent[0]); !strings.Contains(reply, "2 × SKU-1, 12.50 USD each") {
		t.Errorf("confirmation %q does not name the SKU of an item the shop does not list", reply)
	}
}

func TestOrderWhileOperatorHoldsGetsNoReply(t *testing.T) {
	b := setup(t, options{})
	b.exchange(t, textCapture(t, "Hello"))
	conv := b.conversation(t)
	if err := b.db.SetConversationStatus(context.Background(), b.shop.ID, conv.ID, salesagent.StatusOperator); err != nil {
		t.Fatal(err)
	}
	before := len(b.graph.all())

	b.deliver(t, orderCapture(t, nil))
	b.waitIdle(t)
	if n := len(b.graph.all()) - before; n != 0 {
		t.Errorf("sent %d messages while an operator holds the conversation, want none", n)
	}
	if n := b.count(t, `SELECT count(*) FROM messages WHERE shop_id = $1 AND role = 'shopper' AND body LIKE 'Order from the catalog:%'`); n != 1 {
		t.Errorf("%d order messages stored, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM carts WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d saved carts, want 1", n)
	}
	if got := b.conversation(t).Status; got != salesagent.StatusOperator {
		t.Errorf("conversation status = %q, want the operator to keep it", got)
	}
}

func TestContactsAcknowledged(t *testing.T) {
	b := setup(t, options{})
	fake := b.ch.cfg.Turns.(*fakeAgent)
	sent := b.exchange(t, inboundCapture(t, "message.json", "contacts", "", time.Now()))

	msgs := b.messages(t, b.conversation(t))
	if len(msgs) < 2 {
		t.Fatalf("messages = %+v, want the shared contacts and a reply", msgs)
	}
	if want := "[contacts: Chandler Bing, Monica, Rachel Green]"; msgs[0].Body != want {
		t.Errorf("shopper message = %q, want %q", msgs[0].Body, want)
	}
	if len(msgs[0].Cards) != 1 || msgs[0].Cards[0].Type != CardContacts || !hasFieldValue(msgs[0].Cards[0], "+1 555-555-5555") {
		t.Errorf("cards = %+v, want a contacts card with the phone numbers", msgs[0].Cards)
	}
	if fake.callCount() != 0 {
		t.Errorf("the agent ran for shared contacts")
	}
	if len(sent) != 1 || sent[0].Interactive == nil || !strings.Contains(sent[0].Interactive.Body.Text, "Thanks for sharing the contact.") ||
		findButton(sent[0].Interactive, titlePerson) == nil {
		t.Fatalf("sent %+v, want an acknowledgement with a person button", sent)
	}
}

func TestUnknownTypeLogsWarning(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := setup(t, options{config: func(c *Config) { c.Logger = logger }})

	// A flow's reply is an interactive message of a kind the channel does
	// not handle.
	body := capture(t, "flow_completion.json", "completion")
	m := firstMessage(t, body)
	wamid := newWAMID()
	m["id"], m["timestamp"] = wamid, strconv.FormatInt(time.Now().Unix(), 10)
	raw, _ := json.Marshal(body)
	b.deliver(t, raw)
	b.waitIdle(t)

	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 0 {
		t.Errorf("%d inbound rows, want the unknown message ignored", n)
	}
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "unhandled type") {
			line = l
		}
	}
	for _, part := range []string{"level=WARN", "wamid=" + wamid, "type=interactive"} {
		if !strings.Contains(line, part) {
			t.Errorf("log line %q does not contain %q", line, part)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the River workers' goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func equalItems(got, want []salesagent.CartItem) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestWireNumberAcceptsNumbersAndStrings(t *testing.T) {
	cases := map[string]string{`2`: "2", `"2"`: "2", `12.5`: "12.5", `" 7 "`: "7", `null`: "", `{"v":1}`: `{"v":1}`}
	for input, want := range cases {
		var n wireNumber
		if err := json.Unmarshal([]byte(input), &n); err != nil {
			t.Errorf("decode %s: %v", input, err)
		}
		if string(n) != want {
			t.Errorf("decode %s = %q, want %q", input, n, want)
		}
	}
}

// TestOrderOutOfBoundsValues sends quantities and prices that no shopper
// means, which must stay out of the cart and not be echoed as numbers.
func TestOrderOutOfBoundsValues(t *testing.T) {
	b := setup(t, options{})
	body := orderCapture(t, func(order map[string]any) {
		order["product_items"] = []any{
			map[string]any{"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 10, "currency": "USD"},
			map[string]any{"product_retailer_id": "SKU-2", "quantity": 2147483647, "item_price": 1, "currency": "USD"},
			map[string]any{"product_retailer_id": "SKU-3", "quantity": -1, "item_price": -5, "currency": "USD"},
			map[string]any{"product_retailer_id": "SKU-4", "quantity": 1, "item_price": 1e300, "currency": "USD"},
		}
	})
	sent := b.exchange(t, body)

	want := []salesagent.CartItem{{SKU: "SKU-1", Quantity: 2}, {SKU: "SKU-4", Quantity: 1}}
	if got := b.savedCart(t); !equalItems(got, want) {
		t.Errorf("saved cart = %+v, want %+v", got, want)
	}
	msgs := b.messages(t, b.conversation(t))
	for _, text := range []string{msgs[0].Body, bodyText(sent[0])} {
		for _, bad := range []string{"2147483647", "-1 ×", "-5.00", "00000000000000000000"} {
			if strings.Contains(text, bad) {
				t.Errorf("%q echoes the out-of-bounds value %q", text, bad)
			}
		}
		if !strings.Contains(text, "? × SKU-2") {
			t.Errorf("%q does not mark the unusable quantity of SKU-2", text)
		}
	}
}
