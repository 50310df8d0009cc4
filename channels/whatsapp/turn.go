package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// intentAttachment marks an inbound attachment, location or unsupported
// message without text, which the channel acknowledges itself because the
// agent reads only text.
const intentAttachment = "attachment"

// finalWorkTimeout bounds the database work that records a turn's failure
// after the turn's own context has ended.
const finalWorkTimeout = 10 * time.Second

// turnWorker runs the agent's turn for one inbound message and queues the
// reply's messages for sending.
type turnWorker struct {
	river.WorkerDefaults[TurnArgs]
	ch *Channel
}

// Timeout gives a job the turn's time and a margin to queue the reply.
func (w *turnWorker) Timeout(*river.Job[TurnArgs]) time.Duration {
	return w.ch.cfg.TurnTimeout + 30*time.Second
}

// Work runs the turn once the conversation's earlier messages have had
// theirs, so replies keep the order of the messages. After the last
// attempt fails, the shopper gets an apology and the operator a system
// message.
func (w *turnWorker) Work(ctx context.Context, job *river.Job[TurnArgs]) error {
	c := w.ch
	args := job.Args
	logger := c.log.With("shop_id", args.ShopID, "inbound_id", args.InboundID, "job_id", job.ID)

	jobs, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("whatsapp turn job runs outside a River client: %w", err)
	}
	in, err := loadInbound(ctx, c.db.Pool, args.ShopID, args.InboundID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		logger.InfoContext(ctx, "whatsapp message deleted before its turn")
		return nil
	}
	if err != nil {
		return err
	}
	if in.TurnState != turnPending {
		return nil
	}
	waiting, err := earlierTurnPending(ctx, c.db.Pool, in.ConversationID, in.Seq, c.cfg.StaleTurnAfter)
	if err != nil {
		return err
	}
	if waiting {
		return river.JobSnooze(c.cfg.OrderWait)
	}
	shop, err := c.db.ShopByID(ctx, args.ShopID)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}

	err = c.runTurn(ctx, jobs, shop, in)
	if err == nil || job.Attempt < job.MaxAttempts {
		return err
	}
	logger.ErrorContext(ctx, "whatsapp turn failed for good", "attempts", job.Attempt, "error", err)
	finalCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalWorkTimeout)
	defer cancel()
	if giveUpErr := c.giveUp(finalCtx, jobs, shop, in, err); giveUpErr != nil {
		logger.ErrorContext(finalCtx, "record failed whatsapp turn", "error", giveUpErr)
	}
	return err
}

// runTurn gets the reply to an inbound message, from an earlier attempt
// or by running the turn, and queues its messages for sending.
func (c *Channel) runTurn(ctx context.Context, jobs JobInserter, shop *salesagent.Shop, in *inboundRow) error {
	conv, err := c.db.ConversationByID(ctx, shop.ID, in.ConversationID)
	if err != nil {
		return err
	}

	// A reply stored by an earlier attempt that failed to queue it is
	// queued as it is, so the agent does not reply twice.
	var handoff bool
	reply, err := postgres.MessageReplyingTo(ctx, c.db.Pool, shop.ID, conv.ID, in.Seq, salesagent.RoleAgent)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		reply, handoff, err = c.produceReply(ctx, shop, conv, in)
	}
	if err != nil {
		return err
	}
	if reply == nil {
		// No reply, as while an operator holds the conversation.
		return setTurnState(ctx, c.db.Pool, in.ID, turnDone)
	}

	plan, err := c.plan(ctx, shop, conv, in, reply, handoff)
	if err != nil {
		return err
	}
	return c.queueReply(ctx, jobs, shop, in, reply, compose(plan))
}

// produceReply runs the agent for a shopper's text, or writes the
// channel's own reply to an order, a STOP, a START or an attachment, and
// stores it.
// It returns nil when there is no reply, and reports whether the turn
// handed the conversation to a person.
func (c *Channel) produceReply(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, in *inboundRow) (*salesagent.Message, bool, error) {
	if in.Kind == kindOrder {
		return c.orderReply(ctx, shop, conv, in)
	}
	var own string
	switch in.Intent {
	case intentOptOut, intentOptIn:
		own = consentReply(shop, in.Intent == intentOptOut)
	case intentAttachment:
		if conv.Status == salesagent.StatusOperator {
			return nil, false, nil
		}
		own = attachmentReply(shop, in.Kind, conv.Status == salesagent.StatusEscalated)
	}
	if own != "" {
		stored, _, err := c.db.AppendMessage(ctx, shop.ID, salesagent.Message{
			ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: own, ReplyTo: in.Seq,
		})
		if err != nil {
			return nil, false, fmt.Errorf("store reply to whatsapp message %d: %w", in.ID, err)
		}
		return &stored, false, nil
	}

	msgs, err := c.db.MessagesAfter(ctx, shop.ID, conv.ID, in.Seq-1, 1)
	if err != nil {
		return nil, false, err
	}
	if len(msgs) == 0 || msgs[0].Seq != in.Seq {
		return nil, false, fmt.Errorf("shopper message %d of conversation %d is missing", in.Seq, conv.ID)
	}
	msg := msgs[0]

	handle, err := focusedProduct(ctx, c.db.Pool, conv.ID, in.ID)
	if err != nil {
		return nil, false, err
	}
	product, err := c.product(ctx, shop.ID, handle)
	if err != nil {
		return nil, false, err
	}
	if product == nil {
		handle = ""
	}
	msg.Body = intentText(in.Intent, msg.Body, product)

	turnCtx, cancel := context.WithTimeout(ctx, c.cfg.TurnTimeout)
	defer cancel()
	buffer := &bufferEmitter{}
	reply, err := c.cfg.Turns.HandleMessage(turnCtx, shop, conv, msg, agent.PageContext{ProductHandle: handle}, buffer)
	if err != nil {
		return nil, false, fmt.Errorf("run turn for whatsapp message %d: %w", in.ID, err)
	}
	if reply.Seq == 0 {
		return nil, false, nil
	}
	if buffer.text.String() != reply.Body {
		c.log.DebugContext(ctx, "stored reply differs from the streamed text; sending the stored one", "conversation_id", conv.ID, "seq", reply.Seq)
	}
	return &reply, buffer.handoff != nil, nil
}

// product returns the shop's product with the handle, or nil when the
// handle is "" or names no product.
func (c *Channel) product(ctx context.Context, shopID int64, handle string) (*salesagent.Product, error) {
	if handle == "" {
		return nil, nil
	}
	p, err := c.db.ProductByHandle(ctx, shopID, handle)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		return nil, nil
	}
	return p, err
}

// plan decides what a reply offers beyond its text: a size guide button
// for the one product it is about, and a person where the agent could not
// help.
func (c *Channel) plan(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, in *inboundRow, reply *salesagent.Message, handoff bool) (replyPlan, error) {
	plan := replyPlan{to: in.WAID, reply: *reply, publicURL: c.cfg.PublicURL}
	if in.Intent == intentOptOut || in.Intent == intentOptIn {
		return plan, nil
	}

	focus, err := c.replyProduct(ctx, shop.ID, in, reply)
	if err != nil {
		return plan, err
	}
	plan.focus = focus

	// A reply without facts or cards is one the agent could not ground,
	// and the agent cannot read attachments.
	ungrounded := len(reply.Citations) == 0 && len(reply.Cards) == 0
	plan.offerPerson = in.Intent == intentAttachment || isAttachment(in.Kind) || ungrounded
	plan.personRequested = handoff || hasCard(*reply, salesagent.CardHandoff) ||
		conv.Status == salesagent.StatusEscalated || conv.Status == salesagent.StatusOperator
	return plan, nil
}

// replyProduct returns the one product a reply is about: the product the
// shopper tapped for this turn, the only product of a products card, or
// the only product the reply cites. It returns nil otherwise.
func (c *Channel) replyProduct(ctx context.Context, shopID int64, in *inboundRow, reply *salesagent.Message) (*salesagent.Product, error) {
	if in.ProductHandle != "" {
		return c.product(ctx, shopID, in.ProductHandle)
	}
	for _, card := range reply.Cards {
		if card.Type == salesagent.CardProducts {
			if len(card.Products) != 1 {
				return nil, nil
			}
			return c.product(ctx, shopID, card.Products[0].Handle)
		}
	}
	ids := map[int64]bool{}
	for _, citation := range reply.Citations {
		if citation.ProductID != 0 {
			ids[citation.ProductID] = true
		}
	}
	if len(ids) != 1 {
		return nil, nil
	}
	for id := range ids {
		products, err := c.db.ProductsByIDs(ctx, shopID, []int64{id})
		if err != nil || len(products) == 0 {
			return nil, err
		}
		return products[0], nil
	}
	return nil, nil
}

// queueReply stores the reply's WhatsApp messages under keys made of the
// reply's id and each message's place, and queues a send job for each,
// with the turn marked done, in one transaction. A repeated call finds
// the keys and queues nothing twice.
//
// Operators' messages go out through OperatorDelivery instead.
func (c *Channel) queueReply(ctx context.Context, jobs JobInserter, shop *salesagent.Shop, in *inboundRow, reply *salesagent.Message, messages []*Message) error {
	err := c.db.InTx(ctx, func(tx pgx.Tx) error {
		for i, m := range messages {
			row := &outboundRow{
				ShopID: shop.ID, ConversationID: in.ConversationID, CustomerID: in.CustomerID, MessageID: &reply.ID,
				Key: fmt.Sprintf("reply:%d:%d", reply.ID, i), WAID: in.WAID, Kind: messageKind(m), Payload: m,
			}
			if err := c.queueOutbound(ctx, tx, jobs, row); err != nil {
				return err
			}
		}
		return setTurnState(ctx, tx, in.ID, turnDone)
	})
	if err != nil {
		return fmt.Errorf("queue reply to whatsapp message %d: %w", in.ID, err)
	}
	c.log.DebugContext(ctx, "whatsapp reply queued", "shop_id", shop.ID, "conversation_id", in.ConversationID,
		"reply_seq", reply.Seq, "messages", len(messages))
	return nil
}

// queueOutbound stores row and queues its send job within tx, unless the
// shop has the row's key already.
func (c *Channel) queueOutbound(ctx context.Context, tx pgx.Tx, jobs JobInserter, row *outboundRow) error {
	inserted, err := insertOutbound(ctx, tx, row)
	if err != nil || !inserted {
		return err
	}
	if _, err := jobs.InsertTx(ctx, tx, SendArgs{ShopID: row.ShopID, OutboundID: row.ID}, &river.InsertOpts{MaxAttempts: c.cfg.SendAttempts}); err != nil {
		return fmt.Errorf("queue send of whatsapp message %s: %w", row.Key, err)
	}
	return nil
}

// giveUp records a turn that failed on every attempt: the turn is marked
// failed, the operator gets a system message and an event, and the
// shopper an apology with a button to reach a person.
func (c *Channel) giveUp(ctx context.Context, jobs JobInserter, shop *salesagent.Shop, in *inboundRow, cause error) error {
	return c.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := setTurnState(ctx, tx, in.ID, turnFailed); err != nil {
			return err
		}
		if _, _, err := postgres.AppendMessageTx(ctx, tx, shop.ID, salesagent.Message{
			ConversationID: in.ConversationID, Role: salesagent.RoleSystem,
			Body: fmt.Sprintf("The agent could not answer the shopper's message %d, so the shopper was offered a person.", in.Seq),
		}); err != nil {
			return err
		}
		data, _ := json.Marshal(map[string]any{"seq": in.Seq, "error": errorSummary(cause)})
		if err := postgres.InsertEvents(ctx, tx, shop.ID, in.CustomerID, []salesagent.Event{{
			ShopID: shop.ID, ConversationID: &in.ConversationID, Type: EventTurnFailed, Data: data,
		}}); err != nil {
			return err
		}

		apology, _, err := postgres.AppendMessageTx(ctx, tx, shop.ID, salesagent.Message{
			ConversationID: in.ConversationID, Role: salesagent.RoleAgent, ReplyTo: in.Seq,
			Body: "Sorry, I couldn't answer that just now. Please try again in a few minutes, or tap Talk to a person.",
		})
		if err != nil {
			return err
		}
		m := buttonMessage(in.WAID, apology.Body, []ButtonReply{{ID: intentPerson, Title: titlePerson}})
		return c.queueOutbound(ctx, tx, jobs, &outboundRow{
			ShopID: shop.ID, ConversationID: in.ConversationID, CustomerID: in.CustomerID, MessageID: &apology.ID,
			Key: fmt.Sprintf("reply:%d:0", apology.ID), WAID: in.WAID, Kind: outInteractive, Payload: m,
		})
	})
}

// errorSummary returns the shopper-safe message of an application error,
// or the error text, cut to a length fit for an event.
func errorSummary(err error) string {
	var appErr *salesagent.Error
	if errors.As(err, &appErr) {
		return appErr.Message
	}
	return truncate(err.Error(), 500)
}

func messageKind(m *Message) string {
	switch m.Type {
	case "interactive":
		return outInteractive
	case "template":
		return outTemplate
	}
	return outText
}

// isAttachment reports whether an inbound kind carries something the
// agent cannot read.
func isAttachment(kind string) bool {
	switch kind {
	case kindImage, kindVideo, kindAudio, kindDocument, kindSticker, kindLocation, kindContacts, kindUnsupported:
		return true
	}
	return false
}

// consentReply confirms a STOP or a START.
func consentReply(shop *salesagent.Shop, optedOut bool) string {
	if optedOut {
		return fmt.Sprintf("You won't get any more updates or offers from %s on WhatsApp. Send START to get them again. You can still write to us here at any time.", shop.Name)
	}
	return fmt.Sprintf("You'll get updates and offers from %s on WhatsApp again. Send STOP to turn them off.", shop.Name)
}

// attachmentReply acknowledges something the agent cannot read, and
// offers a person unless one was asked for already.
func attachmentReply(shop *salesagent.Shop, kind string, escalated bool) string {
	var got string
	switch kind {
	case kindLocation:
		got = "Thanks for sharing the location."
	case kindContacts:
		got = "Thanks for sharing the contact."
	case kindUnsupported:
		got = "Sorry, I can't open this type of message."
	case kindAudio:
		got = "Thanks for the voice message."
	default:
		got = "Thanks for the " + kind + "."
	}
	if escalated {
		return fmt.Sprintf("%s A person from the %s team has been asked to join this chat and will see it.", got, shop.Name)
	}
	return fmt.Sprintf("%s I can only read text, so please tell me in words what you need, or tap Talk to a person and someone from the %s team will take a look.", got, shop.Name)
}
