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
