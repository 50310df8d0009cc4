package whatsapp

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// heldSilentAgent is the fake agent that, like the agent service, stores
// no reply while an operator holds the conversation.
type heldSilentAgent struct {
	fake *fakeAgent
}

func (a *heldSilentAgent) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error) {
	stored, err := a.fake.db.ConversationByID(ctx, shop.ID, conv.ID)
	if err != nil {
		return salesagent.Message{}, err
	}
	if stored.Status == salesagent.StatusOperator {
		return salesagent.Message{}, nil
	}
	return a.fake.HandleMessage(ctx, shop, conv, msg, page, out)
}

func TestResumeAnswersHeldMessageAfterHandBack(t *testing.T) {
	turns := &heldSilentAgent{}
	b := setup(t, options{turns: turns})
	turns.fake = newFakeAgent(b.db)
	ctx := context.Background()
	b.exchange(t, textCapture(t, "Hello"))
	conv := b.conversation(t)

	op, err := b.db.CreateOperator(ctx, b.shop.ID, "dana@example.com", "Dana", postgres.OperatorRoleOperator, "not-a-real-hash")
	if err != nil {
		t.Fatal(err)
	}
	delivery := b.ch.OperatorDelivery(b.river).QueueDelivery
	if _, _, err := b.db.ClaimConversation(ctx, op, conv.ID, "Dana joined the conversation", delivery); err != nil {
		t.Fatalf("claim: %v", err)
	}
	b.waitIdle(t)
	before := len(b.graph.sent())

	// The shopper writes while Dana holds the conversation.
	b.deliver(t, textCapture(t, "Are you still there?"))
	b.waitIdle(t)
	if n := len(b.graph.sent()) - before; n != 0 {
		t.Fatalf("sent %d messages while an operator holds the conversation, want none", n)
	}
	msgs := b.messages(t, conv)
	question := msgs[len(msgs)-1]
	if question.Role != salesagent.RoleShopper || question.Body != "Are you still there?" {
		t.Fatalf("last stored message %+v, want the shopper's question", question)
	}

	if _, err := b.db.HandBackConversation(ctx, op, conv.ID, "The assistant is back", delivery); err != nil {
		t.Fatalf("hand back: %v", err)
	}
	conv, err = b.db.ConversationByID(ctx, b.shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	resumer := b.ch.Resumer(b.river)
	if err := resumer.Resume(ctx, b.shop, conv, question); err != nil {
		t.Fatalf("resume: %v", err)
	}
	// A second call while the turn is pending queues nothing more.
	if err := resumer.Resume(ctx, b.shop, conv, question); err != nil {
		t.Fatalf("second resume: %v", err)
	}
	b.waitIdle(t)

	var got []string
	for _, r := range b.graph.sent()[before:] {
		got = append(got, bodyText(r.Message))
	}
	answer := "You asked: Are you still there?"
	if n := countOf(got, answer); n != 1 {
		t.Errorf("sent %q after the handback, want the agent's answer %q once", got, answer)
	}
	if n := countOf(got, "The assistant is back"); n != 1 {
		t.Errorf("sent %q after the handback, want the handback notice once", got)
	}
	if n := b.count(t, `SELECT count(*) FROM messages WHERE shop_id = $1 AND conversation_id = $2 AND role = 'agent' AND reply_to = $3`, conv.ID, question.Seq); n != 1 {
		t.Errorf("%d agent replies to message %d stored, want 1", n, question.Seq)
	}
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1 AND turn_state <> 'done'`); n != 0 {
		t.Errorf("%d inbound turns not done, want all done", n)
	}

	// Once the message has a reply, a resume queues no job and sends
	// nothing.
	sentBefore := len(b.graph.sent())
	if err := resumer.Resume(ctx, b.shop, conv, question); err != nil {
		t.Fatalf("resume of an answered message: %v", err)
	}
	b.waitIdle(t)
	if n := len(b.graph.sent()) - sentBefore; n != 0 {
		t.Errorf("resume of an answered message sent %d messages, want none", n)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE kind = $2 AND (args->>'shop_id')::bigint = $1 AND (args->>'resumed')::boolean`,
		TurnArgs{}.Kind()); n != 1 {
		t.Errorf("%d resumed turn jobs, want 1", n)
	}
}

func TestResumeRejectsWebConversation(t *testing.T) {
	b := setup(t, options{})
	conv := &salesagent.Conversation{ID: 1, ShopID: b.shop.ID, Channel: salesagent.ChannelWeb}
	err := b.ch.Resumer(b.river).Resume(context.Background(), b.shop, conv, salesagent.Message{Seq: 1, Role: salesagent.RoleShopper})
	if err == nil || !strings.Contains(err.Error(), "resumes only whatsapp messages") {
		t.Errorf("resume of a web message: %v, want an error naming the whatsapp channel", err)
	}
}

// countOf returns how many times want occurs in texts.
func countOf(texts []string, want string) int {
	n := 0
	for _, text := range texts {
		if text == want {
			n++
		}
	}
	return n
}
