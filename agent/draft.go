package agent

import (
	"context"
	"fmt"

	"github.com/salesagent/salesagent"
)

// draftRegistry holds the tools a draft may call: the ones that only read.
// Saving a cart, granting a discount or escalating would act on the
// shopper's behalf before the operator chose to send anything.
var draftRegistry = NewRegistry(searchProductsTool, sendSizeGuideTool, orderStatusTool)

// discardEmitter drops a draft's stream, since no client reads it.
type discardEmitter struct{}

func (discardEmitter) Emit(context.Context, StreamEvent) error { return nil }

// Draft writes the agent's reply to the conversation's latest shopper
// message for an operator to edit and send. It stores nothing, records no
// event and runs only the tools that read, so the shopper sees nothing
// until the operator sends a reply. It uses the shop's brain, and the
// offline brain when that fails. A conversation without a shopper message
// is an EINVALID error.
func (s *Service) Draft(ctx context.Context, shop *salesagent.Shop, convID int64) (*Reply, string, error) {
	logger := s.logger.With("shop_id", shop.ID, "conversation_id", convID, "draft", true)
	conv, err := s.db.ConversationByID(ctx, shop.ID, convID)
	if err != nil {
		return nil, "", err
	}
	recent, err := s.db.RecentMessages(ctx, shop.ID, convID, 20)
	if err != nil {
		return nil, "", fmt.Errorf("load history: %w", err)
	}
	var question salesagent.Message
	for _, m := range recent {
		if m.Role == salesagent.RoleShopper {
			question = m
		}
	}
	if question.Seq == 0 {
		return nil, "", salesagent.Errorf(salesagent.EINVALID, "conversation %d has no shopper message to reply to: write the reply yourself", convID)
	}

	turn, err := s.prepareTurn(ctx, logger, shop, conv.ID, question, PageContext{}, false)
	if err != nil {
		return nil, "", err
	}
	emitter := &guardedEmitter{out: discardEmitter{}, logger: logger}
	toolbox := &Toolbox{
		registry: draftRegistry, out: emitter, logger: logger,
		env: ToolEnv{DB: s.db, Search: s.search, Turn: turn},
	}
	brain := s.brainFor(shop)
	reply, err := brain.Respond(ctx, turn, toolbox, emitter)
	if err != nil && brain != s.offline {
		if reply, err = s.fallBack(ctx, logger, turn, toolbox, emitter, brain, err); err == nil {
			brain = s.offline
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s brain: %w", brain.Name(), err)
	}
	logger.DebugContext(ctx, "draft written", "brain", brain.Name(), "reply_to", question.Seq)
	return reply, brain.Name(), nil
}
