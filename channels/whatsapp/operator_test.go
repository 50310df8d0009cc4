package whatsapp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

func TestOperatorMessagesGoOutOverWhatsApp(t *testing.T) {
	b := setup(t, options{})
	ctx := context.Background()
	b.exchange(t, textCapture(t, "Hello"))
	conv := b.conversation(t)
	before := len(b.graph.sent())

	op, err := b.db.CreateOperator(ctx, b.shop.ID, "dana@example.com", "Dana", postgres.OperatorRoleOperator, "not-a-real-hash")
	if err != nil {
		t.Fatal(err)
	}
	delivery := b.ch.OperatorDelivery(b.river).QueueDelivery

	if _, _, err := b.db.ClaimConversation(ctx, op, conv.ID, "Dana joined the conversation", delivery); err != nil {
		t.Fatalf("claim: %v", err)
	}
	reply, err := b.db.AppendOperatorReply(ctx, op, conv.ID, "Hi, I'm **Dana**. I've cancelled order #1042 for you.", delivery)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if _, err := b.db.AppendOperatorNote(ctx, op, conv.ID, "refund issued manually"); err != nil {
		t.Fatalf("note: %v", err)
	}
	if _, err := b.db.HandBackConversation(ctx, op, conv.ID, "The assistant is back", delivery); err != nil {
		t.Fatalf("hand back: %v", err)
	}
	b.waitIdle(t)

	var got []string
	for _, r := range b.graph.sent()[before:] {
		if r.Message.To != captureWAID {
			t.Errorf("message sent to %q, want the shopper %q", r.Message.To, captureWAID)
		}
		got = append(got, bodyText(r.Message))
	}
	want := []string{"Dana joined the conversation", "*Dana*: Hi, I'm *Dana*. I've cancelled order #1042 for you.", "The assistant is back"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sent %q, want %q in order (WhatsApp bold, no note)", got, want)
	}
	for _, text := range got {
		if strings.Contains(text, "refund") {
			t.Errorf("the internal note reached the shopper: %q", text)
		}
	}

	// The reply's row records its wamid, tied to the stored message.
	var wamid string
	deadline := time.Now().Add(5 * time.Second)
	for wamid == "" && time.Now().Before(deadline) {
		_ = b.db.Pool.QueryRow(ctx, `SELECT coalesce(wamid, '') FROM whatsapp_outbound WHERE shop_id = $1 AND message_id = $2`, b.shop.ID, reply.ID).Scan(&wamid)
		time.Sleep(10 * time.Millisecond)
	}
	if wamid == "" {
		t.Error("the operator's reply has no sent WhatsApp message recorded")
	}

	// A web conversation gets nothing queued.
	web, err := b.db.CreateConversation(ctx, b.shop.ID, salesagent.ChannelWeb, []byte("visitor-token-hash-0123456789abc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.db.InTx(ctx, func(tx pgx.Tx) error {
		return delivery(ctx, tx, web, salesagent.Message{ID: 1, ConversationID: web.ID, Role: salesagent.RoleOperator, Body: "hi"})
	}); err != nil {
		t.Errorf("delivery on a web conversation: %v, want nothing done", err)
	}
}
