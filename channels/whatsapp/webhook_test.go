package whatsapp

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

func TestVerifyHandshake(t *testing.T) {
	b := setup(t, options{})
	get := func(slug string, query url.Values) (int, string) {
		t.Helper()
		resp, err := http.Get(b.server.URL + "/webhooks/whatsapp/" + slug + "?" + query.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	status, body := get(b.shop.Slug, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1158201444"}})
	if status != http.StatusOK || body != "1158201444" {
		t.Errorf("handshake = %d %q, want 200 with the challenge echoed", status, body)
	}
	status, _ = get(b.shop.Slug, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"wrong"}, "hub.challenge": {"1"}})
	if status != http.StatusForbidden {
		t.Errorf("wrong verify token answered %d, want 403", status)
	}
	status, _ = get(b.shop.Slug, url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1"}})
	if status != http.StatusForbidden {
		t.Errorf("wrong hub.mode answered %d, want 403", status)
	}
	status, _ = get("no-such-shop", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1"}})
	if status != http.StatusNotFound {
		t.Errorf("unknown shop answered %d, want 404", status)
	}
}

func TestForgedSignatureChangesNothing(t *testing.T) {
	b := setup(t, options{})
	body := textCapture(t, "Do you ship to Canada?")

	cases := map[string]string{
		"missing":         "",
		"other secret":    sign(body, "not-the-app-secret"),
		"not hex":         "sha256=zz",
		"wrong algorithm": strings.Replace(sign(body, testAppSecret), "sha256=", "sha1=", 1),
		"other body":      sign(append([]byte(" "), body...), testAppSecret),
	}
	for name, signature := range cases {
		if resp := b.post(t, body, signature); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s signature answered %d, want 401", name, resp.StatusCode)
		}
	}

	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 0 {
		t.Errorf("%d inbound rows stored, want 0", n)
	}
	if n := b.count(t, `SELECT count(*) FROM customers WHERE shop_id = $1`); n != 0 {
		t.Errorf("%d customers stored, want 0", n)
	}
	if n := b.count(t, `SELECT count(*) FROM conversations WHERE shop_id = $1`); n != 0 {
		t.Errorf("%d conversations stored, want 0", n)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE (args->>'shop_id')::bigint = $1`); n != 0 {
		t.Errorf("%d jobs queued, want 0", n)
	}
}

func TestWebhookAcceptsNewAppSecret(t *testing.T) {
	b := setup(t, options{})
	ctx := context.Background()
	b.deliver(t, textCapture(t, "Do you ship to Canada?"))

	// The first delivery cached the shop with the old secret.
	const newSecret = "rotated-app-secret"
	b.shop.Settings.WhatsApp.AppSecret = newSecret
	if err := b.db.UpdateShop(ctx, b.shop); err != nil {
		t.Fatal(err)
	}
	body := textCapture(t, "And to Mexico?")
	if resp := b.post(t, body, sign(body, newSecret)); resp.StatusCode != http.StatusOK {
		t.Errorf("body signed with the new secret answered %d, want 200", resp.StatusCode)
	}
	old := textCapture(t, "And to Chile?")
	if resp := b.post(t, old, sign(old, testAppSecret)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("body signed with the replaced secret answered %d, want 401", resp.StatusCode)
	}
	b.waitStored(t)
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 2 {
		t.Errorf("%d inbound rows stored, want 2", n)
	}
}

func TestWebhookBodyTooLarge(t *testing.T) {
	b := setup(t, options{config: func(c *Config) { c.MaxBodyBytes = 512 }})
	body := textCapture(t, strings.Repeat("long ", 200))
	if resp := b.post(t, body, sign(body, testAppSecret)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body answered %d, want 413", resp.StatusCode)
	}
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 0 {
		t.Errorf("%d inbound rows stored, want 0", n)
	}
}

// blockingAgent holds every turn until release is closed.
type blockingAgent struct {
	*fakeAgent
	started  chan struct{}
	release  chan struct{}
	finished chan struct{}
	once     sync.Once
}

func (a *blockingAgent) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error) {
	a.once.Do(func() { close(a.started) })
	select {
	case <-a.release:
	case <-ctx.Done():
		return salesagent.Message{}, ctx.Err()
	}
	defer close(a.finished)
	return a.fakeAgent.HandleMessage(ctx, shop, conv, msg, page, out)
}

func TestWebhookAnswersBeforeTurn(t *testing.T) {
	blocking := &blockingAgent{started: make(chan struct{}), release: make(chan struct{}), finished: make(chan struct{})}
	b := setup(t, options{turns: blocking})
	blocking.fakeAgent = newFakeAgent(b.db)

	b.deliver(t, textCapture(t, "Is the rain jacket waterproof?"))
	b.waitStored(t)

	// The webhook has responded and its inbound job has stored the
	// message, while the turn cannot have finished, because the turn
	// waits for release.
	select {
	case <-blocking.finished:
		t.Fatal("the turn finished before the webhook answered")
	default:
	}
	conv := b.conversation(t)
	msgs := b.messages(t, conv)
	if len(msgs) != 1 || msgs[0].Role != salesagent.RoleShopper {
		t.Fatalf("after the webhook answered, messages = %+v, want only the shopper's", msgs)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'whatsapp_turn' AND (args->>'shop_id')::bigint = $1`); n != 1 {
		t.Errorf("%d turn jobs queued, want 1", n)
	}

	<-blocking.started
	close(blocking.release)
	b.waitIdle(t)
	sent := b.graph.sent()
	if len(sent) != 1 || !strings.Contains(bodyText(sent[0].Message), "Is the rain jacket waterproof?") {
		t.Fatalf("sent %+v, want the one reply", sent)
	}
}

func TestRedeliveryStormRepliesOnce(t *testing.T) {
	b := setup(t, options{})
	fake := b.ch.cfg.Turns.(*fakeAgent)
	body := textCapture(t, "Where is my order?")
	signature := sign(body, testAppSecret)

	var wg sync.WaitGroup
	statuses := make(chan int, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- b.post(t, body, signature).StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for status := range statuses {
		if status != http.StatusOK {
			t.Errorf("a redelivery answered %d, want 200", status)
		}
	}
	b.waitIdle(t)

	// Redeliveries after the turn ran change nothing either.
	b.deliver(t, body)
	b.waitIdle(t)

	if n := fake.callCount(); n != 1 {
		t.Errorf("agent ran %d turns, want 1", n)
	}
	if sent := b.graph.sent(); len(sent) != 1 {
		t.Errorf("sent %d replies, want 1", len(sent))
	}
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d inbound rows, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM messages WHERE shop_id = $1 AND role = 'shopper'`); n != 1 {
		t.Errorf("%d shopper messages, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM customers WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d customers, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM conversations WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d conversations, want 1", n)
	}
}

func TestWebhookStoredOnceAfterWorkersStart(t *testing.T) {
	b := setup(t, options{})
	ctx := context.Background()
	fake := b.ch.cfg.Turns.(*fakeAgent)
	if err := b.river.Stop(ctx); err != nil {
		t.Fatalf("stop River client: %v", err)
	}

	// Meta gets its 200 for the body and for a redelivery of it while no
	// job runs.
	body := textCapture(t, "Do the trail runners come in size 44?")
	b.deliver(t, body)
	b.deliver(t, body)
	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 0 {
		t.Errorf("%d inbound rows stored with the workers stopped, want 0", n)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE kind = $2 AND state = 'available' AND (args->>'shop_id')::bigint = $1`, InboundArgs{}.Kind()); n != 2 {
		t.Errorf("%d inbound jobs waiting, want 2, one per acknowledged webhook", n)
	}

	if err := b.river.Start(ctx); err != nil {
		t.Fatalf("start River client again: %v", err)
	}
	b.waitIdle(t)

	if n := b.count(t, `SELECT count(*) FROM whatsapp_inbound WHERE shop_id = $1`); n != 1 {
		t.Errorf("%d inbound rows, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM messages WHERE shop_id = $1 AND role = 'shopper'`); n != 1 {
		t.Errorf("%d shopper messages, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE kind = $2 AND state = 'completed' AND (args->>'shop_id')::bigint = $1`, InboundArgs{}.Kind()); n != 2 {
		t.Errorf("%d inbound jobs completed, want 2", n)
	}
	if n := b.count(t, `SELECT count(*) FROM river_job WHERE kind = $2 AND (args->>'shop_id')::bigint = $1`, TurnArgs{}.Kind()); n != 1 {
		t.Errorf("%d turn jobs queued, want 1", n)
	}
	if n := fake.callCount(); n != 1 {
		t.Errorf("agent ran %d turns, want 1", n)
	}
	sent := b.graph.sent()
	if len(sent) != 1 || !strings.Contains(bodyText(sent[0].Message), "trail runners") {
		t.Fatalf("sent %+v, want the one reply", sent)
	}
}
