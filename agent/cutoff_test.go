package agent

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/salesagent/salesagent"
)

// silentBrain waits until its context ends, as a model that never
// responds does.
type silentBrain struct {
	once    sync.Once
	started chan struct{}
}

func (s *silentBrain) Name() string { return "silent" }

func (s *silentBrain) Respond(ctx context.Context, turn *Turn, tools *Toolbox, out Emitter) (*Reply, error) {
	s.once.Do(func() { close(s.started) })
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

func TestBrainCutoffRepliesOffline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	brain := &silentBrain{started: make(chan struct{})}
	b.service.Brains = func(*salesagent.Shop) Brain { return brain }
	cutoff := make(chan struct{})
	ctx := WithBrainCutoff(context.Background(), cutoff)
	go func() {
		<-brain.started
		close(cutoff)
	}()

	sent, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: b.conv.ID, Role: salesagent.RoleShopper, Body: "how much is shipping to Canada"})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := b.service.HandleMessage(ctx, b.shop, b.conv, sent, PageContext{}, &failingEmitter{})
	if err != nil {
		t.Fatalf("HandleMessage cut off: %v", err)
	}
	if !strings.Contains(reply.Body, "$15.00") {
		t.Errorf("reply %q, want the offline agent's answer quoting the shipping FAQ", reply.Body)
	}
	if n := countEvents(b.events(t), EventBrainFallback, `"brain": "silent"`); n != 1 {
		t.Errorf("recorded %d fallback events of the silent brain, want 1", n)
	}

	// A turn that starts after the cutoff does not start the model, and
	// the offline agent's tools still reach the database.
	late := &silentBrain{started: make(chan struct{})}
	b.service.Brains = func(*salesagent.Shop) Brain { return late }
	sent, _, err = b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: b.conv.ID, Role: salesagent.RoleShopper, Body: "I'm looking for a rain jacket"})
	if err != nil {
		t.Fatal(err)
	}
	reply, err = b.service.HandleMessage(ctx, b.shop, b.conv, sent, PageContext{}, &failingEmitter{})
	if err != nil {
		t.Fatalf("HandleMessage after the cutoff: %v", err)
	}
	if cardOf(reply, salesagent.CardProducts) == nil {
		t.Errorf("reply %q after the cutoff has no product tiles from search_products", reply.Body)
	}
	select {
	case <-late.started:
		t.Error("the model started after the cutoff")
	default:
	}
}
