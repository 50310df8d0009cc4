package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

// storeTimeout bounds the database work of one client frame.
const storeTimeout = 10 * time.Second

// historyPage is the number of messages read per query when a socket
// catches up.
const historyPage = 200

// handleFrame decodes and handles one client frame. It reports false when
// the socket must close.
func (sock *socket) handleFrame(data []byte) bool {
	f, err := decodeClientFrame(data, sock.srv.cfg.MaxTextRunes)
	if err != nil {
		sock.srv.metrics.frameIn("invalid")
		sock.sendError(err, f.ClientID, 0)
		return true
	}
	sock.srv.metrics.frameIn(f.Type)

	ctx, cancel := context.WithTimeout(sock.srv.ctx, storeTimeout)
	defer cancel()
	switch {
	case f.Type == FrameHello && sock.convID != 0:
		sock.sendError(salesagent.Errorf(salesagent.EINVALID, "hello was already sent on this socket; open a new socket to switch shop or visitor"), "", 0)
	case f.Type == FrameHello:
		return sock.hello(ctx, f)
	case sock.convID == 0:
		sock.sendError(salesagent.Errorf(salesagent.EINVALID, "send a hello frame before any message"), f.ClientID, 0)
	default:
		sock.message(ctx, f)
	}
	return true
}

// failHello ends a socket whose hello failed. An internal error, such as a
// lost database connection, may pass, so the socket closes with "try again
// later" and no fatal frame: the widget reconnects after its back-off
// instead of stopping until the page is reloaded. Other errors are fatal.
func (sock *socket) failHello(err error) {
	if salesagent.ErrorCode(err) != salesagent.EINTERNAL {
		sock.fail(err, websocket.CloseInternalServerErr)
		return
	}
	sock.log.Error("web channel hello failed, so the client is asked to reconnect", "conversation_id", sock.convID, "error", err)
	sock.srv.metrics.errors.WithLabelValues(salesagent.EINTERNAL).Inc()
	sock.enqueue(outFrame{closeCode: websocket.CloseTryAgainLater, closeReason: "try again later"})
}

// hello identifies the shop and the visitor, checks the origin, and sends
// welcome with the history after the client's last_seq.
func (sock *socket) hello(ctx context.Context, f clientFrame) bool {
	shop, err := sock.srv.db.ShopByWidgetKey(ctx, f.ShopKey)
	if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
		sock.fail(salesagent.Errorf(salesagent.ENOTFOUND,
			"unknown shop key %q; copy the data-shop-key from the shop's widget settings", truncate(f.ShopKey, 40)), websocket.ClosePolicyViolation)
		return false
	}
	if err != nil {
		sock.failHello(fmt.Errorf("look up shop for hello: %w", err))
		return false
	}
	if !originAllowed(sock.origin, sock.host, sock.srv.cfg.PublicURL, shop.AllowedOrigins) {
		sock.fail(salesagent.Errorf(salesagent.EFORBIDDEN,
			"origin %q is not allowed to open this shop's chat; add it to the shop's allowed_origins", truncate(sock.origin, 100)), websocket.ClosePolicyViolation)
		return false
	}

	conv, token, created, err := sock.srv.conversationFor(ctx, shop, f.VisitorToken)
	if err != nil {
		sock.failHello(fmt.Errorf("open conversation: %w", err))
		return false
	}
	sock.shop, sock.convID = shop, conv.ID
	sock.page, sock.cart = f.Page, f.Cart

	// A client that claims messages the server never stored gets the whole
	// history and starts over.
	reset := created || f.LastSeq > conv.LastSeq
	after := f.LastSeq
	if reset {
		after = 0
	}

	// Joining the hub before reading the history, both under dmu, means a
	// message stored in between is delivered once, right after welcome.
	sock.dmu.Lock()
	defer sock.dmu.Unlock()
	sock.srv.hub.join(sock)
	history, err := sock.srv.db.MessagesAfter(ctx, shop.ID, conv.ID, after, 1<<30)
	if err != nil {
		sock.failHello(fmt.Errorf("load history: %w", err))
		return false
	}
	if history == nil {
		history = []salesagent.Message{}
	}
	last := after
	if n := len(history); n > 0 {
		last = history[n-1].Seq
	}
	sock.lastSent.Store(int64(last))
	sock.send(FrameWelcome, WelcomeFrame{
		Type:           FrameWelcome,
		ConversationID: conv.ID,
		VisitorToken:   token,
		ShopName:       shop.Name,
		Reset:          reset,
		Status:         conv.Status,
		LastSeq:        last,
		History:        history,
	})
	sock.log.Debug("socket joined conversation", "shop_id", shop.ID, "conversation_id", conv.ID, "created", created, "history", len(history))
	return true
}

// conversationFor returns the shop's conversation of the visitor token, or
// a new conversation and token when the token is empty or unknown. Only the
// token's SHA-256 is stored.
func (s *Server) conversationFor(ctx context.Context, shop *salesagent.Shop, token string) (conv *salesagent.Conversation, newToken string, created bool, err error) {
	if token != "" {
		conv, err := s.db.ConversationByVisitor(ctx, shop.ID, hashToken(token))
		if err == nil {
			return conv, token, false, nil
		}
		if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			return nil, "", false, err
		}
	}

	token = newVisitorToken()
	customer, err := s.db.CreateCustomer(ctx, shop.ID)
	if err != nil {
		return nil, "", false, err
	}
	conv, err = s.db.CreateConversation(ctx, shop.ID, salesagent.ChannelWeb, hashToken(token), &customer.ID)
	if err != nil {
		return nil, "", false, err
	}
	s.log.DebugContext(ctx, "conversation started", "shop_id", shop.ID, "conversation_id", conv.ID)
	return conv, token, true, nil
}

func newVisitorToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "vt_" + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// message stores a shopper message, acknowledges it and queues its turn. A
// resend of a stored client id is acknowledged again and runs no turn,
// even while the visitor is rate limited.
func (sock *socket) message(ctx context.Context, f clientFrame) {
	if ok, wait := sock.srv.limits.reserve(sock.convID, time.Now()); !ok {
		if f.ClientID != "" {
			stored, err := sock.srv.db.MessageByClientID(ctx, sock.shop.ID, sock.convID, f.ClientID)
			if err == nil {
				sock.ack(ctx, *stored, true)
				return
			}
			if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
				sock.srv.log.WarnContext(ctx, "look up a resent message", "shop_id", sock.shop.ID, "conversation_id", sock.convID, "error", err)
			}
		}
		sock.srv.metrics.errors.WithLabelValues(salesagent.ERATELIMITED).Inc()
		rounded := max(wait.Round(time.Second), time.Second)
		unit := "seconds"
		if rounded == time.Second {
			unit = "second"
		}
		sock.send(FrameError, ErrorFrame{
			Type:         FrameError,
			Code:         salesagent.ERATELIMITED,
			Message:      fmt.Sprintf("You are sending messages too quickly. Please wait %d %s and send it again.", int(rounded/time.Second), unit),
			ClientID:     f.ClientID,
			RetryAfterMS: wait.Milliseconds(),
		})
		return
	}
	if f.Page != nil {
		sock.page = f.Page
	}
	if f.Cart != nil {
		sock.cart = f.Cart
	}

	sock.dmu.Lock()
	if sock.pending == nil {
		sock.pending = map[string]struct{}{}
	}
	sock.pending[f.ClientID] = struct{}{}
	sock.dmu.Unlock()

	stored, duplicate, err := sock.srv.db.AppendMessage(ctx, sock.shop.ID, salesagent.Message{
		ConversationID: sock.convID,
		Role:           salesagent.RoleShopper,
		Body:           f.Text,
		ClientID:       f.ClientID,
	})
	if err != nil {
		sock.dmu.Lock()
		delete(sock.pending, f.ClientID)
		sock.dmu.Unlock()
		if salesagent.ErrorCode(err) == salesagent.ENOTFOUND {
			// The conversation was deleted with its shop while the
			// socket was open, so no retry can succeed.
			sock.srv.log.InfoContext(ctx, "message for a deleted conversation", "shop_id", sock.shop.ID, "conversation_id", sock.convID)
			sock.fail(salesagent.Errorf(salesagent.ENOTFOUND,
				"This chat is no longer available. Reload the page to start a new one."), websocket.CloseNormalClosure)
			return
		}
		sock.sendError(fmt.Errorf("store shopper message: %w", err), f.ClientID, 0)
		return
	}
	sock.ack(ctx, stored, duplicate)
	if duplicate {
		return
	}
	sock.dmu.Lock()
	if sock.turns == nil {
		sock.turns = map[int]struct{}{}
	}
	sock.turns[stored.Seq] = struct{}{}
	sock.dmu.Unlock()
	sock.queueTurn(turnJob{msg: stored, page: pageContext(sock.page, sock.cart)})
}

// ack sends the ack of the socket's own stored message, after any message
// with a lower seq that the client has not received yet.
func (sock *socket) ack(ctx context.Context, stored salesagent.Message, duplicate bool) {
	sock.dmu.Lock()
	defer sock.dmu.Unlock()
	last := int(sock.lastSent.Load())
	switch {
	case stored.Seq == last+1:
		sock.lastSent.Store(int64(stored.Seq))
	case stored.Seq > last:
		sock.catchUpLocked(ctx)
	}
	delete(sock.pending, stored.ClientID)
	sock.send(FrameAck, AckFrame{Type: FrameAck, ClientID: stored.ClientID, Seq: stored.Seq, Duplicate: duplicate})
}

// deliverReply sends the stored reply of a turn unless the fan-out has
// already delivered it, and ends the turn.
func (sock *socket) deliverReply(ctx context.Context, reply salesagent.Message, turn int) {
	sock.dmu.Lock()
	defer sock.dmu.Unlock()
	last := int(sock.lastSent.Load())
	switch {
	case reply.Seq <= last:
	case reply.Seq == last+1:
		sock.lastSent.Store(int64(reply.Seq))
		sock.send(FrameMessage, StoredMessageFrame{Type: FrameMessage, Turn: turn, Message: reply})
	default:
		if reply.ReplyTo == turn {
			sock.catchUpLocked(ctx)
			break
		}
		// The reply does not name its turn, so catchUpLocked cannot tag
		// it. Send the messages before it, then the reply.
		sock.catchUpLockedUntil(ctx, reply.Seq-1)
		if int(sock.lastSent.Load()) == reply.Seq-1 {
			sock.lastSent.Store(int64(reply.Seq))
			sock.send(FrameMessage, StoredMessageFrame{Type: FrameMessage, Turn: turn, Message: reply})
		}
	}
	delete(sock.turns, turn)
}

// endTurn removes a turn that ended without a reply.
func (sock *socket) endTurn(turn int) {
	sock.dmu.Lock()
	defer sock.dmu.Unlock()
	delete(sock.turns, turn)
}

// catchUp sends every stored message the client has not received yet.
func (sock *socket) catchUp(ctx context.Context) error {
	sock.dmu.Lock()
	defer sock.dmu.Unlock()
	return sock.catchUpLocked(ctx)
}

// catchUpLocked sends the messages after lastSent in seq order. The caller
// holds dmu.
func (sock *socket) catchUpLocked(ctx context.Context) error {
	return sock.catchUpLockedUntil(ctx, 1<<31-1)
}

// catchUpLockedUntil sends the messages after lastSent up to seq until. The
// socket's own pending messages are skipped because their ack reports them,
// and a reply to one of the socket's turns carries the turn. The caller
// holds dmu. On failure lastSent is unchanged, so a later catch-up reads
// from the same seq again.
func (sock *socket) catchUpLockedUntil(ctx context.Context, until int) error {
	for {
		after := int(sock.lastSent.Load())
		if after >= until {
			return nil
		}
		msgs, err := sock.srv.db.MessagesAfter(ctx, sock.shop.ID, sock.convID, after, historyPage)
		if err != nil {
			sock.log.Warn("catch up on messages failed", "conversation_id", sock.convID, "after_seq", after, "error", err)
			return err
		}
		for _, m := range msgs {
			if m.Seq > until {
				return nil
			}
			sock.lastSent.Store(int64(m.Seq))
			if _, own := sock.pending[m.ClientID]; own && m.ClientID != "" && m.Role == salesagent.RoleShopper {
				continue
			}
			frame := StoredMessageFrame{Type: FrameMessage, Message: m}
			if _, ok := sock.turns[m.ReplyTo]; ok && m.ReplyTo != 0 && m.Role == salesagent.RoleAgent {
				frame.Turn = m.ReplyTo
				delete(sock.turns, m.ReplyTo)
			}
			sock.send(FrameMessage, frame)
		}
		if len(msgs) < historyPage {
			return nil
		}
	}
}

// turnJob is a stored shopper message waiting for its turn.
type turnJob struct {
	msg  salesagent.Message
	page agent.PageContext
}

// queuedTurn is a turn waiting in its conversation's queue, with the
// socket that relays it.
type queuedTurn struct {
	sock *socket
	job  turnJob
}

// turnQueue holds the turns of one conversation that wait to run in this
// process, in message order. At most one of them runs at a time.
type turnQueue struct {
	turns   []queuedTurn
	running bool
}

// queueTurn queues a turn in its conversation's queue and starts the
// conversation's turn goroutine when none runs. Turns of one conversation
// run one after another in message order, whichever of its sockets
// brought them: a shopper who reconnects, or writes from a second tab,
// while earlier turns still run gets replies in order, and each turn sees
// the replies before it.
//
// NOTE: the queue is per process. Tabs of one conversation connected to
// two server processes still run their turns at the same time.
func (sock *socket) queueTurn(job turnJob) {
	s := sock.srv
	s.qmu.Lock()
	q := s.queues[sock.convID]
	if q == nil {
		q = &turnQueue{}
		s.queues[sock.convID] = q
	}
	i := len(q.turns)
	for i > 0 && q.turns[i-1].job.msg.Seq > job.msg.Seq {
		i--
	}
	q.turns = slices.Insert(q.turns, i, queuedTurn{sock: sock, job: job})
	if q.running {
		s.qmu.Unlock()
		return
	}
	if !s.startTurn() {
		delete(s.queues, sock.convID)
		s.qmu.Unlock()
		sock.sendError(salesagent.Errorf(salesagent.EUNAVAILABLE,
			"Your message is saved, but the server is restarting. Please send your question again in a minute."), job.msg.ClientID, job.msg.Seq)
		return
	}
	q.running = true
	s.qmu.Unlock()
	go s.runTurns(sock.convID, q)
}

// runTurns runs the queued turns of a conversation until none is left.
func (s *Server) runTurns(convID int64, q *turnQueue) {
	defer s.turnEnded()
	for {
		s.qmu.Lock()
		if len(q.turns) == 0 {
			q.running = false
			delete(s.queues, convID)
			s.qmu.Unlock()
			return
		}
		next := q.turns[0]
		q.turns = q.turns[1:]
		s.qmu.Unlock()

		next.sock.runTurn(next.job)
	}
}

// runTurn runs the agent for one message. The turn goes on when the socket
// closes, so that the reply is stored and reaches the shopper on reconnect.
// NOTE: a turn that Close cancels, when even the offline agent's reply
// after the model's cutoff does not finish in time, leaves its message
// without a reply, and a resend of that message runs no turn.
func (sock *socket) runTurn(job turnJob) {
	ctx, cancel := context.WithTimeout(sock.srv.ctx, sock.srv.cfg.TurnTimeout)
	defer cancel()
	ctx = agent.WithBrainCutoff(ctx, sock.srv.cutoff)
	turn := job.msg.Seq

	// HandleMessage reads the conversation itself, so the turn passes
	// only the ids.
	conv := &salesagent.Conversation{ID: sock.convID, ShopID: sock.shop.ID, Channel: salesagent.ChannelWeb}
	start := time.Now()
	reply, err := sock.srv.turns.HandleMessage(ctx, sock.shop, conv, job.msg, job.page, &emitter{sock: sock, turn: turn})
	if err != nil {
		sock.endTurn(turn)
		sock.sendError(fmt.Errorf("run turn for message %d: %w", turn, err), job.msg.ClientID, turn)
		return
	}
	sock.log.Debug("turn finished", "conversation_id", sock.convID, "turn", turn, "reply_seq", reply.Seq, "duration_ms", time.Since(start).Milliseconds())
	if reply.Seq == 0 {
		// An operator holds the conversation, so the agent stored no
		// reply; the client stops waiting for one.
		sock.endTurn(turn)
		sock.send(FrameHeld, HeldFrame{Type: FrameHeld, Turn: turn})
		return
	}
	sock.deliverReply(ctx, reply, turn)
}

// emitter relays a turn's stream events to the socket as frames. Frames for
// a closed socket are dropped without error, so the turn still completes
// and stores its reply.
type emitter struct {
	sock *socket
	turn int
}

// Emit queues the frame for event.
func (e *emitter) Emit(ctx context.Context, event agent.StreamEvent) error {
	switch event.Type {
	case agent.StreamDelta:
		e.sock.sendDelta(e.turn, event.Text)
	case agent.StreamReplace:
		e.sock.send(FrameReplace, ReplaceFrame{Type: FrameReplace, Turn: e.turn, Text: event.Text})
	case agent.StreamCard:
		if event.Card != nil {
			e.sock.send(FrameCard, CardFrame{Type: FrameCard, Turn: e.turn, Card: *event.Card})
		}
	case agent.StreamToolCall:
		if event.Tool != nil {
			e.sock.send(FrameTool, ToolFrame{Type: FrameTool, Turn: e.turn, Name: event.Tool.Name, OK: event.Tool.OK, Summary: event.Tool.Summary})
		}
	case agent.StreamHandoff:
		if event.Handoff != nil {
			e.sock.send(FrameHandoff, HandoffFrame{Type: FrameHandoff, Turn: e.turn, Reason: event.Handoff.Reason})
		}
	default:
		e.sock.log.DebugContext(ctx, "stream event of unknown type dropped", "event_type", string(event.Type))
	}
	return nil
}
