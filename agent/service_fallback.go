package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// EventBrainFallback is the event of a turn that the offline brain
// replied to because the shop's brain failed.
const EventBrainFallback = "brain_fallback"

// fallBack lets the offline brain reply in a turn whose brain failed with
// cause. When the failed brain had streamed text, the offline reply is
// sent as one StreamReplace, so the shopper sees it in place of the
// partial text. Tool calls the failed brain made stay done and recorded.
func (s *Service) fallBack(ctx context.Context, logger *slog.Logger, turn *Turn, toolbox *Toolbox, emitter *guardedEmitter, failed Brain, cause error) (*Reply, error) {
	if ctx.Err() != nil {
		return nil, cause
	}
	reason := "error"
	var le *llmError
	if errors.As(cause, &le) {
		reason = le.result
	}
	logger.WarnContext(ctx, "brain failed, so the offline agent replies instead", "brain", failed.Name(), "reason", reason, "error", cause)
	toolbox.env.record(EventBrainFallback, map[string]string{"brain": failed.Name(), "reason": reason})

	var out Emitter = emitter
	replace := emitter.streamed
	if replace {
		out = &captureEmitter{out: emitter}
	}
	reply, err := s.offline.Respond(ctx, turn, toolbox, out)
	if err != nil {
		return nil, fmt.Errorf("offline brain after %s brain failed (%v): %w", failed.Name(), cause, err)
	}
	if replace {
		_ = emitter.Emit(ctx, StreamEvent{Type: StreamReplace, Text: reply.Text})
	}
	reply.Usage = usageOf(cause)
	return reply, nil
}

// recordUsage stores the model usage of the turn that produced the
// stored reply. usage is nil for a turn that used no model.
func (s *Service) recordUsage(ctx context.Context, turn *Turn, stored salesagent.Message, usage *Usage) error {
	if usage == nil {
		return nil
	}
	return s.db.RecordTurnUsage(ctx, turn.Shop.ID, turn.Conversation.ID, postgres.TurnUsage{
		MessageID: stored.ID, Model: usage.Model, Requests: usage.Requests,
		PromptTokens: usage.PromptTokens, CompletionTokens: usage.CompletionTokens,
		Estimated: usage.Estimated, CostUSD: usage.CostUSD,
	})
}
