package whatsapp

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/salesagent/salesagent"
)

// OperatorDelivery sends the console's public messages in WhatsApp
// conversations: an operator's replies and the notices that a person joined
// or that the agent is back. It implements console.Deliverer.
type OperatorDelivery struct {
	ch   *Channel
	jobs JobInserter
}

// OperatorDelivery returns the channel's delivery of operator messages,
// which queues send jobs with jobs.
func (c *Channel) OperatorDelivery(jobs JobInserter) *OperatorDelivery {
	return &OperatorDelivery{ch: c, jobs: jobs}
}

// QueueDelivery stores msg's WhatsApp messages and queues their send jobs
// within tx, under keys made of msg's id, so that a retried transaction
// queues nothing twice. The send job applies the 24-hour window and the
// shopper's consent like for the agent's replies.
func (d *OperatorDelivery) QueueDelivery(ctx context.Context, tx pgx.Tx, conv *salesagent.Conversation, msg salesagent.Message) error {
	if conv.Channel != salesagent.ChannelWhatsApp || msg.Internal {
		return nil
	}
	if conv.CustomerID == nil {
		return fmt.Errorf("whatsapp conversation %d has no customer to send to", conv.ID)
	}
	var waID *string
	err := tx.QueryRow(ctx, `SELECT wa_id FROM customers WHERE shop_id = $1 AND id = $2`, conv.ShopID, *conv.CustomerID).Scan(&waID)
	if err != nil {
		return fmt.Errorf("load whatsapp id of customer %d: %w", *conv.CustomerID, err)
	}
	if waID == nil || *waID == "" {
		return fmt.Errorf("customer %d of whatsapp conversation %d has no whatsapp id", *conv.CustomerID, conv.ID)
	}

	// A person is already in the conversation, or has just left it to the
	// agent, so no "Talk to a person" button goes with these.
	reply := msg
	if msg.Role == salesagent.RoleOperator && msg.Author != "" {
		// The chat shows the shop's number, so the person signs the reply.
		reply.Body = "**" + msg.Author + "**: " + msg.Body
	}
	messages := compose(replyPlan{to: *waID, reply: reply, publicURL: d.ch.cfg.PublicURL, personRequested: true})
	for i, m := range messages {
		row := &outboundRow{
			ShopID: conv.ShopID, ConversationID: conv.ID, CustomerID: conv.CustomerID, MessageID: &msg.ID,
			Key: fmt.Sprintf("operator:%d:%d", msg.ID, i), WAID: *waID, Kind: messageKind(m), Payload: m,
		}
		if err := d.ch.queueOutbound(ctx, tx, d.jobs, row); err != nil {
			return err
		}
	}
	d.ch.log.DebugContext(ctx, "operator message queued for whatsapp", "shop_id", conv.ShopID,
		"conversation_id", conv.ID, "seq", msg.Seq, "messages", len(messages))
	return nil
}
