package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Server-sent event names of GET /console/api/events.
const (
	// eventMessage means a message was stored in a conversation. Its data
	// has conversation_id and seq.
	eventMessage = "message"
	// eventConversation means a conversation changed status or owner. Its
	// data has conversation_id, status and owner_operator_id.
	eventConversation = "conversation"
	// eventResync means notifications may have been missed, so the console
	// reloads what it shows.
	eventResync = "resync"
)

// heartbeatEvery is how often an event stream gets a comment line, so that
// proxies do not close it, and checks that its session is still valid.
var heartbeatEvery = 25 * time.Second

// streamBuffer is the number of notifications a slow event stream may fall
// behind before it gets a resync in their place.
const streamBuffer = 64

// subscriber is one open event stream of one shop.
type subscriber struct {
	shopID int64
	ch     chan postgres.Notification
	// missed is set when a notification was dropped because ch was full.
	mu     sync.Mutex
	missed bool
}

// broker relays the database's notifications to the event streams of this
// process. One listener connection serves every stream, so operators on any
// server process see what happens on the others.
type broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

func newBroker() *broker { return &broker{subs: map[*subscriber]struct{}{}} }

func (b *broker) subscribe(shopID int64) *subscriber {
	s := &subscriber{shopID: shopID, ch: make(chan postgres.Notification, streamBuffer)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

func (b *broker) unsubscribe(s *subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// publish hands n to every stream of its shop without blocking. A full
// stream is marked as having missed notifications.
func (b *broker) publish(n postgres.Notification) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.shopID == n.ShopID {
			s.offer(n)
		}
	}
}

// resyncAll marks every stream as having missed notifications, as after the
// listener reconnected.
func (b *broker) resyncAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.offer(postgres.Notification{})
	}
}

// offer queues n, or a resync when n is the zero Notification or the queue
// is full.
func (s *subscriber) offer(n postgres.Notification) {
	if n.ConversationID != 0 {
		select {
		case s.ch <- n:
			return
		default:
		}
	}
	s.mu.Lock()
	s.missed = true
	s.mu.Unlock()
	// Wake the stream up, if it has room for it.
	select {
	case s.ch <- postgres.Notification{}:
	default:
	}
}

// takeMissed reports and clears the missed mark.
func (s *subscriber) takeMissed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	missed := s.missed
	s.missed = false
	return missed
}

// Run relays database notifications to the event streams until ctx ends.
// Start it once per process, next to Register.
func (c *Console) Run(ctx context.Context) {
	c.db.Listen(ctx, c.log, c.events.resyncAll, func(payload string) {
		var n postgres.Notification
		if err := json.Unmarshal([]byte(payload), &n); err != nil || n.ConversationID == 0 {
			c.log.Warn("ignoring malformed notification", "payload_bytes", len(payload))
			return
		}
		c.events.publish(n)
	})
}

// handleEvents streams the shop's conversation changes as server-sent
// events until the client goes away or the console closes. The first event
// is a resync, so a client that reconnects reloads what it may have missed.
func (c *Console) handleEvents(w http.ResponseWriter, r *http.Request, s *postgres.OperatorSession) {
	// The controller finds the flusher behind middleware wrappers.
	rc := http.NewResponseController(w)
	sub := c.events.subscribe(s.Operator.ShopID)
	defer c.events.unsubscribe(sub)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := writeEvent(w, eventResync, map[string]any{}); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		c.log.ErrorContext(r.Context(), "event stream flush failed", "error", err)
		return
	}

	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-c.closing:
			return
		case <-heartbeat.C:
			// A session ended by logout, expiry or the operator's removal
			// ends the stream too; the browser's reconnection then gets 401.
			if !c.sessionLive(r) {
				return
			}
			_, err = fmt.Fprint(w, ": keep-alive\n\n")
		case n := <-sub.ch:
			err = c.writeNotification(w, sub, n)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// sessionLive reports whether the request's session still exists and has
// not expired. A failed lookup counts as live, so a database hiccup does
// not sign operators out.
func (c *Console) sessionLive(r *http.Request) bool {
	cookie, err := r.Cookie(SessionCookie)
	if err != nil {
		return false
	}
	_, err = c.db.OperatorSessionByToken(r.Context(), hashToken(cookie.Value))
	return salesagent.ErrorCode(err) != salesagent.ENOTFOUND
}

// writeNotification writes n as its event, or a resync in place of
// notifications the stream missed.
func (c *Console) writeNotification(w http.ResponseWriter, sub *subscriber, n postgres.Notification) error {
	if sub.takeMissed() {
		// Drain what is queued: the resync reloads it anyway.
		for len(sub.ch) > 0 {
			<-sub.ch
		}
		return writeEvent(w, eventResync, map[string]any{})
	}
	if n.ConversationID == 0 {
		return nil
	}
	if n.Seq > 0 {
		return writeEvent(w, eventMessage, map[string]any{"conversation_id": n.ConversationID, "seq": n.Seq})
	}
	return writeEvent(w, eventConversation, map[string]any{
		"conversation_id": n.ConversationID, "status": n.Status, "owner_operator_id": n.OwnerOperatorID,
	})
}

func writeEvent(w http.ResponseWriter, name string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, raw)
	return err
}
