package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sizeGuideCard is the card the fake agent sends, as the real agent does
// for a sizing question.
var sizeGuideCard = salesagent.Card{
	Type:  salesagent.CardSizeGuide,
	Title: "Tees size guide",
	Table: &salesagent.Table{
		Columns: []string{"Size", "Chest (cm)", "Length (cm)"},
		Rows:    [][]string{{"S", "88-93", "69"}, {"M", "96-101", "72"}, {"L", "104-109", "75"}},
		Notes:   "Between sizes, take the larger one.",
	},
}

// The fake agent's reply, streamed in two parts.
const (
	answerPart1 = "Our size guide puts M "
	answerPart2 = "at a 96-101 cm chest."
)

// turnCall is one call of the fake agent, with what it saw when it started.
type turnCall struct {
	msg  salesagent.Message
	page agent.PageContext
	conv salesagent.Conversation
	// storedFirst reports whether the shopper message was already in the
	// database when the turn began.
	storedFirst bool
}

// fakeAgent streams a fixed reply with a size guide card and stores it,
// as the agent service does.
type fakeAgent struct {
	db *postgres.DB

	mu    sync.Mutex
	calls []turnCall
	// started receives each call as it begins.
	started chan turnCall
	// hold, when set, makes each turn wait after its first delta until it
	// is closed.
	hold chan struct{}
	// fail, when set, is returned instead of a reply.
	fail error
	// afterStore, when set, runs after the answer is stored.
	afterStore func(reply salesagent.Message)
}

func newFakeAgent(db *postgres.DB) *fakeAgent {
	return &fakeAgent{db: db, started: make(chan turnCall, 100)}
}

func (f *fakeAgent) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error) {
	stored, err := f.db.MessagesAfter(ctx, shop.ID, conv.ID, msg.Seq-1, 1)
	call := turnCall{
		msg:         msg,
		page:        page,
		conv:        *conv,
		storedFirst: err == nil && len(stored) == 1 && stored[0].Seq == msg.Seq && stored[0].ClientID == msg.ClientID && stored[0].Body == msg.Body,
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	hold, fail := f.hold, f.fail
	f.mu.Unlock()
	f.started <- call

	if fail != nil {
		return salesagent.Message{}, fail
	}
	if err := out.Emit(ctx, agent.StreamEvent{Type: agent.StreamDelta, Text: answerPart1}); err != nil {
		return salesagent.Message{}, err
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return salesagent.Message{}, ctx.Err()
		}
	}
	card := sizeGuideCard
	events := []agent.StreamEvent{
		{Type: agent.StreamDelta, Text: answerPart2},
		{Type: agent.StreamToolCall, Tool: &agent.ToolCall{Name: "send_size_guide", OK: true, Summary: "Sent the tees size guide", Arguments: map[string]any{"email": "x@example.com"}}},
		{Type: agent.StreamCard, Card: &card},
	}
	for _, e := range events {
		if err := out.Emit(ctx, e); err != nil {
			return salesagent.Message{}, err
		}
	}
	reply, _, err := f.db.AppendMessage(ctx, shop.ID, salesagent.Message{
		ConversationID: conv.ID,
		Role:           salesagent.RoleAgent,
		Body:           answerPart1 + answerPart2,
		Cards:          []salesagent.Card{card},
		Citations:      []salesagent.Citation{{Kind: salesagent.KindSizeGuide, Title: "Tees size guide"}},
		ReplyTo:        msg.Seq,
	})
	if err == nil && f.afterStore != nil {
		f.afterStore(reply)
	}
	return reply, err
}

func (f *fakeAgent) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// bundle is what a test needs: the database, a shop, the fake agent and a
// running server.
type bundle struct {
	db       *postgres.DB
	shop     *salesagent.Shop
	agent    *fakeAgent
	srv      *Server
	ts       *httptest.Server
	registry *prometheus.Registry
}

// setup starts a server with a new shop of its own. configure may change
// the config and the shop before the server starts.
func setup(t *testing.T, configure ...func(*Config, *salesagent.Shop)) *bundle {
	t.Helper()
	db := pgtest.DB(t)
	shop := newShop(t, db)
	fake := newFakeAgent(db)
	registry := prometheus.NewRegistry()
	cfg := Config{
		DB:      db,
		Turns:   fake,
		Logger:  testLogger(),
		Metrics: registry,
	}
	for _, c := range configure {
		c(&cfg, shop)
	}
	if err := db.UpdateShop(context.Background(), shop); err != nil {
		t.Fatal(err)
	}

	srv := New(cfg)
	mux := http.NewServeMux()
	srv.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close server: %v", err)
		}
		ts.Close()
	})
	return &bundle{db: db, shop: shop, agent: fake, srv: srv, ts: ts, registry: registry}
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("SALESAGENT_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newShop creates a shop with a unique slug and one product with three
// sizes.
func newShop(t *testing.T, db *postgres.DB) *salesagent.Shop {
	t.Helper()
	ctx := context.Background()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	slug := "web-" + hex.EncodeToString(suffix)
	shop, _, err := db.EnsureShop(ctx, slug, "Test Outfitters "+slug)
	if err != nil {
		t.Fatal(err)
	}
	three, none := 3, 0
	compare := salesagent.Money(3900)
	_, err = db.UpsertProducts(ctx, shop.ID, []salesagent.Product{{
		ExternalID: "tee-1", Handle: "trail-tee", Title: "Trail Tee", ProductType: "Tees", Vendor: "Northwind",
		Description: "A light merino tee for long walks.",
		Variants: []salesagent.Variant{
			{ExternalID: "v1", SKU: "TEE-S", Title: "S", Options: []salesagent.Option{{Name: "Size", Value: "S"}}, Price: 3400, Stock: &none, Available: true},
			{ExternalID: "v2", SKU: "TEE-M", Title: "M", Options: []salesagent.Option{{Name: "Size", Value: "M"}}, Price: 3400, CompareAtPrice: &compare, Stock: &three, Available: true},
			{ExternalID: "v3", SKU: "TEE-L", Title: "L", Options: []salesagent.Option{{Name: "Size", Value: "L"}}, Price: 3600, Available: true},
		},
	}, {
		ExternalID: "cap-1", Handle: "sun-cap", Title: "Sun Cap", ProductType: "Hats",
		Variants: []salesagent.Variant{{ExternalID: "c1", SKU: "CAP-1", Price: 1900, Available: false}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return shop
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a protocol client to the bundle's server as the shop's
// visitor.
func (b *bundle) dial(t *testing.T, opts DialOptions) *Client {
	t.Helper()
	c, err := Dial(testContext(t), b.ts.URL, b.shop.WidgetKey, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawDial opens a WebSocket to the bundle's server with the given Origin
// header, without saying hello.
func (b *bundle) rawDial(t *testing.T, origin string) *websocket.Conn {
	t.Helper()
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	url := "ws" + strings.TrimPrefix(b.ts.URL, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.DialContext(testContext(t), url, header)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readFrame reads one frame from a raw connection.
func readFrame(t *testing.T, conn *websocket.Conn) ServerFrame {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	f, err := DecodeServerFrame(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// next reads the client's next frame, failing the test on error.
func next(t *testing.T, c *Client) ServerFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := c.Next(ctx)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

// untilFinal reads frames until the final message of turn and returns
// every frame read.
func untilFinal(t *testing.T, c *Client, turn int) []ServerFrame {
	t.Helper()
	var frames []ServerFrame
	for {
		f := next(t, c)
		frames = append(frames, f)
		if f.Type == FrameError {
			t.Fatalf("error frame while waiting for turn %d: %s", turn, f.Raw)
		}
		if f.Type == FrameMessage && f.Message != nil && f.Message.ReplyTo == turn {
			return frames
		}
	}
}

// expectNoFrame fails when the client receives a frame within wait.
func expectNoFrame(t *testing.T, c *Client, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	f, err := c.Next(ctx)
	if err == nil {
		t.Fatalf("unexpected frame %s", f.Raw)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read failed instead of timing out: %v", err)
	}
}

// waitTurn returns the fake agent's next call.
func (b *bundle) waitTurn(t *testing.T) turnCall {
	t.Helper()
	select {
	case call := <-b.agent.started:
		return call
	case <-time.After(10 * time.Second):
		t.Fatal("agent turn did not start")
	}
	return turnCall{}
}
