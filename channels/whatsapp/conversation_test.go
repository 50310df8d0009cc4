package whatsapp

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres/pgtest"
	"github.com/salesagent/salesagent/retrieval"
	"github.com/salesagent/salesagent/retrieval/ingest"
)

// setupDemo starts a bundle whose shop holds the demo shop's catalog,
// FAQ, policies and size guides, indexed, and runs turns with the real
// agent service and its offline brain.
func setupDemo(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.DB(t)
	embedder := retrieval.NewLocalEmbedder()
	service := agent.NewService(db, retrieval.NewSearcher(db, embedder), nil)
	b := setup(t, options{turns: service})

	ctx := context.Background()
	batch, rowErrors, err := ingest.ParsePaths([]string{"../../demo/shop"}, "", nil)
	if err != nil || len(rowErrors) > 0 {
		t.Fatalf("parse demo shop: %v %v", err, rowErrors)
	}
	if _, err := db.UpsertProducts(ctx, b.shop.ID, batch.Products); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertDocuments(ctx, b.shop.ID, batch.Documents); err != nil {
		t.Fatal(err)
	}
	if _, err := retrieval.NewIndexer(db, embedder, nil).IndexShop(ctx, b.shop.ID); err != nil {
		t.Fatalf("index demo shop: %v", err)
	}
	return b
}

// exchange delivers one inbound body, waits for the reply, and returns the
// messages sent for it.
func (b *bundle) exchange(t *testing.T, body []byte) []Message {
	t.Helper()
	before := len(b.graph.sent())
	b.deliver(t, body)
	b.waitIdle(t)
	var out []Message
	for _, r := range b.graph.sent()[before:] {
		out = append(out, r.Message)
	}
	if len(out) == 0 {
		t.Fatalf("no reply was sent; requests: %+v", b.graph.all())
	}
	return out
}

func TestDemoConversation(t *testing.T) {
	b := setupDemo(t)

	// A search gets a grounded reply and a list to choose a product.
	sent := b.exchange(t, textCapture(t, "Show me fleece jackets"))
	if got := bodyText(sent[0]); !strings.Contains(got, "Harbor High-Pile Fleece Jacket") || !strings.Contains(got, "$119.00") {
		t.Errorf("search answer = %q, want the fleece jacket with its price", got)
	}
	list := sent[len(sent)-1]
	if list.Interactive == nil || list.Interactive.Type != "list" {
		t.Fatalf("last message = %+v, want a list to choose a product", list)
	}
	row := findRow(list.Interactive, "product:harbor-high-pile-fleece")
	if row == nil {
		t.Fatalf("list rows %+v lack the Harbor fleece", list.Interactive.Action.Sections)
	}

	// Choosing it from the list puts the product in focus, and the reply
	// offers its size guide and a person.
	sent = b.exchange(t, tapCapture(t, "callback_selection.json", "callback", "list_reply", row.ID, row.Title))
	buttons := sent[len(sent)-1]
	if buttons.Interactive == nil || buttons.Interactive.Type != "button" {
		t.Fatalf("last message = %+v, want reply buttons", buttons)
	}
	if !strings.Contains(strings.Join(allText(sent), "\n"), "Harbor High-Pile Fleece") {
		t.Errorf("product answer %q does not name the chosen product", allText(sent))
	}
	sizeGuide := findButton(buttons.Interactive, titleSizeGuide)
	if sizeGuide == nil || sizeGuide.ID != "size_guide:harbor-high-pile-fleece" {
		t.Fatalf("buttons %+v lack the product's size guide", buttons.Interactive.Action.Buttons)
	}
	if findButton(buttons.Interactive, titlePerson) == nil {
		t.Errorf("buttons %+v lack %q", buttons.Interactive.Action.Buttons, titlePerson)
	}

	// Tapping the size guide sends the fleece size guide, one line per
	// size because the table is too wide for a phone.
	sent = b.exchange(t, tapCapture(t, "callback_button.json", "button", "button_reply", sizeGuide.ID, sizeGuide.Title))
	text := strings.Join(allText(sent), "\n")
	if !strings.Contains(text, "*Fleece size guide*") || !strings.Contains(text, "*M* · Chest (in): 38–40") {
		t.Errorf("size guide reply = %q, want the fleece size guide's rows", text)
	}
	conv := b.conversation(t)
	msgs := b.messages(t, conv)
	last := msgs[len(msgs)-1]
	if last.Role != salesagent.RoleAgent || !hasCard(last, salesagent.CardSizeGuide) {
		t.Errorf("stored reply %+v lacks the size guide card", last)
	}

	// A policy question is answered from the shipping policy.
	sent = b.exchange(t, textCapture(t, "How long does shipping to Canada take?"))
	if text := strings.Join(allText(sent), "\n"); !strings.Contains(text, "5–8 business days") {
		t.Errorf("shipping answer = %q, want the policy's 5–8 business days", text)
	}

	// Every message went out once, and the shopper's profile has the
	// turn's outcomes.
	if n := b.count(t, `SELECT count(*) FROM whatsapp_outbound WHERE shop_id = $1 AND (status <> 'sent' OR wamid IS NULL)`); n != 0 {
		t.Errorf("%d outbound messages not sent", n)
	}
	customer, err := b.db.CustomerByID(context.Background(), b.shop.ID, *conv.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	if customer.Name != "Test Name" || customer.Phone != "+"+captureWAID {
		t.Errorf("customer = %q %q, want the WhatsApp profile name and number", customer.Name, customer.Phone)
	}
	if customer.Profile.Needs["sizing"] == 0 || customer.Profile.ToolsUsed["send_size_guide"] == 0 {
		t.Errorf("profile = %+v, want the sizing need and the size guide tool counted", customer.Profile)
	}
}

func allText(messages []Message) []string {
	var out []string
	for _, m := range messages {
		out = append(out, bodyText(m))
	}
	return out
}

func findRow(in *Interactive, id string) *Row {
	for _, s := range in.Action.Sections {
		for i := range s.Rows {
			if s.Rows[i].ID == id {
				return &s.Rows[i]
			}
		}
	}
	return nil
}

func findButton(in *Interactive, title string) *ButtonReply {
	for i := range in.Action.Buttons {
		if in.Action.Buttons[i].Reply.Title == title {
			return &in.Action.Buttons[i].Reply
		}
	}
	return nil
}
