package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/retrieval"
)

// setupOffline starts a server whose turns run on the agent service with
// the offline brain, over the shop's indexed catalog and documents.
func setupOffline(t *testing.T) *bundle {
	t.Helper()
	return setup(t, func(cfg *Config, shop *salesagent.Shop) {
		ctx := context.Background()
		if _, err := cfg.DB.UpsertDocuments(ctx, shop.ID, shopDocuments()); err != nil {
			t.Fatal(err)
		}
		embedder := retrieval.NewLocalEmbedder()
		if _, err := retrieval.NewIndexer(cfg.DB, embedder, nil).IndexShop(ctx, shop.ID); err != nil {
			t.Fatalf("index shop: %v", err)
		}
		cfg.Turns = agent.NewService(cfg.DB, retrieval.NewSearcher(cfg.DB, embedder), testLogger())
	})
}

// nextMessage reads frames until a stored message frame and returns it.
func nextMessage(t *testing.T, c *Client) ServerFrame {
	t.Helper()
	for {
		f := next(t, c)
		if f.Type == FrameError {
			t.Fatalf("error frame: %s", f.Raw)
		}
		if f.Type == FrameMessage && f.Message != nil {
			return f
		}
	}
}

func TestResumeAnswersHeldMessageAfterHandBack(t *testing.T) {
	t.Parallel()
	b := setupOffline(t)
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)
	convID := c.Welcome.ConversationID

	op, err := b.db.CreateOperator(ctx, b.shop.ID, "dana@example.com", "Dana", postgres.OperatorRoleOperator, "not-a-real-hash")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.db.ClaimConversation(ctx, op, convID, "Dana joined the conversation", nil); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if f := nextMessage(t, c); f.Message.Body != "Dana joined the conversation" {
		t.Fatalf("got %s, want the join notice", f.Raw)
	}

	// The shopper writes while Dana holds the conversation: the agent
	// stays silent.
	if _, err := c.Send(ctx, "Where do you ship?"); err != nil {
		t.Fatal(err)
	}
	var held ServerFrame
	for held.Type != FrameHeld {
		held = next(t, c)
		if held.Type == FrameMessage && held.Message != nil && held.Message.Role == salesagent.RoleAgent {
			t.Fatalf("agent replied while an operator held the conversation: %s", held.Raw)
		}
	}
	msgs, err := b.db.MessagesAfter(ctx, b.shop.ID, convID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	question := msgs[len(msgs)-1]
	if question.Role != salesagent.RoleShopper || question.Body != "Where do you ship?" {
		t.Fatalf("last stored message %+v, want the shopper's question", question)
	}

	if _, err := b.db.HandBackConversation(ctx, op, convID, "The assistant is back", nil); err != nil {
		t.Fatalf("hand back: %v", err)
	}
	conv, err := b.db.ConversationByID(ctx, b.shop.ID, convID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Resume(ctx, b.shop, conv, question); err != nil {
		t.Fatalf("resume: %v", err)
	}
	// A repeated call, as from a retried request, starts no second turn.
	if err := b.srv.Resume(ctx, b.shop, conv, question); err != nil {
		t.Fatalf("second resume: %v", err)
	}

	if f := nextMessage(t, c); f.Message.Body != "The assistant is back" {
		t.Fatalf("got %s, want the handback notice", f.Raw)
	}
	answer := nextMessage(t, c)
	if answer.Message.Role != salesagent.RoleAgent || answer.Message.ReplyTo != question.Seq {
		t.Fatalf("got %s, want the agent's reply to message %d", answer.Raw, question.Seq)
	}
	if !strings.Contains(answer.Message.Body, "Canada") {
		t.Errorf("reply %q does not answer from the shipping FAQ", answer.Message.Body)
	}

	waitTurnsDone(t, b.srv)
	if err := b.srv.Resume(ctx, b.shop, conv, question); err != nil {
		t.Fatalf("resume of an answered message: %v", err)
	}
	waitTurnsDone(t, b.srv)
	var replies int
	err = b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE conversation_id = $1 AND role = 'agent' AND reply_to = $2`,
		convID, question.Seq).Scan(&replies)
	if err != nil {
		t.Fatal(err)
	}
	if replies != 1 {
		t.Errorf("%d agent replies to message %d, want 1", replies, question.Seq)
	}
	expectNoFrame(t, c, 300*time.Millisecond)
}

func TestResumeRejectsOtherChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	conv := &salesagent.Conversation{ID: 1, ShopID: b.shop.ID, Channel: salesagent.ChannelWhatsApp}
	err := b.srv.Resume(testContext(t), b.shop, conv, salesagent.Message{Seq: 1, Role: salesagent.RoleShopper})
	if err == nil || !strings.Contains(err.Error(), "resumes only web shopper messages") {
		t.Errorf("resume of a whatsapp message: %v, want an error naming the web channel", err)
	}
	if n := b.agent.callCount(); n != 0 {
		t.Errorf("agent ran %d turns, want none", n)
	}
}

// waitTurnsDone waits until the server runs no turn.
func waitTurnsDone(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.runningTurns.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("turns still running after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The sweep looks at every shop, so sweep tests do not run in parallel.
func TestSweepRepliesToOrphanedMessage(t *testing.T) {
	b := setup(t)
	ctx := testContext(t)
	b.agent.mu.Lock()
	b.agent.fail = salesagent.Errorf(salesagent.EINTERNAL, "the process running the turn died")
	b.agent.mu.Unlock()
	c := b.dial(t, DialOptions{})
	if _, err := c.Send(ctx, "Do you ship to Canada?"); err != nil {
		t.Fatal(err)
	}
	failed := b.waitTurn(t)
	for f := next(t, c); f.Type != FrameError; f = next(t, c) {
	}
	b.agent.mu.Lock()
	b.agent.fail = nil
	b.agent.mu.Unlock()

	// A message as recent as a running turn is left alone.
	if n, err := b.srv.ResumeUnanswered(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of a fresh message started %d turns (%v), want 0", n, err)
	}

	// Stored longer ago than any turn may run, it gets a reply.
	if _, err := b.db.Pool.Exec(ctx, `UPDATE messages SET created_at = now() - interval '3 minutes' WHERE conversation_id = $1`, failed.conv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Pool.Exec(ctx, `UPDATE conversations SET updated_at = now() - interval '3 minutes' WHERE id = $1`, failed.conv.ID); err != nil {
		t.Fatal(err)
	}
	n, err := b.srv.ResumeUnanswered(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep started %d turns (%v), want 1", n, err)
	}
	resumed := b.waitTurn(t)
	if resumed.msg.Seq != failed.msg.Seq {
		t.Errorf("sweep ran a turn for seq %d, want %d", resumed.msg.Seq, failed.msg.Seq)
	}
	reply := nextMessage(t, c)
	if reply.Message.Role != salesagent.RoleAgent || reply.Message.ReplyTo != failed.msg.Seq {
		t.Errorf("socket got %s, want the agent's reply to seq %d", reply.Raw, failed.msg.Seq)
	}

	// A message with a reply gets no second one.
	if n, err := b.srv.ResumeUnanswered(ctx); err != nil || n != 0 {
		t.Errorf("second sweep started %d turns (%v), want 0", n, err)
	}
}

// The sweep looks at every shop, so sweep tests do not run in parallel.
func TestSweepRepliesToQueuedInOrder(t *testing.T) {
	b := setup(t)
	ctx := testContext(t)
	c := b.dial(t, DialOptions{})
	if _, err := c.Send(ctx, "Is the cap back in stock?"); err != nil {
		t.Fatal(err)
	}
	b.waitTurn(t)
	untilFinal(t, c, 1)

	// Two later messages whose turns die, as when their process is killed
	// after the first reply was stored.
	b.agent.mu.Lock()
	b.agent.fail = salesagent.Errorf(salesagent.EINTERNAL, "the process running the turn died")
	b.agent.mu.Unlock()
	for _, text := range []string{"And in red?", "Do you ship to Canada?"} {
		if _, err := c.Send(ctx, text); err != nil {
			t.Fatal(err)
		}
		b.waitTurn(t)
		for f := next(t, c); f.Type != FrameError; f = next(t, c) {
		}
	}
	b.agent.mu.Lock()
	b.agent.fail = nil
	b.agent.mu.Unlock()

	convID := c.Welcome.ConversationID
	if _, err := b.db.Pool.Exec(ctx, `UPDATE messages SET created_at = now() - interval '3 minutes' WHERE conversation_id = $1`, convID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Pool.Exec(ctx, `UPDATE conversations SET updated_at = now() - interval '3 minutes' WHERE id = $1`, convID); err != nil {
		t.Fatal(err)
	}
	n, err := b.srv.ResumeUnanswered(ctx)
	if err != nil || n != 2 {
		t.Fatalf("sweep started %d turns (%v), want 2", n, err)
	}
	first, second := b.waitTurn(t), b.waitTurn(t)
	if first.msg.Body != "And in red?" || second.msg.Body != "Do you ship to Canada?" {
		t.Errorf("sweep replied to %q then %q, want the two messages without a reply in order", first.msg.Body, second.msg.Body)
	}
}
