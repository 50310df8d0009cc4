package web

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/salesagent/salesagent/postgres"
)

// catchUpTimeout bounds the database read of one fan-out delivery.
const catchUpTimeout = 10 * time.Second

// catchUpRetries are the waits before the retries of a failed catch-up:
// about a minute in all, time for a database to restart or fail over.
var catchUpRetries = []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second, 45 * time.Second}

// hub fans new messages out to the local sockets of their conversation. One
// listener connection per process waits on postgres.NotifyChannel, so a
// message stored by any process, such as an operator's reply, reaches the
// shopper's socket here.
type hub struct {
	srv *Server

	mu    sync.Mutex
	convs map[int64][]*socket

	// done is closed once run has returned; work counts running
	// catch-ups.
	done chan struct{}
	work sync.WaitGroup
}

func newHub(srv *Server) *hub {
	return &hub{
		srv:   srv,
		convs: map[int64][]*socket{},
		done:  make(chan struct{}),
	}
}

func (h *hub) join(sock *socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.convs[sock.convID] = append(h.convs[sock.convID], sock)
}

func (h *hub) leave(sock *socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.convs[sock.convID]
	for i, other := range list {
		if other == sock {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(h.convs, sock.convID)
		return
	}
	h.convs[sock.convID] = list
}

// socketsOf returns a copy of the conversation's local sockets, or of every
// joined socket when convID is 0.
func (h *hub) socketsOf(convID int64) []*socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	if convID != 0 {
		return append([]*socket(nil), h.convs[convID]...)
	}
	var all []*socket
	for _, list := range h.convs {
		all = append(all, list...)
	}
	return all
}

// run relays notifications to local sockets until ctx ends. After every
// (re)connection of the listener it catches every local socket up on what
// it may have missed while no listener ran.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	h.srv.db.Listen(ctx, h.srv.log, func() {
		for _, sock := range h.socketsOf(0) {
			h.startCatchUp(sock)
		}
	}, h.dispatch)
}

// dispatch starts a catch-up for each local socket of the notified
// conversation that lacks the new message.
func (h *hub) dispatch(payload string) {
	var note postgres.Notification
	if err := json.Unmarshal([]byte(payload), &note); err != nil || note.ConversationID == 0 {
		h.srv.log.Warn("ignoring malformed message notification", "payload_bytes", len(payload))
		return
	}
	if note.Seq == 0 {
		// A status change: the shopper learns of it from the message
		// stored with it.
		return
	}
	for _, sock := range h.socketsOf(note.ConversationID) {
		if sock.lastSent.Load() < note.Seq {
			h.startCatchUp(sock)
		}
	}
}

// startCatchUp catches a socket up in the background. A failed catch-up
// is tried again after each of catchUpRetries while the socket is open,
// because no later notification may come to a quiet conversation: an
// operator's reply would stay unseen until the shopper reconnected.
func (h *hub) startCatchUp(sock *socket) {
	h.work.Add(1)
	go func() {
		defer h.work.Done()
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(h.srv.ctx, catchUpTimeout)
			err := sock.catchUp(ctx)
			cancel()
			if err == nil || attempt == len(catchUpRetries) {
				return
			}
			select {
			case <-time.After(catchUpRetries[attempt]):
			case <-sock.done:
				return
			case <-h.srv.ctx.Done():
				return
			}
		}
	}()
}

// wait blocks until run and every catch-up it started have returned.
func (h *hub) wait() {
	<-h.done
	h.work.Wait()
}
