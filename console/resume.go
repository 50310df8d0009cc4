package console

import (
	"context"
	"fmt"
	"time"

	"github.com/salesagent/salesagent"
)

// Values of the "resume" field of the handback response.
const (
	// resumeNone means that no shopper message waited for a reply,
	// because an operator's reply, the agent or a notice came after the
	// last one.
	resumeNone = "none"
	// resumeStarted means that the agent's reply to the shopper's last
	// message is started or queued on the conversation's channel.
	resumeStarted = "started"
	// resumeFailed means that the agent's reply to the shopper's last
	// message could not be started, so a person should reply.
	resumeFailed = "failed"
)

// resumeTimeout bounds the lookups and the start of the agent's reply
// after a handback. The reply itself runs on the channel's own timeout.
const resumeTimeout = 15 * time.Second

// resumeAfterHandBack has the agent reply to the shopper's message that
// arrived while an operator held the conversation, when it is the last
// public message before the handback notice. It returns the value of the
// response's "resume" field. It logs a failure and returns resumeFailed,
// so the stored handback still succeeds.
func (c *Console) resumeAfterHandBack(ctx context.Context, conv *salesagent.Conversation, notice salesagent.Message) string {
	// The operator's browser may close the request once the handback is
	// stored, and the reply must be started all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), resumeTimeout)
	defer cancel()
	logger := c.log.With("shop_id", conv.ShopID, "conversation_id", conv.ID, "notice_seq", notice.Seq)

	waiting, err := c.unansweredBefore(ctx, conv, notice.Seq)
	if err != nil {
		logger.WarnContext(ctx, "loading messages after a handback failed", "error", err)
		return resumeFailed
	}
	if waiting == nil {
		return resumeNone
	}
	logger = logger.With("channel", conv.Channel, "seq", waiting.Seq)

	resumer, ok := c.cfg.Resumers[conv.Channel]
	if !ok {
		logger.WarnContext(ctx, "shopper message got no reply after a handback: the channel has no resumer")
		return resumeFailed
	}
	shop, err := c.db.ShopByID(ctx, conv.ShopID)
	if err != nil {
		logger.WarnContext(ctx, "loading the shop after a handback failed", "error", err)
		return resumeFailed
	}
	if err := resumer.Resume(ctx, shop, conv, *waiting); err != nil {
		logger.WarnContext(ctx, "starting the agent's reply after a handback failed", "error", err)
		return resumeFailed
	}
	logger.InfoContext(ctx, "agent replying to a message held during a takeover")
	return resumeStarted
}

// unansweredBefore returns the conversation's last public message before
// seq when a shopper wrote it, or nil when the last one is from the agent,
// an operator or the system.
func (c *Console) unansweredBefore(ctx context.Context, conv *salesagent.Conversation, seq int) (*salesagent.Message, error) {
	last, err := c.db.LastPublicMessageBefore(ctx, conv.ShopID, conv.ID, seq)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load messages of conversation %d: %w", conv.ID, err)
	}
	if last.Role != salesagent.RoleShopper {
		return nil, nil
	}
	return last, nil
}
