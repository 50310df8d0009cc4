package agent

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
)

func TestDraftAnswersWithoutSideEffects(t *testing.T) {
	b := setup(t)
	ctx := context.Background()

	// Without a shopper message there is nothing to reply to.
	if _, _, err := b.service.Draft(ctx, b.shop, b.conv.ID); salesagent.ErrorCode(err) != salesagent.EINVALID {
		t.Fatalf("draft of an empty conversation: %v, want EINVALID", err)
	}

	if _, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: b.conv.ID, Role: salesagent.RoleShopper, Body: "How much is shipping to Canada?"}); err != nil {
		t.Fatal(err)
	}
	before, err := b.db.AllMessages(ctx, b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	eventsBefore := len(b.events(t))

	reply, brain, err := b.service.Draft(ctx, b.shop, b.conv.ID)
	if err != nil {
		t.Fatalf("draft: %v", err)
	}
	if brain != "offline" {
		t.Errorf("draft brain %q, want offline with no LLM configured", brain)
	}
	if !strings.Contains(reply.Text, "$15.00") {
		t.Errorf("draft %q does not quote the shop's Canada shipping cost", reply.Text)
	}

	after, err := b.db.AllMessages(ctx, b.shop.ID, b.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("draft stored %d messages, want none", len(after)-len(before))
	}
	if n := len(b.events(t)); n != eventsBefore {
		t.Errorf("draft recorded %d events, want none", n-eventsBefore)
	}
}

// TestDraftForEscalatedRequest drafts replies to messages that would make
// the agent escalate or save a cart, which a draft may not do: the draft
// must still be written, without claiming either.
func TestDraftForEscalatedRequest(t *testing.T) {
	for _, message := range []string{
		"I need to speak to a real person about a bulk order",
		"Please let me talk to a real person",
		"please save my cart for later",
	} {
		t.Run(message, func(t *testing.T) {
			b := setup(t)
			ctx := context.Background()
			if _, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: b.conv.ID, Role: salesagent.RoleShopper, Body: message}); err != nil {
				t.Fatal(err)
			}

			reply, _, err := b.service.Draft(ctx, b.shop, b.conv.ID)
			if err != nil {
				t.Fatalf("draft: %v", err)
			}
			if strings.TrimSpace(reply.Text) == "" {
				t.Error("draft is empty")
			}
			for _, claim := range []string{"cart is empty", "saved your cart", "unknown tool"} {
				if strings.Contains(reply.Text, claim) {
					t.Errorf("draft %q says %q", reply.Text, claim)
				}
			}
			if n := strings.Count(reply.Text, "talking with a person"); strings.Contains(message, "person") && n != 1 {
				t.Errorf("draft %q greets the shopper as the person %d times, want once", reply.Text, n)
			}
			if strings.Contains(message, "person") && !strings.Contains(reply.Text, "talking with a person") {
				t.Errorf("draft %q does not greet the shopper as the person they asked for", reply.Text)
			}
			if reply.Outcome == OutcomeEscalated {
				t.Error("draft's outcome is escalated")
			}
		})
	}
}

func TestDraftCannotActForShopper(t *testing.T) {
	for _, name := range []string{"save_cart", "apply_discount", "escalate_to_human"} {
		if _, ok := draftRegistry.Lookup(name); ok {
			t.Errorf("drafts may call %s, which acts for the shopper", name)
		}
	}
	if _, ok := draftRegistry.Lookup("search_products"); !ok {
		t.Error("drafts cannot search products")
	}
}
