package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data map[string]any
}

// openEvents opens c's event stream and returns its events as they come.
func openEvents(t *testing.T, c *client) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/console/api/events", nil)
	stream := &http.Client{Jar: c.http.Jar}
	resp, err := stream.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("event stream: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		scanner := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "" && ev.name != "":
				events <- ev
				ev = sseEvent{}
			}
		}
	}()
	t.Cleanup(cancel)
	return events
}

// next returns the next event for which keep is true, failing the test
// after 10 seconds.
func next(t *testing.T, events <-chan sseEvent, what string, keep func(sseEvent) bool) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event stream ended while waiting for %s", what)
			}
			if keep(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within 10 s", what)
		}
	}
}

// secondServer serves the console from a second connection pool and
// listener on the same database, as another server process does.
func secondServer(t *testing.T) (*Console, string) {
	t.Helper()
	return startSecond(t, Config{})
}

// secondServerWith is secondServer with cfg, returning the base URL only.
func secondServerWith(t *testing.T, cfg Config) string {
	t.Helper()
	_, base := startSecond(t, cfg)
	return base
}

func startSecond(t *testing.T, cfg Config) (*Console, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatalf("open second pool: %v", err)
	}
	cfg.DB, cfg.Logger = db, slog.New(slog.DiscardHandler)
	testAddressLimit(&cfg)
	c := New(cfg)
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		cancel()
		<-done
		db.Close()
	})
	return c, srv.URL
}

func TestEventsReachOperatorsOnAnotherServer(t *testing.T) {
	f := newFixture(t, Config{})
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	_, base := secondServer(t)

	watcher := newClient(t, base)
	watcher.login(f.shop.Slug, "dana@example.com", testPassword)
	events := openEvents(t, watcher)
	next(t, events, "first resync", func(ev sseEvent) bool { return ev.name == eventResync })

	// The claim on server A reaches server B's stream as a status change
	// and as the "joined" message.
	actor := newClient(t, f.srv.URL)
	actor.login(f.shop.Slug, "dana@example.com", testPassword)
	actor.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/claim", conv.ID), nil, nil)
	ev := next(t, events, "conversation", func(ev sseEvent) bool { return ev.name == eventConversation })
	if int64(ev.data["conversation_id"].(float64)) != conv.ID || ev.data["status"] != salesagent.StatusOperator {
		t.Errorf("conversation event %v, want conversation %d with status operator", ev.data, conv.ID)
	}
	joined := next(t, events, "message", func(ev sseEvent) bool { return ev.name == eventMessage })
	if int64(joined.data["conversation_id"].(float64)) != conv.ID {
		t.Errorf("message event %v, want conversation %d", joined.data, conv.ID)
	}

	// A note is announced too, so other consoles refresh; its text is not
	// in the event.
	actor.expect(http.StatusCreated, "POST", fmt.Sprintf("/console/api/conversations/%d/note", conv.ID), map[string]string{"text": "secret note"}, nil)
	note := next(t, events, "note message", func(ev sseEvent) bool { return ev.name == eventMessage })
	if note.data["seq"].(float64) <= joined.data["seq"].(float64) {
		t.Errorf("note event seq %v, want after %v", note.data["seq"], joined.data["seq"])
	}
	if _, ok := note.data["body"]; ok {
		t.Errorf("message event carries the body: %v", note.data)
	}

	// Another shop's changes never reach this shop's stream.
	other, _, err := f.db.EnsureShop(context.Background(), randomSlug(t, "other"), "Other Shop")
	if err != nil {
		t.Fatal(err)
	}
	otherConv := escalatedConversation(t, f.db, other, "other", "")
	actor.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/handback", conv.ID), nil, nil)
	for {
		ev := next(t, events, "hand-back", func(ev sseEvent) bool { return ev.name != eventResync })
		if id := int64(ev.data["conversation_id"].(float64)); id == otherConv.ID {
			t.Fatalf("stream of shop %d got an event of shop %d's conversation", f.shop.ID, other.ID)
		}
		if ev.name == eventConversation && ev.data["status"] == salesagent.StatusOpen {
			break
		}
	}
}

func TestEventStreamEndsOnClose(t *testing.T) {
	f := newFixture(t, Config{})
	c, base := secondServer(t)
	watcher := newClient(t, base)
	watcher.login(f.shop.Slug, "dana@example.com", testPassword)
	events := openEvents(t, watcher)
	next(t, events, "first resync", func(ev sseEvent) bool { return ev.name == eventResync })

	c.Close()
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open 5 s after Close")
	}
}

func TestEventsNeedSession(t *testing.T) {
	f := newFixture(t, Config{})
	resp, err := http.Get(f.srv.URL + "/console/api/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("events without a session: status %d, want 401", resp.StatusCode)
	}
}

func TestSlowStreamGetsResync(t *testing.T) {
	b := newBroker()
	sub := b.subscribe(7)
	for i := 1; i <= streamBuffer+5; i++ {
		b.publish(postgres.Notification{ShopID: 7, ConversationID: 1, Seq: int64(i)})
	}
	b.publish(postgres.Notification{ShopID: 8, ConversationID: 2, Seq: 1})
	if !sub.takeMissed() {
		t.Fatal("a stream that fell behind is not marked as having missed notifications")
	}
	if got := len(sub.ch); got != streamBuffer {
		t.Errorf("stream holds %d notifications, want its buffer of %d", got, streamBuffer)
	}
	for len(sub.ch) > 0 {
		if n := <-sub.ch; n.ShopID != 7 {
			t.Errorf("stream of shop 7 got a notification of shop %d", n.ShopID)
		}
	}
}

func TestEventsResyncAfterListenerLoss(t *testing.T) {
	f := newFixture(t, Config{})
	conv := escalatedConversation(t, f.db, f.shop, "cancel order", "")
	_, base := secondServer(t)
	watcher := newClient(t, base)
	watcher.login(f.shop.Slug, "dana@example.com", testPassword)
	events := openEvents(t, watcher)
	next(t, events, "first resync", func(ev sseEvent) bool { return ev.name == eventResync })

	// Cut every listener connection of this database, as a database
	// restart or a network failure would.
	// The second server's listener connects in the background, so wait
	// for it.
	var cut int
	for deadline := time.Now().Add(10 * time.Second); cut == 0 && time.Now().Before(deadline); {
		err := f.db.Pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&cut)
		if err != nil {
			t.Fatal(err)
		}
		if cut == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if cut == 0 {
		t.Fatal("found no listener connection to cut within 10 s")
	}

	// A change made while no listener runs is not announced to the
	// stream, so the resync after reconnecting makes the console reload.
	actor := newClient(t, f.srv.URL)
	actor.login(f.shop.Slug, "dana@example.com", testPassword)
	actor.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/claim", conv.ID), nil, nil)
	next(t, events, "resync after reconnecting", func(ev sseEvent) bool { return ev.name == eventResync })

	// Later changes arrive again.
	actor.expect(http.StatusOK, "POST", fmt.Sprintf("/console/api/conversations/%d/handback", conv.ID), nil, nil)
	ev := next(t, events, "hand-back", func(ev sseEvent) bool {
		return ev.name == eventConversation && ev.data["status"] == salesagent.StatusOpen
	})
	if int64(ev.data["conversation_id"].(float64)) != conv.ID {
		t.Errorf("hand-back event %v, want conversation %d", ev.data, conv.ID)
	}
}

func TestEventStreamEndsWithSession(t *testing.T) {
	saved := heartbeatEvery
	heartbeatEvery = 100 * time.Millisecond
	t.Cleanup(func() { heartbeatEvery = saved })

	f := newFixture(t, Config{})
	watcher := newClient(t, f.srv.URL)
	watcher.login(f.shop.Slug, "dana@example.com", testPassword)
	events := openEvents(t, watcher)
	next(t, events, "first resync", func(ev sseEvent) bool { return ev.name == eventResync })

	watcher.expect(http.StatusNoContent, "POST", "/console/api/logout", nil, nil)
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open 5 s after its session ended")
	}
}
