package console

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

// TestAgentReplyNeverFollowsClaim races an agent reply against a claim on
// fresh conversations. A successful claim returns L, the last seq before
// its "joined" notice. The invariant is that no agent message has a seq
// above L. So the agent's reply was either stored before the claim, with a
// seq up to L, or not stored at all, with Seq 0.
func TestAgentReplyNeverFollowsClaim(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	const pairs = 200
	var stored, dropped int

	for i := range pairs {
		token := make([]byte, 32)
		_, _ = rand.Read(token)
		conv, err := f.db.CreateConversation(ctx, f.shop.ID, salesagent.ChannelWeb, token, nil)
		if err != nil {
			t.Fatalf("pair %d: create conversation: %v", i, err)
		}
		shopperMsg := appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "Is anyone there?")

		var wg sync.WaitGroup
		start := make(chan struct{})
		var reply salesagent.Message
		var replyErr, claimErr error
		var claimed *salesagent.Conversation
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			reply, replyErr = f.db.AppendAgentMessage(ctx, f.shop.ID, salesagent.Message{
				ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: "Here is my answer", ReplyTo: shopperMsg.Seq,
			})
		}()
		go func() {
			defer wg.Done()
			<-start
			claimed, _, claimErr = f.db.ClaimConversation(ctx, f.op, conv.ID, "Dana joined the conversation", nil)
		}()
		close(start)
		wg.Wait()

		if replyErr != nil {
			t.Fatalf("pair %d: agent reply failed: %v", i, replyErr)
		}
		if claimErr != nil {
			t.Fatalf("pair %d: claim failed: %v", i, claimErr)
		}
		all, err := f.db.AllMessages(ctx, f.shop.ID, conv.ID)
		if err != nil {
			t.Fatalf("pair %d: load messages: %v", i, err)
		}
		agentMessages := 0
		for _, m := range all {
			if m.Role != salesagent.RoleAgent {
				continue
			}
			agentMessages++
			if m.Seq > claimed.LastSeq {
				t.Fatalf("pair %d: agent message seq %d stored after the claim at seq %d", i, m.Seq, claimed.LastSeq)
			}
		}
		switch {
		case reply.Seq == 0 && agentMessages != 0:
			t.Fatalf("pair %d: AppendAgentMessage returned Seq 0 but %d agent messages are stored", i, agentMessages)
		case reply.Seq != 0 && agentMessages != 1:
			t.Fatalf("pair %d: AppendAgentMessage stored seq %d but %d agent messages are stored", i, reply.Seq, agentMessages)
		case reply.Seq == 0:
			dropped++
		default:
			stored++
		}
	}
	t.Logf("%d pairs: agent reply stored before the claim %d times, dropped %d times", pairs, stored, dropped)
}

// claimingBrain claims the conversation while it "thinks", as an operator
// who takes over during a slow model call would.
type claimingBrain struct {
	claim func(ctx context.Context) error
}

func (b claimingBrain) Name() string { return "claiming-test-brain" }

func (b claimingBrain) Respond(ctx context.Context, turn *agent.Turn, tools *agent.Toolbox, out agent.Emitter) (*agent.Reply, error) {
	if err := b.claim(ctx); err != nil {
		return nil, err
	}
	return &agent.Reply{Text: "A reply written before the operator came", Outcome: agent.OutcomeAnswered}, nil
}

func TestServiceDropsReplyAfterClaim(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	token := make([]byte, 32)
	_, _ = rand.Read(token)
	conv, err := f.db.CreateConversation(ctx, f.shop.ID, salesagent.ChannelWeb, token, nil)
	if err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	msg := appendMessage(t, f.db, f.shop, conv.ID, salesagent.RoleShopper, "Can I talk to a person?")

	service := agent.NewService(f.db, nil, slog.New(slog.DiscardHandler))
	service.Brains = func(*salesagent.Shop) agent.Brain {
		return claimingBrain{claim: func(ctx context.Context) error {
			_, _, err := f.db.ClaimConversation(ctx, f.op, conv.ID, "Dana joined the conversation", nil)
			return err
		}}
	}
	reply, err := service.HandleMessage(ctx, f.shop, conv, msg, agent.PageContext{}, nil)
	if err != nil {
		t.Fatalf("handle message: %v", err)
	}
	if reply.Seq != 0 {
		t.Errorf("HandleMessage returned reply seq %d, want 0 because an operator claimed the conversation", reply.Seq)
	}
	all, err := f.db.AllMessages(ctx, f.shop.ID, conv.ID)
	if err != nil {
		t.Fatalf("load messages: %v", err)
	}
	for _, m := range all {
		if m.Role == salesagent.RoleAgent {
			t.Errorf("agent message %q stored after the claim", m.Body)
		}
	}
	if len(all) != 2 || all[1].Body != "Dana joined the conversation" {
		t.Errorf("messages %+v, want the shopper's and the joined notice", all)
	}
}
