package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

func TestRepliesKeepMessageOrder(t *testing.T) {
	b := setup(t, options{})
	body := capture(t, "message.json", "text")
	value := change(t, body)
	template := value["messages"].([]any)[0].(map[string]any)
	var messages []any
	for _, text := range []string{"one", "two", "three"} {
		m := map[string]any{}
		for k, v := range template {
			m[k] = v
		}
		m["id"], m["timestamp"], m["text"] = newWAMID(), strconv.FormatInt(time.Now().Unix(), 10), map[string]any{"body": text}
		messages = append(messages, m)
	}
	value["messages"] = messages
	raw, _ := json.Marshal(body)

	b.deliver(t, raw)
	b.waitIdle(t)
	var got []string
	for _, r := range b.graph.sent() {
		got = append(got, bodyText(r.Message))
	}
	if strings.Join(got, "|") != "You asked: one|You asked: two|You asked: three" {
		t.Errorf("replies sent in order %q, want the messages' order", got)
	}
}

// failingAgent fails every turn.
type failingAgent struct{ calls chan struct{} }

func (a *failingAgent) HandleMessage(context.Context, *salesagent.Shop, *salesagent.Conversation, salesagent.Message, agent.PageContext, agent.Emitter) (salesagent.Message, error) {
	a.calls <- struct{}{}
	return salesagent.Message{}, errors.New("language model unavailable")
}

func TestFailedTurnApologisesAndOffersPerson(t *testing.T) {
	failing := &failingAgent{calls: make(chan struct{}, 10)}
	b := setup(t, options{turns: failing, config: func(c *Config) { c.TurnAttempts = 2 }})

	sent := b.exchange(t, textCapture(t, "Can you help me?"))
	if n := len(failing.calls); n != 2 {
		t.Errorf("turn ran %d times, want 2 attempts", n)
	}
	if len(sent) != 1 || sent[0].Interactive == nil || findButton(sent[0].Interactive, titlePerson) == nil ||
		!strings.Contains(sent[0].Interactive.Body.Text, "Sorry") {
		t.Fatalf("sent %+v, want an apology with a person button", sent)
	}
	conv := b.conversation(t)
	if !hasEvent(b.events(t, conv), EventTurnFailed) {
		t.Errorf("no %s event", EventTurnFailed)
	}
	var system bool
	for _, m := range b.messages(t, conv) {
		system = system || (m.Role == salesagent.RoleSystem && strings.Contains(m.Body, "could not answer"))
	}
	if !system {
		t.Errorf("no system message records the failed turn")
	}
}

func TestOperatorHeldConversationGetsNoReply(t *testing.T) {
	b := setup(t, options{})
	b.exchange(t, textCapture(t, "Hello"))
	conv := b.conversation(t)
	if err := b.db.SetConversationStatus(context.Background(), b.shop.ID, conv.ID, salesagent.StatusOperator); err != nil {
		t.Fatal(err)
	}
	before := len(b.graph.all())

	b.deliver(t, inboundCapture(t, "message.json", "image", "", time.Now()))
	b.waitIdle(t)
	if n := len(b.graph.all()) - before; n != 0 {
		t.Errorf("sent %d messages while an operator holds the conversation, want none", n)
	}
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1 AND turn_state = 'done'`); n != 2 {
		t.Errorf("%d turns done, want 2", n)
	}
}

func TestLimitersArePerNumber(t *testing.T) {
	l := newLimiters()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.wait(ctx, "111", 1); err != nil {
		t.Fatalf("first send of number 111: %v", err)
	}
	// The bucket of 111 is empty for a second, longer than ctx allows.
	if err := l.wait(ctx, "111", 1); err == nil {
		t.Error("second send of number 111 within its second did not wait")
	}
	if err := l.wait(ctx, "222", 1); err != nil {
		t.Errorf("number 222 waited for number 111: %v", err)
	}
}
