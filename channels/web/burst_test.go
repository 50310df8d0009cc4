package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// burstParts is how many small deltas burstAgent streams back to back.
const burstParts = 1000

// burstAgent streams its reply as a buffering proxy in front of a language
// model delivers it: large deltas until the socket's writer is stuck on a
// client that does not read, then many small deltas back to back.
type burstAgent struct {
	db  *postgres.DB
	srv atomic.Pointer[Server]
	// done is closed when the turn has emitted every delta and stored its
	// reply, or failed.
	done chan struct{}
	// fillers is the number of large deltas sent before the burst.
	fillers atomic.Int64
	calls   atomic.Int64
}

func (a *burstAgent) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, _ agent.PageContext, out agent.Emitter) (salesagent.Message, error) {
	if a.calls.Add(1) > 1 {
		// Later turns store no reply, as when an operator holds the
		// conversation.
		return salesagent.Message{}, nil
	}
	defer close(a.done)
	socks := a.srv.Load().hub.socketsOf(conv.ID)
	if len(socks) != 1 {
		return salesagent.Message{}, fmt.Errorf("conversation %d has %d sockets, want 1", conv.ID, len(socks))
	}
	sock := socks[0]

	// A delta over 16 KiB takes no more text, so each large delta stays a
	// frame of its own. Once two of them wait in the queue, the writer is
	// waiting for the client, which reads nothing.
	var text strings.Builder
	emit := func(part string) error {
		text.WriteString(part)
		return out.Emit(ctx, agent.StreamEvent{Type: agent.StreamDelta, Text: part})
	}
	for i := 0; queued(sock) < 2; i++ {
		if i == 200 {
			return salesagent.Message{}, errors.New("the socket's writer never waited for the client")
		}
		if err := emit(fmt.Sprintf("[filler %d]", i) + strings.Repeat("f", 128<<10)); err != nil {
			return salesagent.Message{}, err
		}
		a.fillers.Add(1)
	}
	for i := 0; i < burstParts; i++ {
		if err := emit(fmt.Sprintf("part %d. ", i)); err != nil {
			return salesagent.Message{}, err
		}
	}

	reply, _, err := a.db.AppendMessage(ctx, shop.ID, salesagent.Message{
		ConversationID: conv.ID,
		Role:           salesagent.RoleAgent,
		Body:           text.String(),
		ReplyTo:        msg.Seq,
	})
	return reply, err
}

// queued returns the number of frames in the socket's send queue.
func queued(sock *socket) int {
	sock.qmu.Lock()
	defer sock.qmu.Unlock()
	return len(sock.queue)
}

func TestDeltaBurstKeepsPausedClientConnected(t *testing.T) {
	t.Parallel()
	burst := &burstAgent{done: make(chan struct{})}
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		burst.db = cfg.DB
		cfg.Turns = burst
	})
	burst.srv.Store(b.srv)

	conn := b.rawDial(t, "")
	hello, _ := json.Marshal(HelloFrame{Type: FrameHello, ShopKey: b.shop.WidgetKey})
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		t.Fatal(err)
	}
	welcome := readFrame(t, conn)
	if welcome.Type != FrameWelcome {
		t.Fatalf("got %s, want welcome", welcome.Raw)
	}
	// Small socket buffers make the writer wait for the client after a
	// few large frames instead of after megabytes.
	if tcp, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tcp.SetReadBuffer(16 << 10)
	}
	for _, sock := range b.srv.hub.socketsOf(welcome.ConversationID) {
		if tcp, ok := sock.conn.NetConn().(*net.TCPConn); ok {
			_ = tcp.SetWriteBuffer(16 << 10)
		}
	}

	// The client sends its question and reads nothing until the agent has
	// streamed the whole reply.
	question, _ := json.Marshal(MessageFrame{Type: FrameMessage, ClientID: "burst-1", Text: "Tell me everything about the tee."})
	if err := conn.WriteMessage(websocket.TextMessage, question); err != nil {
		t.Fatal(err)
	}
	select {
	case <-burst.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the agent did not finish streaming")
	}

	var streamed strings.Builder
	deltas := 0
	var final ServerFrame
	for final.Type == "" {
		f := readFrame(t, conn)
		switch {
		case f.Type == FrameDelta:
			if f.Turn != 1 {
				t.Errorf("delta of turn %d, want 1", f.Turn)
			}
			deltas++
			streamed.WriteString(f.Text)
		case f.Type == FrameMessage && f.Message != nil && f.Message.ReplyTo == 1:
			final = f
		case f.Type == FrameError:
			t.Fatalf("error frame %s", f.Raw)
		}
	}

	if got := testutil.ToFloat64(b.srv.metrics.slowDropped); got != 0 {
		t.Errorf("slow clients dropped = %v, want 0", got)
	}
	if final.Turn != 1 || final.Message.Role != salesagent.RoleAgent {
		t.Errorf("final frame = %.200s, want the agent's reply to turn 1", final.Raw)
	}
	if streamed.String() != final.Message.Body {
		t.Errorf("streamed text (%d bytes) differs from the reply (%d bytes)", streamed.Len(), len(final.Message.Body))
	}
	if !strings.HasSuffix(streamed.String(), fmt.Sprintf("part %d. ", burstParts-1)) {
		t.Errorf("streamed text ends with %q, want the last part of the burst", streamed.String()[max(0, streamed.Len()-40):])
	}
	sent := int(burst.fillers.Load()) + burstParts
	if deltas >= sent {
		t.Errorf("got %d delta frames for %d deltas, want the burst joined into fewer frames", deltas, sent)
	}

	// The socket is still open: the next question gets its ack.
	again, _ := json.Marshal(MessageFrame{Type: FrameMessage, ClientID: "burst-2", Text: "Thanks!"})
	if err := conn.WriteMessage(websocket.TextMessage, again); err != nil {
		t.Fatalf("write after the burst: %v", err)
	}
	for {
		f := readFrame(t, conn)
		if f.Type == FrameAck && f.ClientID == "burst-2" {
			break
		}
	}
}

// wsPair returns both ends of a WebSocket connection over loopback.
func wsPair(t *testing.T) (server, client *websocket.Conn) {
	t.Helper()
	conns := make(chan *websocket.Conn, 1)
	var upgrader websocket.Upgrader
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		conns <- c
	}))
	t.Cleanup(ts.Close)

	client, _, err := websocket.DefaultDialer.DialContext(testContext(t), "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial test server: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	select {
	case server = <-conns:
	case <-time.After(10 * time.Second):
		t.Fatal("test server got no connection")
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

func TestDeltasDoNotMergeAcrossOtherFrames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	serverConn, client := wsPair(t)
	// The writer starts only after every frame is queued, as when it waits
	// for a slow client, so every delta that may join the one before it
	// does.
	sock := &socket{
		srv:  b.srv,
		conn: serverConn,
		log:  b.srv.log,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	ctx := testContext(t)
	turn3 := &emitter{sock: sock, turn: 3}
	turn4 := &emitter{sock: sock, turn: 4}
	card := sizeGuideCard
	long := strings.Repeat("y", 16<<10)
	events := []struct {
		out   *emitter
		event agent.StreamEvent
	}{
		{turn3, agent.StreamEvent{Type: agent.StreamDelta, Text: "Our "}},
		{turn3, agent.StreamEvent{Type: agent.StreamDelta, Text: "tees "}},
		{turn3, agent.StreamEvent{Type: agent.StreamToolCall, Tool: &agent.ToolCall{Name: "send_size_guide", OK: true, Summary: "Sent the tees size guide"}}},
		{turn3, agent.StreamEvent{Type: agent.StreamDelta, Text: "run "}},
		{turn3, agent.StreamEvent{Type: agent.StreamDelta, Text: "true "}},
		{turn3, agent.StreamEvent{Type: agent.StreamCard, Card: &card}},
		{turn3, agent.StreamEvent{Type: agent.StreamReplace, Text: "Our tees run true "}},
		{turn3, agent.StreamEvent{Type: agent.StreamDelta, Text: "to size."}},
		{turn4, agent.StreamEvent{Type: agent.StreamDelta, Text: "Next "}},
		{turn4, agent.StreamEvent{Type: agent.StreamDelta, Text: long}},
		{turn4, agent.StreamEvent{Type: agent.StreamDelta, Text: "tail"}},
		{turn4, agent.StreamEvent{Type: agent.StreamDelta, Text: " end"}},
	}
	for _, e := range events {
		if err := e.out.Emit(ctx, e.event); err != nil {
			t.Fatal(err)
		}
	}
	sock.send(FrameHeld, HeldFrame{Type: FrameHeld, Turn: 4})
	go sock.writeLoop()
	t.Cleanup(sock.finish)

	var got []string
	for {
		f := readFrame(t, client)
		if f.Type == FrameHeld {
			break
		}
		desc := fmt.Sprintf("%s %d", f.Type, f.Turn)
		if f.Type == FrameDelta || f.Type == FrameReplace {
			desc += fmt.Sprintf(" %q", truncate(f.Text, 12))
		}
		got = append(got, desc)
	}
	want := []string{
		`delta 3 "Our tees "`,
		`tool 3`,
		`delta 3 "run true "`,
		`card 3`,
		`replace 3 "Our tees run…"`,
		`delta 3 "to size."`,
		`delta 4 "Next "`,
		`delta 4 "yyyyyyyyyyyy…"`,
		`delta 4 "tail end"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
