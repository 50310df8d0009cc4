package web

import (
	"context"
	"fmt"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// resumeKey names a shopper message whose resumed turn runs.
type resumeKey struct {
	conversationID int64
	seq            int
}

// Resume has the agent reply to msg, a shopper message of a web conversation
// that no turn replied to: one that arrived while an operator held the
// conversation, once the operator has handed it back, or one whose turn
// died with its server process (see ResumeUnanswered). It implements
// console.Resumer.
//
// The turn runs in a goroutine bounded by TurnTimeout and by the server's
// lifetime, not by ctx, so Resume returns as soon as the turn has started
// and a caller's HTTP request does not wait for the agent. The agent stores
// the reply, and every socket of the conversation, on this server process
// or another, receives it through the new-message notifications. Nothing
// streams, so sockets get the whole reply at once.
//
// Resume starts no turn when the agent has replied to msg already or when
// a resumed turn for msg runs in this process. It returns an error when
// msg is not a web shopper message or the server is closing.
func (s *Server) Resume(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message) error {
	if conv.Channel != salesagent.ChannelWeb || msg.Role != salesagent.RoleShopper {
		return fmt.Errorf("resume %s message %d of %s conversation %d: the web channel resumes only web shopper messages",
			msg.Role, msg.Seq, conv.Channel, conv.ID)
	}
	_, err := postgres.MessageReplyingTo(ctx, s.db.Pool, shop.ID, conv.ID, msg.Seq, salesagent.RoleAgent)
	if err == nil {
		return nil
	}
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		return fmt.Errorf("look up the agent's reply to message %d: %w", msg.Seq, err)
	}

	key := resumeKey{conversationID: conv.ID, seq: msg.Seq}
	started, err := s.startResume(key)
	if err != nil || !started {
		return err
	}
	go s.runResumed(key, shop, conv, msg)
	return nil
}

// startResume counts a resumed turn for key as a running turn. It reports
// false when one runs already, and fails when the server is closing.
func (s *Server) startResume(key resumeKey) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false, salesagent.Errorf(salesagent.EUNAVAILABLE, "the web channel is shutting down: reply to message %d of conversation %d yourself", key.seq, key.conversationID)
	}
	if _, running := s.resuming[key]; running {
		return false, nil
	}
	if s.resuming == nil {
		s.resuming = map[resumeKey]struct{}{}
	}
	s.resuming[key] = struct{}{}
	s.turnsWG.Add(1)
	s.runningTurns.Add(1)
	return true, nil
}

// runResumed runs the resumed turn for msg and logs how it ended.
func (s *Server) runResumed(key resumeKey, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message) {
	defer func() {
		s.mu.Lock()
		delete(s.resuming, key)
		s.mu.Unlock()
		s.turnEnded()
	}()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.TurnTimeout)
	defer cancel()
	ctx = agent.WithBrainCutoff(ctx, s.cutoff)
	logger := s.log.With("shop_id", shop.ID, "conversation_id", conv.ID, "seq", msg.Seq)

	// NOTE: the page the shopper had open is known only to their socket,
	// so the resumed turn runs without a product in view.
	start := time.Now()
	reply, err := s.turns.HandleMessage(ctx, shop, conv, msg, agent.PageContext{}, silentEmitter{})
	if err != nil {
		logger.ErrorContext(ctx, "resumed turn failed", "error", err)
		return
	}
	if reply.Seq == 0 {
		logger.InfoContext(ctx, "resumed turn stored no reply: an operator took the conversation again")
		return
	}
	logger.InfoContext(ctx, "agent replied to a message that waited for a reply", "reply_seq", reply.Seq,
		"duration_ms", time.Since(start).Milliseconds())
}

// silentEmitter drops a turn's stream events, for a turn that no socket
// waits on.
type silentEmitter struct{}

// Emit drops event.
func (silentEmitter) Emit(context.Context, agent.StreamEvent) error { return nil }
