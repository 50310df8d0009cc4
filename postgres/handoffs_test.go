package postgres_test

import (
	"context"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

func TestHandoffQueueFillsEntries(t *testing.T) {
	t.Parallel()
	db, shop, customer, withCustomer := newCustomerConversation(t)
	ctx := context.Background()

	anonymous, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	held, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	open, err := db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"Do these run small?", "I need a person"} {
		msg := salesagent.Message{ConversationID: withCustomer.ID, Role: salesagent.RoleShopper, Body: body}
		if _, _, err := db.AppendMessage(ctx, shop.ID, msg); err != nil {
			t.Fatal(err)
		}
	}
	for _, sku := range []string{"OLD-1", "NEW-1"} {
		items := []salesagent.CartItem{{SKU: sku, Quantity: 2}}
		if _, err := db.SaveCart(ctx, shop.ID, &withCustomer.ID, &customer.ID, items); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{withCustomer.ID, anonymous.ID} {
		if _, err := db.EscalateConversation(ctx, postgres.Escalation{ShopID: shop.ID, ConversationID: id, Reason: "shopper asked"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetConversationStatus(ctx, shop.ID, held.ID, salesagent.StatusOperator); err != nil {
		t.Fatal(err)
	}

	queue, err := db.HandoffQueue(ctx, shop.ID)
	if err != nil {
		t.Fatalf("HandoffQueue: %v", err)
	}
	var ids []int64
	for _, e := range queue {
		ids = append(ids, e.Conversation.ID)
	}
	if len(queue) != 3 || ids[0] != withCustomer.ID || ids[1] != anonymous.ID || ids[2] != held.ID {
		t.Fatalf("queue = %v, want the two waiting conversations %d and %d, then the held %d, and not the open %d",
			ids, withCustomer.ID, anonymous.ID, held.ID, open.ID)
	}

	first := queue[0]
	if first.Customer == nil || first.Customer.ID != customer.ID {
		t.Errorf("first entry's customer = %+v, want customer %d", first.Customer, customer.ID)
	}
	if first.Cart == nil || len(first.Cart.Items) != 1 || first.Cart.Items[0].SKU != "NEW-1" {
		t.Errorf("first entry's cart = %+v, want the latest cart, NEW-1", first.Cart)
	}
	if first.LastMessage == nil || first.LastMessage.Body != "I need a person" {
		t.Errorf("first entry's last message = %+v, want \"I need a person\"", first.LastMessage)
	}
	for _, e := range queue[1:] {
		if e.Customer != nil || e.Cart != nil || e.LastMessage != nil {
			t.Errorf("entry %d has customer %v, cart %v, last message %v; want none", e.Conversation.ID, e.Customer, e.Cart, e.LastMessage)
		}
	}
}
