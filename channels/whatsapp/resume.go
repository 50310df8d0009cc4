package whatsapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Resumer queues the agent's reply to a WhatsApp message that arrived
// while an operator held the conversation, once the operator has handed
// it back. It implements console.Resumer.
type Resumer struct {
	ch   *Channel
	jobs JobInserter
}

// Resumer returns the channel's resumer, which queues turn jobs with jobs.
func (c *Channel) Resumer(jobs JobInserter) *Resumer {
	return &Resumer{ch: c, jobs: jobs}
}

// Resume sets the turn of the inbound message stored as msg back to
// pending and queues its turn job again, in one transaction. It queues
// nothing when the agent has replied to msg already or msg was resumed
// before, and leaves a turn that is still pending to its own job, which
// finds the conversation open. The turn job also checks for a stored
// reply before it runs the agent, so msg gets one reply. Resume returns
// an error when msg is not a stored WhatsApp inbound message.
func (r *Resumer) Resume(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message) error {
	if conv.Channel != salesagent.ChannelWhatsApp {
		return fmt.Errorf("resume message %d of %s conversation %d: the whatsapp channel resumes only whatsapp messages", msg.Seq, conv.Channel, conv.ID)
	}
	var inboundID int64
	var state string
	// outcome is what became of the message's turn, for the log.
	outcome := "queued"
	err := r.ch.db.InTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, turn_state FROM whatsapp_inbound
			WHERE shop_id = $1 AND conversation_id = $2 AND message_seq = $3 FOR UPDATE`,
			shop.ID, conv.ID, msg.Seq).Scan(&inboundID, &state)
		if errors.Is(err, pgx.ErrNoRows) {
			return salesagent.Errorf(salesagent.ENOTFOUND, "no whatsapp message stored as message %d of conversation %d", msg.Seq, conv.ID)
		}
		if err != nil {
			return fmt.Errorf("load whatsapp message %d of conversation %d: %w", msg.Seq, conv.ID, err)
		}
		// NOTE: a turn job that is still finishing its held turn sets a
		// pending turn to done after this check, and the message then
		// stays unanswered.
		if state != turnDone {
			outcome = "left to its turn " + state
			return nil
		}
		_, err = postgres.MessageReplyingTo(ctx, tx, shop.ID, conv.ID, msg.Seq, salesagent.RoleAgent)
		if err == nil {
			outcome = "answered already"
			return nil
		}
		if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			return err
		}

		args := TurnArgs{ShopID: shop.ID, InboundID: inboundID, Resumed: true}
		queued, err := r.jobs.InsertTx(ctx, tx, args, &river.InsertOpts{MaxAttempts: r.ch.cfg.TurnAttempts})
		if err != nil {
			return fmt.Errorf("queue resumed turn for whatsapp message %d: %w", inboundID, err)
		}
		if queued.UniqueSkippedAsDuplicate {
			// The message was resumed before, and a pending turn without
			// a job would hold back the conversation's later turns.
			outcome = "resumed before"
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE whatsapp_inbound SET turn_state = 'pending' WHERE id = $1`, inboundID); err != nil {
			return fmt.Errorf("set turn of whatsapp message %d pending: %w", inboundID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.ch.log.DebugContext(ctx, "whatsapp turn resumed after a handback", "shop_id", shop.ID, "conversation_id", conv.ID,
		"inbound_id", inboundID, "seq", msg.Seq, "outcome", outcome)
	return nil
}
