package web

import (
	"encoding/json"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleSocketsAreCheap opens many sockets that said hello and stay idle,
// and checks the memory they hold per socket. Client and server run in this
// process, so the figure is an upper bound of the server's share. The
// target is 50,000 idle sockets in 1 GiB, about 21 KiB each.
func TestIdleSocketsAreCheap(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2000 sockets; skipped with -short")
	}
	b := setup(t)
	first := b.dial(t, DialOptions{})
	token := first.Welcome.VisitorToken
	hello, _ := json.Marshal(HelloFrame{Type: FrameHello, ShopKey: b.shop.WidgetKey, VisitorToken: token})
	url := "ws" + strings.TrimPrefix(b.ts.URL, "http") + "/ws"
	dialer := websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256, HandshakeTimeout: 10 * time.Second,
		NetDial: func(network, addr string) (net.Conn, error) { return net.Dial(network, addr) }}

	const sockets = 2000
	before := memoryInUse()
	conns := make([]*websocket.Conn, 0, sockets)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := 0; i < sockets; i++ {
		c, _, err := dialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		conns = append(conns, c)
		if err := c.WriteMessage(websocket.TextMessage, hello); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, data, err := c.ReadMessage(); err != nil || !strings.Contains(string(data), `"welcome"`) {
			t.Fatalf("socket %d: no welcome (%v)", i, err)
		}
	}
	after := memoryInUse()

	perSocket := float64(after-before) / sockets
	t.Logf("%d idle sockets hold %.1f KiB each, client side included", sockets, perSocket/1024)
	if perSocket > 21*1024 {
		t.Errorf("an idle socket holds %.1f KiB; 50,000 would not fit in 1 GiB", perSocket/1024)
	}
	if n := len(b.srv.hub.socketsOf(first.Welcome.ConversationID)); n != sockets+1 {
		t.Errorf("hub has %d sockets of the conversation, want %d", n, sockets+1)
	}
}

// memoryInUse returns the bytes of heap and goroutine stacks in use after a
// collection.
func memoryInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
