package agent

import (
	"context"
	"errors"

	"github.com/salesagent/salesagent"
)

// Service runs turns for every shop.
type Service struct{}

// HandleMessage runs the agent's turn for a shopper message that the channel
// has already stored, streams the output to out, stores the agent's reply
// and returns it.
func (s *Service) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page PageContext, out Emitter) (salesagent.Message, error) {
	return salesagent.Message{}, errors.New("agent service is not built yet")
}
