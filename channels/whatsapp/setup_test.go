package whatsapp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/internal/shareddata"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The shop's WhatsApp secrets in tests. The phone number id is the one in
// the captured webhooks.
const (
	testAppSecret   = "test-app-secret"
	testAccessToken = "test-access-token"
	testVerifyToken = "test-verify-token"
	capturePhoneID  = "1122334455667"
	captureWAID     = "972987654321"
)

// bundle is what a channel test needs: a database, a shop with WhatsApp
// settings, a fake Graph API, the channel with a running River client,
// and a server with the webhook.
//
// River's job table is shared by the package's tests, and a River client
// works any job in its queues, so tests that start a bundle do not run in
// parallel: each stops its client and clears its unfinished jobs when it
// ends.
type bundle struct {
	db     *postgres.DB
	shop   *salesagent.Shop
	graph  *fakeGraph
	ch     *Channel
	river  *river.Client[pgx.Tx]
	server *httptest.Server
}

// options change a bundle before it starts.
type options struct {
	turns    TurnRunner
	template *salesagent.WhatsAppTemplate
	products []salesagent.Product
	config   func(*Config)
}

func setup(t *testing.T, opts options) *bundle {
	t.Helper()
	ctx := context.Background()

	// A pool of its own gives the concurrent webhooks of a test enough
	// connections.
	url := pgtest.URL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	db, err := postgres.Open(ctx, url+sep+"pool_max_conns=24")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)

	shop := newShop(t, db, opts.template)
	if len(opts.products) > 0 {
		if _, err := db.UpsertProducts(ctx, shop.ID, opts.products); err != nil {
			t.Fatal(err)
		}
	}
	graph := newFakeGraph(t)
	client, err := NewClient(ClientConfig{BaseURL: graph.server.URL, APIVersion: "v21.0", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	turns := opts.turns
	if turns == nil {
		turns = newFakeAgent(db)
	}
	cfg := Config{
		DB: db, Turns: turns, Client: client, Logger: testLogger(), PublicURL: "https://chat.example.com",
		RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		ThrottleWait: 20 * time.Millisecond, OrderWait: 20 * time.Millisecond,
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	ch := New(cfg)

	workers := river.NewWorkers()
	if err := ch.AddWorkers(workers); err != nil {
		t.Fatal(err)
	}
	riverClient, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Queues:            Queues(2, 4),
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := riverClient.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ch.Register(mux, riverClient)
	server := httptest.NewServer(mux)

	t.Cleanup(func() {
		server.Close()
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := riverClient.StopAndCancel(stopCtx); err != nil {
			t.Errorf("stop River client: %v", err)
		}
		if _, err := db.Pool.Exec(stopCtx, `DELETE FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`); err != nil {
			t.Errorf("clear unfinished jobs: %v", err)
		}
	})
	return &bundle{db: db, shop: shop, graph: graph, ch: ch, river: riverClient, server: server}
}

func testLogger() *slog.Logger {
	level := slog.LevelError + 4
	if os.Getenv("SALESAGENT_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newShop creates a shop with a unique slug and WhatsApp settings for the
// captures' phone number id.
func newShop(t *testing.T, db *postgres.DB, template *salesagent.WhatsAppTemplate) *salesagent.Shop {
	t.Helper()
	ctx := context.Background()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	slug := "wa-" + hex.EncodeToString(suffix)
	shop, _, err := db.EnsureShop(ctx, slug, "Northwind Outfitters")
	if err != nil {
		t.Fatal(err)
	}
	shop.Settings.WhatsApp = &salesagent.WhatsAppSettings{
		PhoneNumberID: capturePhoneID, AccessToken: testAccessToken, AppSecret: testAppSecret,
		VerifyToken: testVerifyToken, Template: template,
	}
	if err := db.UpdateShop(ctx, shop); err != nil {
		t.Fatal(err)
	}
	return shop
}

// sign returns the X-Hub-Signature-256 value of body under secret.
func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends body to the shop's webhook with the given signature header,
// or none when signature is "".
func (b *bundle) post(t *testing.T, body []byte, signature string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.server.URL+"/webhooks/whatsapp/"+b.shop.Slug, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(signatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post webhook: %v", err)
	}
	resp.Body.Close()
	return resp
}

// deliver posts a signed body and fails the test unless Meta would get a
// 200.
func (b *bundle) deliver(t *testing.T, body []byte) {
	t.Helper()
	if resp := b.post(t, body, sign(body, testAppSecret)); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d, want 200", resp.StatusCode)
	}
}

// capture returns a webhook body captured from the Cloud API: the example
// key of the file in the shared inbound-webhooks-pywa folder.
func capture(t *testing.T, file, key string) map[string]any {
	t.Helper()
	path := shareddata.Path(t, "whatsapp-cloud-api", "inbound-webhooks-pywa", file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var examples map[string]map[string]any
	if err := json.Unmarshal(raw, &examples); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	body, ok := examples[key]
	if !ok {
		t.Fatalf("%s has no example %q", path, key)
	}
	return body
}

// change returns the value of the body's first change, to edit it.
func change(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	entry := body["entry"].([]any)[0].(map[string]any)
	return entry["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
}

// firstMessage returns the body's first message, to edit it.
func firstMessage(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	return change(t, body)["messages"].([]any)[0].(map[string]any)
}

var wamidCounter struct {
	sync.Mutex
	n int
}

// newWAMID returns a wamid no other test message has.
func newWAMID() string {
	wamidCounter.Lock()
	defer wamidCounter.Unlock()
	wamidCounter.n++
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	return fmt.Sprintf("wamid.test%d%s", wamidCounter.n, hex.EncodeToString(suffix))
}

// inboundCapture returns a captured inbound message with a fresh wamid,
// sent at, and with text replacing a text body when text is not "".
func inboundCapture(t *testing.T, file, key, text string, at time.Time) []byte {
	t.Helper()
	body := capture(t, file, key)
	m := firstMessage(t, body)
	m["id"] = newWAMID()
	m["timestamp"] = strconv.FormatInt(at.Unix(), 10)
	if text != "" {
		m["text"] = map[string]any{"body": text}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// textCapture returns the captured text message with text as its body,
// sent now.
func textCapture(t *testing.T, text string) []byte {
	t.Helper()
	return inboundCapture(t, "message.json", "text", text, time.Now())
}

// tapCapture returns a captured button or list reply with the given id and
// title, sent now.
func tapCapture(t *testing.T, file, key, kind, id, title string) []byte {
	t.Helper()
	body := capture(t, file, key)
	m := firstMessage(t, body)
	m["id"] = newWAMID()
	m["timestamp"] = strconv.FormatInt(time.Now().Unix(), 10)
	reply := m["interactive"].(map[string]any)[kind].(map[string]any)
	reply["id"], reply["title"] = id, title
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// waitFor polls cond until it holds, failing the test after 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// waitIdle waits until the shop has no unfinished River job.
func (b *bundle) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, "the shop's jobs to finish", func() bool {
		var n int
		err := b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE (args->>'shop_id')::bigint = $1 AND state NOT IN ('completed', 'discarded', 'cancelled')`, b.shop.ID).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// waitStored waits until the shop has no unfinished inbound job, so every
// acknowledged webhook's messages are stored, while their turns may still
// be running.
func (b *bundle) waitStored(t *testing.T) {
	t.Helper()
	waitFor(t, "the shop's webhooks to be stored", func() bool {
		var n int
		err := b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE kind = $2 AND (args->>'shop_id')::bigint = $1 AND state NOT IN ('completed', 'discarded', 'cancelled')`,
			b.shop.ID, InboundArgs{}.Kind()).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

// count runs a count query with the shop's id as $1.
func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.db.Pool.QueryRow(context.Background(), sql, append([]any{b.shop.ID}, args...)...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// conversation returns the shop's one WhatsApp conversation.
func (b *bundle) conversation(t *testing.T) *salesagent.Conversation {
	t.Helper()
	var id int64
	if err := b.db.Pool.QueryRow(context.Background(), `SELECT id FROM conversations WHERE shop_id = $1 AND channel = 'whatsapp'`, b.shop.ID).Scan(&id); err != nil {
		t.Fatalf("load whatsapp conversation: %v", err)
	}
	conv, err := b.db.ConversationByID(context.Background(), b.shop.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

// messages returns the conversation's stored messages.
func (b *bundle) messages(t *testing.T, conv *salesagent.Conversation) []salesagent.Message {
	t.Helper()
	msgs, err := b.db.MessagesAfter(context.Background(), b.shop.ID, conv.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// events returns the types of the conversation's events, in order.
func (b *bundle) events(t *testing.T, conv *salesagent.Conversation) []salesagent.Event {
	t.Helper()
	events, err := b.db.ConversationEvents(context.Background(), b.shop.ID, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// fakeAgent stores a fixed reply per turn, as the agent service does, and
// counts its turns.
type fakeAgent struct {
	db *postgres.DB

	mu    sync.Mutex
	calls []salesagent.Message
	// reply, when set, returns the reply text for a shopper message.
	reply func(msg salesagent.Message) string
}

func newFakeAgent(db *postgres.DB) *fakeAgent { return &fakeAgent{db: db} }

func (f *fakeAgent) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error) {
	f.mu.Lock()
	f.calls = append(f.calls, msg)
	reply := f.reply
	f.mu.Unlock()
	text := "You asked: " + msg.Body
	if reply != nil {
		text = reply(msg)
	}
	_ = out.Emit(ctx, agent.StreamEvent{Type: agent.StreamDelta, Text: text})
	stored, _, err := f.db.AppendMessage(ctx, shop.ID, salesagent.Message{
		ConversationID: conv.ID, Role: salesagent.RoleAgent, Body: text, ReplyTo: msg.Seq,
		Citations: []salesagent.Citation{{Kind: salesagent.KindFAQ, Title: "Test FAQ"}},
	})
	return stored, err
}

func (f *fakeAgent) callCount() int {
	return len(f.snapshot())
}

// snapshot returns the shopper messages of the turns run so far.
func (f *fakeAgent) snapshot() []salesagent.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]salesagent.Message(nil), f.calls...)
}
