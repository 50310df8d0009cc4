package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

func TestHelloWelcomesNewVisitor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dial(t, DialOptions{})

	w := c.Welcome
	if w.ConversationID == 0 {
		t.Error("welcome has no conversation_id")
	}
	if !strings.HasPrefix(w.VisitorToken, "vt_") || len(w.VisitorToken) < 40 {
		t.Errorf("visitor_token = %q, want a long random vt_ token", w.VisitorToken)
	}
	if !w.Reset {
		t.Error("welcome of a new conversation has reset = false")
	}
	if len(w.History) != 0 {
		t.Errorf("history of a new conversation has %d messages", len(w.History))
	}
	if w.ShopName != b.shop.Name {
		t.Errorf("shop_name = %q, want %q", w.ShopName, b.shop.Name)
	}
	if !strings.Contains(string(w.Raw), `"history":[]`) {
		t.Errorf("welcome %s does not carry an empty history array", w.Raw)
	}

	conv, err := b.db.ConversationByVisitor(context.Background(), b.shop.ID, hashToken(w.VisitorToken))
	if err != nil {
		t.Fatalf("conversation by the token's hash: %v", err)
	}
	if conv.ID != w.ConversationID || conv.Channel != salesagent.ChannelWeb || conv.CustomerID == nil {
		t.Errorf("stored conversation = %+v, want id %d on web with a customer", conv, w.ConversationID)
	}
	var plain int
	err = b.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM conversations WHERE visitor_token_hash = convert_to($1, 'UTF8')`, w.VisitorToken).Scan(&plain)
	if err != nil || plain != 0 {
		t.Errorf("the plain visitor token is stored (%d rows, err %v)", plain, err)
	}
}

func TestMessageStoredBeforeTurnAndStreamed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	page := &Page{Product: "trail-tee", SKU: "TEE-M", URL: "https://shop.example/products/trail-tee"}
	cart := []salesagent.CartItem{{SKU: "TEE-M", Quantity: 2}}
	c := b.dial(t, DialOptions{Page: page, Cart: cart})

	clientID, err := c.Send(testContext(t), "Which size fits a 98 cm chest?")
	if err != nil {
		t.Fatal(err)
	}
	ack := next(t, c)
	if ack.Type != FrameAck || ack.ClientID != clientID || ack.Seq != 1 || ack.Duplicate {
		t.Fatalf("first frame = %s, want ack of %s with seq 1", ack.Raw, clientID)
	}

	call := b.waitTurn(t)
	if !call.storedFirst {
		t.Error("the shopper message was not in the database when the turn started")
	}
	if call.msg.Seq != 1 || call.msg.Body != "Which size fits a 98 cm chest?" || call.msg.Role != salesagent.RoleShopper {
		t.Errorf("turn message = %+v", call.msg)
	}
	if call.page.ProductHandle != "trail-tee" || call.page.SKU != "TEE-M" || len(call.page.Cart) != 1 || call.page.Cart[0].Quantity != 2 {
		t.Errorf("turn page context = %+v, want the hello's product, SKU and cart", call.page)
	}

	frames := untilFinal(t, c, 1)
	var types []string
	var text strings.Builder
	var card *salesagent.Card
	for _, f := range frames {
		types = append(types, f.Type)
		switch f.Type {
		case FrameDelta:
			if f.Turn != 1 {
				t.Errorf("delta turn = %d, want 1", f.Turn)
			}
			text.WriteString(f.Text)
		case FrameCard:
			card = f.Card
		case FrameTool:
			if f.Name != "send_size_guide" || !f.OK || strings.Contains(string(f.Raw), "email") {
				t.Errorf("tool frame = %s, want name, ok and no arguments", f.Raw)
			}
		}
	}
	// The two deltas may arrive as one frame, because the second joins the
	// first when it is still in the send queue.
	if got, want := collapse(types), "delta,tool,card,message"; got != want {
		t.Errorf("frame types %v collapse to %s, want %s", types, got, want)
	}
	if text.String() != answerPart1+answerPart2 {
		t.Errorf("streamed text = %q", text.String())
	}
	if card == nil || card.Type != salesagent.CardSizeGuide || card.Table == nil || len(card.Table.Rows) != 3 {
		t.Errorf("card = %+v, want the size guide", card)
	}

	final := frames[len(frames)-1]
	if final.Turn != 1 || final.Message.Seq != 2 || final.Message.Role != salesagent.RoleAgent {
		t.Errorf("final message frame = %s, want turn 1, seq 2, role agent", final.Raw)
	}
	if final.Message.Body != answerPart1+answerPart2 || len(final.Message.Cards) != 1 || len(final.Message.Citations) != 1 {
		t.Errorf("final message = %+v, want the text, the card and a citation", final.Message)
	}
	expectNoFrame(t, c, 300*time.Millisecond)
}

func TestAnswerCarriesTurnWhenFanOutDeliversIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The answer's notification reaches the socket before the turn
	// returns, so the fan-out delivers it.
	b.agent.afterStore = func(reply salesagent.Message) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, sock := range b.srv.hub.socketsOf(reply.ConversationID) {
				if sock.lastSent.Load() >= int64(reply.Seq) {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Error("fan-out never delivered the answer")
	}
	c := b.dial(t, DialOptions{})
	if _, err := c.Send(testContext(t), "Which size?"); err != nil {
		t.Fatal(err)
	}
	frames := untilFinal(t, c, 1)
	final := frames[len(frames)-1]
	if final.Turn != 1 {
		t.Errorf("answer delivered by the fan-out = %s, want turn 1", final.Raw)
	}
	expectNoFrame(t, c, 300*time.Millisecond)
}

func TestResendSameClientIDRunsNoSecondTurn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	first := MessageFrame{ClientID: "4f1c2a8e-0000-4000-8000-000000000001", Text: "Do you ship to Canada?"}
	if err := c.SendMessage(ctx, first); err != nil {
		t.Fatal(err)
	}
	untilFinal(t, c, 1)

	if err := c.SendMessage(ctx, first); err != nil {
		t.Fatal(err)
	}
	ack := next(t, c)
	if ack.Type != FrameAck || ack.Seq != 1 || !ack.Duplicate || ack.ClientID != first.ClientID {
		t.Fatalf("resend answered %s, want a duplicate ack of seq 1", ack.Raw)
	}

	// A later message gets its own turn, and nothing of a second turn of
	// the resend comes before it.
	if _, err := c.Send(ctx, "And to Mexico?"); err != nil {
		t.Fatal(err)
	}
	ack2 := next(t, c)
	if ack2.Type != FrameAck || ack2.Seq != 3 {
		t.Fatalf("frame after resend = %s, want the ack of seq 3", ack2.Raw)
	}
	untilFinal(t, c, 3)
	if n := b.agent.callCount(); n != 2 {
		t.Errorf("agent ran %d turns, want 2", n)
	}
	msgs, err := b.db.MessagesAfter(ctx, b.shop.ID, c.Welcome.ConversationID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 {
		t.Errorf("stored %d messages, want 4 (two questions, two answers)", len(msgs))
	}
}

func TestReconnectResumesHistoryWithoutDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.dial(t, DialOptions{})
	ctx := testContext(t)
	token := first.Welcome.VisitorToken

	for i, q := range []string{"Is the tee merino?", "Does it shrink?"} {
		if _, err := first.Send(ctx, q); err != nil {
			t.Fatal(err)
		}
		untilFinal(t, first, 2*i+1)
	}
	first.Close()

	resumed := b.dial(t, DialOptions{VisitorToken: token, LastSeq: 2})
	w := resumed.Welcome
	if w.ConversationID != first.Welcome.ConversationID || w.Reset || w.VisitorToken != token {
		t.Fatalf("resume welcome = %s, want the same conversation and token, no reset", w.Raw)
	}
	if got := seqs(w.History); got != "3,4" {
		t.Errorf("history after seq 2 = %s, want 3,4", got)
	}
	if w.LastSeq != 4 {
		t.Errorf("last_seq = %d, want 4", w.LastSeq)
	}

	full := b.dial(t, DialOptions{VisitorToken: token})
	if got := seqs(full.Welcome.History); got != "1,2,3,4" {
		t.Errorf("full history = %s, want 1,2,3,4", got)
	}
	roles := []string{}
	for _, m := range full.Welcome.History {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "shopper,agent,shopper,agent" {
		t.Errorf("history roles = %v", roles)
	}

	ahead := b.dial(t, DialOptions{VisitorToken: token, LastSeq: 99})
	if !ahead.Welcome.Reset || seqs(ahead.Welcome.History) != "1,2,3,4" {
		t.Errorf("welcome for last_seq ahead of the server = %s, want reset and full history", ahead.Welcome.Raw)
	}
}

func TestTurnFinishesAfterSocketCloses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hold := make(chan struct{})
	b.agent.hold = hold
	c := b.dial(t, DialOptions{})
	token := c.Welcome.VisitorToken

	if _, err := c.Send(testContext(t), "What size am I?"); err != nil {
		t.Fatal(err)
	}
	if f := next(t, c); f.Type != FrameAck {
		t.Fatalf("first frame = %s, want ack", f.Raw)
	}
	b.waitTurn(t)
	if f := next(t, c); f.Type != FrameDelta || f.Text != answerPart1 {
		t.Fatalf("second frame = %s, want the first delta", f.Raw)
	}
	c.Close()
	close(hold)

	// The turn stores its reply although the socket is gone; the shopper finds
	// it on the next visit.
	deadline := time.Now().Add(10 * time.Second)
	for {
		again := b.dial(t, DialOptions{VisitorToken: token, LastSeq: 1})
		if seqs(again.Welcome.History) == "2" {
			if again.Welcome.History[0].Body != answerPart1+answerPart2 {
				t.Errorf("resumed reply = %q", again.Welcome.History[0].Body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reply never stored; history = %s", again.Welcome.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestUnknownTokenGetsNewConversation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.dial(t, DialOptions{})
	if _, err := owner.Send(testContext(t), "My order number is 1042"); err != nil {
		t.Fatal(err)
	}
	untilFinal(t, owner, 1)

	stranger := b.dial(t, DialOptions{VisitorToken: "vt_made-up-token", LastSeq: 0})
	w := stranger.Welcome
	if w.ConversationID == owner.Welcome.ConversationID {
		t.Fatal("an unknown token reached another visitor's conversation")
	}
	if w.VisitorToken == "vt_made-up-token" || w.VisitorToken == owner.Welcome.VisitorToken {
		t.Errorf("unknown token kept or got another visitor's token: %q", w.VisitorToken)
	}
	if !w.Reset || len(w.History) != 0 {
		t.Errorf("welcome = %s, want reset and no history", w.Raw)
	}

	// The owner's token is scoped to its shop: another shop starts anew.
	other := newShop(t, b.db)
	c, err := Dial(testContext(t), b.ts.URL, other.WidgetKey, DialOptions{VisitorToken: owner.Welcome.VisitorToken})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Welcome.ConversationID == owner.Welcome.ConversationID || len(c.Welcome.History) != 0 {
		t.Errorf("token of shop %s opened conversation %d with %d messages in shop %s",
			b.shop.Slug, c.Welcome.ConversationID, len(c.Welcome.History), other.Slug)
	}
}

func TestOriginChecks(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Config, shop *salesagent.Shop) {
		shop.AllowedOrigins = []string{"https://shop.example", "http://localhost:3000/"}
	})
	hello, _ := json.Marshal(HelloFrame{Type: FrameHello, ShopKey: b.shop.WidgetKey})

	cases := []struct {
		origin string
		ok     bool
	}{
		{"https://shop.example", true},
		{"HTTPS://Shop.Example:443", true},
		{"http://localhost:3000", true},
		{b.ts.URL, true},
		{"https://evil.example", false},
		{"http://shop.example", false},
		{"null", false},
	}
	for _, tc := range cases {
		conn := b.rawDial(t, tc.origin)
		if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
			t.Fatal(err)
		}
		f := readFrame(t, conn)
		if tc.ok {
			if f.Type != FrameWelcome {
				t.Errorf("origin %s: got %s, want welcome", tc.origin, f.Raw)
			}
			continue
		}
		if f.Type != FrameError || f.Code != salesagent.EFORBIDDEN || !f.Fatal || !strings.Contains(f.ErrorMessage, "allowed_origins") {
			t.Errorf("origin %s: got %s, want a fatal forbidden error naming allowed_origins", tc.origin, f.Raw)
			continue
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := conn.ReadMessage()
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("origin %s: after the error got %v, want close 1008", tc.origin, err)
		}
	}
}

func TestEmptyAllowedOriginsAcceptOnlyOwnHost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hello, _ := json.Marshal(HelloFrame{Type: FrameHello, ShopKey: b.shop.WidgetKey})

	own := b.rawDial(t, b.ts.URL)
	_ = own.WriteMessage(websocket.TextMessage, hello)
	if f := readFrame(t, own); f.Type != FrameWelcome {
		t.Errorf("own origin got %s, want welcome", f.Raw)
	}
	foreign := b.rawDial(t, "https://shop.example")
	_ = foreign.WriteMessage(websocket.TextMessage, hello)
	if f := readFrame(t, foreign); f.Code != salesagent.EFORBIDDEN {
		t.Errorf("foreign origin got %s, want forbidden", f.Raw)
	}
}

func TestFrameTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.MaxFrameBytes = 4096 })
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	big, _ := json.Marshal(MessageFrame{Type: FrameMessage, ClientID: "big-1", Text: strings.Repeat("a", 5000)})
	if err := c.SendRaw(ctx, big); err != nil {
		t.Fatal(err)
	}
	f := next(t, c)
	if f.Type != FrameError || f.Code != salesagent.ETOOLARGE || !strings.Contains(f.ErrorMessage, "4096") || f.Fatal {
		t.Fatalf("oversized frame answered %s, want a too_large error naming the limit", f.Raw)
	}
	if f.ClientID != "big-1" {
		t.Errorf("too_large error has client_id %q, want big-1 from the frame's start", f.ClientID)
	}

	// A client_id past the first 512 bytes is not looked for.
	late := []byte(`{"type":"message","text":"` + strings.Repeat("a", 5000) + `","client_id":"big-2"}`)
	if err := c.SendRaw(ctx, late); err != nil {
		t.Fatal(err)
	}
	if f := next(t, c); f.Code != salesagent.ETOOLARGE || f.ClientID != "" {
		t.Errorf("oversized frame with a late client_id answered %s, want too_large without client_id", f.Raw)
	}

	// The socket stays usable after a skipped frame.
	if _, err := c.Send(ctx, "Short question"); err != nil {
		t.Fatal(err)
	}
	if f := next(t, c); f.Type != FrameAck || f.Seq != 1 {
		t.Fatalf("frame after the skipped one = %s, want ack seq 1", f.Raw)
	}
	untilFinal(t, c, 1)

	// A frame over four times the limit closes the socket with 1009.
	huge := []byte(`{"type":"message","text":"` + strings.Repeat("b", 4*4096+10) + `"}`)
	if err := c.SendRaw(ctx, huge); err != nil {
		t.Fatal(err)
	}
	f, err := c.Next(ctx)
	if code, closed := IsClosed(err); !closed || code != websocket.CloseMessageTooBig {
		t.Errorf("huge frame: got %s, %v, want close code 1009", f.Raw, err)
	}
}

func TestTextTooLongAndEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.MaxTextRunes = 20 })
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	cases := []struct {
		text, code, mention string
	}{
		{"   \n\t ", salesagent.EINVALID, "empty"},
		{strings.Repeat("é", 21), salesagent.ETOOLARGE, "21 characters"},
	}
	for i, tc := range cases {
		id := "text-case-" + string(rune('a'+i))
		if err := c.SendMessage(ctx, MessageFrame{ClientID: id, Text: tc.text}); err != nil {
			t.Fatal(err)
		}
		f := next(t, c)
		if f.Type != FrameError || f.Code != tc.code || f.ClientID != id || !strings.Contains(f.ErrorMessage, tc.mention) {
			t.Errorf("text %q answered %s, want %s error for %s mentioning %q", tc.text, f.Raw, tc.code, id, tc.mention)
		}
	}
	if _, err := c.Send(ctx, strings.Repeat("é", 20)); err != nil {
		t.Fatal(err)
	}
	if f := next(t, c); f.Type != FrameAck || f.Seq != 1 {
		t.Errorf("a message of exactly the limit answered %s, want ack seq 1", f.Raw)
	}
}

func TestFloodGetsRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.RateLimit = RateLimit{Burst: 2, Every: time.Minute}
	})
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	var limited ServerFrame
	acks := 0
	var firstID string
	for i := 0; i < 3; i++ {
		id, err := c.Send(ctx, "Hello?")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			firstID = id
		}
	}
	// Two acks and one rate_limited error, mixed with the two turns.
	for acks < 2 || limited.Type == "" {
		f := next(t, c)
		switch f.Type {
		case FrameAck:
			acks++
		case FrameError:
			limited = f
		}
	}
	if limited.Code != salesagent.ERATELIMITED || limited.ClientID == "" || limited.RetryAfterMS <= 0 || !strings.Contains(limited.ErrorMessage, "wait") {
		t.Errorf("flood error = %s, want rate_limited with client_id, retry_after_ms and a request to wait", limited.Raw)
	}

	// A resend of a stored message is acknowledged as a duplicate even
	// while the visitor is limited, as after a lost ack.
	if err := c.SendMessage(ctx, MessageFrame{ClientID: firstID, Text: "Hello?"}); err != nil {
		t.Fatal(err)
	}
	for {
		f := next(t, c)
		if f.Type == FrameError {
			t.Fatalf("resend of a stored message while limited got %s, want a duplicate ack", f.Raw)
		}
		if f.Type == FrameAck {
			if f.ClientID != firstID || !f.Duplicate || f.Seq != 1 {
				t.Errorf("resend of a stored message got %s, want ack of %s, duplicate, seq 1", f.Raw, firstID)
			}
			break
		}
	}

	// The bucket belongs to the visitor, so reconnecting does not refill it.
	again := b.dial(t, DialOptions{VisitorToken: c.Welcome.VisitorToken, LastSeq: 99})
	if _, err := again.Send(ctx, "Still there?"); err != nil {
		t.Fatal(err)
	}
	for {
		f := next(t, again)
		if f.Type == FrameAck {
			t.Fatalf("reconnected visitor got %s, want rate_limited", f.Raw)
		}
		if f.Type == FrameError {
			if f.Code != salesagent.ERATELIMITED {
				t.Errorf("reconnected visitor got %s, want rate_limited", f.Raw)
			}
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	msgs, err := b.db.MessagesAfter(ctx, b.shop.ID, c.Welcome.ConversationID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	shopper := 0
	for _, m := range msgs {
		if m.Role == salesagent.RoleShopper {
			shopper++
		}
	}
	if shopper != 2 {
		t.Errorf("stored %d shopper messages, want 2: limited messages must not be stored", shopper)
	}
}

func TestInvalidFrames(t *testing.T) {
	t.Parallel()
	b := setup(t)

	early := b.rawDial(t, "")
	_ = early.WriteMessage(websocket.TextMessage, []byte(`{"type":"message","client_id":"x1","text":"hi"}`))
	if f := readFrame(t, early); f.Code != salesagent.EINVALID || !strings.Contains(f.ErrorMessage, "hello") {
		t.Errorf("message before hello answered %s, want invalid asking for hello", f.Raw)
	}

	c := b.dial(t, DialOptions{})
	ctx := testContext(t)
	cases := []struct {
		frame, mention string
	}{
		{`{"type":"message",`, "malformed JSON"},
		{`[1,2]`, `a frame must be a JSON object with a "type" field`},
		{`{"type":"message","client_id":"a0","text":"x","page":"tee"}`, `field "page" must be an object`},
		{`{"type":"subscribe"}`, `"subscribe"`},
		{`{"text":"no type"}`, "type"},
		{`{"type":"message","client_id":"a1","text":42}`, `"text"`},
		{`{"type":"message","text":"no id"}`, "client_id"},
		{`{"type":"message","client_id":"a2","text":"x","cart":[{"sku":"TEE-M","qty":0}]}`, "qty 0"},
		{`{"type":"hello","shop_key":"` + b.shop.WidgetKey + `"}`, "hello was already sent"},
	}
	for _, tc := range cases {
		if err := c.SendRaw(ctx, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		f := next(t, c)
		if f.Type != FrameError || f.Code != salesagent.EINVALID || !strings.Contains(f.ErrorMessage, tc.mention) || f.Fatal {
			t.Errorf("frame %s answered %s, want a non-fatal invalid error mentioning %s", tc.frame, f.Raw, tc.mention)
		}
		if strings.Contains(f.ErrorMessage, "web.") || strings.Contains(f.ErrorMessage, "Go ") {
			t.Errorf("frame %s answered %q, which names Go types", tc.frame, f.ErrorMessage)
		}
	}
	if err := c.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if f := next(t, c); f.Code != salesagent.EINVALID || !strings.Contains(f.ErrorMessage, "binary") {
		t.Errorf("binary frame answered %s", f.Raw)
	}
}

func TestUnknownShopKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := Dial(testContext(t), b.ts.URL, "pk_does-not-exist", DialOptions{})
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND || !strings.Contains(err.Error(), "unknown shop key") {
		t.Errorf("dial with unknown key: %v, want not_found naming the key", err)
	}
	_, err = Dial(testContext(t), b.ts.URL, "no-such-shop", DialOptions{})
	if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
		t.Errorf("dial with unknown slug: %v, want not_found", err)
	}
	c, err := Dial(testContext(t), b.ts.URL, b.shop.Slug, DialOptions{})
	if err != nil {
		t.Fatalf("dial by slug: %v", err)
	}
	c.Close()
}

func TestHelloTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.HelloTimeout = 200 * time.Millisecond })
	conn := b.rawDial(t, "")
	f := readFrame(t, conn)
	if f.Type != FrameError || !f.Fatal || !strings.Contains(f.ErrorMessage, "hello") {
		t.Errorf("silent socket got %s, want a fatal error asking for hello", f.Raw)
	}
}

func TestIdleSocketOutlivesHelloTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.HelloTimeout = 200 * time.Millisecond })
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	// A shopper reads the page for a while before asking anything.
	time.Sleep(600 * time.Millisecond)
	if _, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{
		ConversationID: c.Welcome.ConversationID, Role: salesagent.RoleOperator, Body: "Still there?",
	}); err != nil {
		t.Fatal(err)
	}
	f := next(t, c)
	if f.Type != FrameMessage || f.Message == nil || f.Message.Body != "Still there?" {
		t.Fatalf("after idling past the hello timeout got %s, want the operator message on an open socket", f.Raw)
	}
}

func TestOperatorReplyReachesSocket(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)
	convID := c.Welcome.ConversationID

	// Another process, such as the operator console, stores a reply.
	_, _, err := b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: convID, Role: salesagent.RoleOperator, Body: "Hi, Dana from the shop here."})
	if err != nil {
		t.Fatal(err)
	}
	f := next(t, c)
	if f.Type != FrameMessage || f.Message.Role != salesagent.RoleOperator || f.Message.Seq != 1 || f.Turn != 0 {
		t.Fatalf("got %s, want the operator message with seq 1", f.Raw)
	}

	// A message stored without a notification, as if it was missed, is
	// recovered by the next notification, in order.
	_, err = b.db.Pool.Exec(ctx, `WITH c AS (UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq)
		INSERT INTO messages (shop_id, conversation_id, seq, role, body) SELECT $2, $1, last_seq, 'operator', 'missed' FROM c`, convID, b.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.db.AppendMessage(ctx, b.shop.ID, salesagent.Message{ConversationID: convID, Role: salesagent.RoleOperator, Body: "announced"})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for len(got) < 2 {
		f := next(t, c)
		if f.Type == FrameMessage {
			got = append(got, f.Message.Body)
		}
	}
	if strings.Join(got, ",") != "missed,announced" {
		t.Errorf("messages = %v, want missed then announced", got)
	}
	expectNoFrame(t, c, 300*time.Millisecond)
}

func TestSecondTabSeesShopperMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tab1 := b.dial(t, DialOptions{})
	tab2 := b.dial(t, DialOptions{VisitorToken: tab1.Welcome.VisitorToken})

	id, err := tab1.Send(testContext(t), "Is the cap back in stock?")
	if err != nil {
		t.Fatal(err)
	}
	frames := untilFinal(t, tab1, 1)
	for _, f := range frames {
		if f.Type == FrameMessage && f.Message.ClientID == id {
			t.Errorf("sending tab got its own message echoed: %s", f.Raw)
		}
	}

	var seen []int
	for len(seen) < 2 {
		f := next(t, tab2)
		if f.Type != FrameMessage {
			t.Fatalf("second tab got %s, want only stored messages", f.Raw)
		}
		seen = append(seen, f.Message.Seq)
	}
	if seen[0] != 1 || seen[1] != 2 {
		t.Errorf("second tab got seqs %v, want 1 then 2", seen)
	}
}

func TestTurnErrorFrame(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.agent.fail = salesagent.Errorf(salesagent.EUNAVAILABLE, "The assistant is busy. Please try again in a minute.")
	c := b.dial(t, DialOptions{})

	id, err := c.Send(testContext(t), "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if f := next(t, c); f.Type != FrameAck {
		t.Fatalf("got %s, want ack", f.Raw)
	}
	f := next(t, c)
	if f.Type != FrameError || f.Code != salesagent.EUNAVAILABLE || f.Turn != 1 || f.ClientID != id || f.Fatal {
		t.Errorf("failed turn answered %s, want an unavailable error for turn 1", f.Raw)
	}

	b.agent.mu.Lock()
	b.agent.fail = errors.New("connection refused by model host")
	b.agent.mu.Unlock()
	if _, err := c.Send(testContext(t), "Again"); err != nil {
		t.Fatal(err)
	}
	next(t, c) // ack
	f = next(t, c)
	if f.Code != salesagent.EINTERNAL || strings.Contains(f.ErrorMessage, "refused") {
		t.Errorf("internal failure answered %s, want internal with a generic message", f.Raw)
	}
}

func TestCloseSendsGoingAway(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	if err := b.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.Next(ctx)
	if code, closed := IsClosed(err); !closed || code != websocket.CloseGoingAway {
		t.Errorf("after Close got %v, want close code 1001", err)
	}
	if _, err := Dial(ctx, b.ts.URL, b.shop.WidgetKey, DialOptions{}); err == nil {
		t.Error("dial after Close succeeded")
	}
}

func TestMetricsCountSocketsAndFrames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dial(t, DialOptions{})
	if _, err := c.Send(testContext(t), "Hi"); err != nil {
		t.Fatal(err)
	}
	untilFinal(t, c, 1)

	if got := testutil.ToFloat64(b.srv.metrics.open); got != 1 {
		t.Errorf("open sockets = %v, want 1", got)
	}
	if got := testutil.ToFloat64(b.srv.metrics.framesIn.WithLabelValues(FrameMessage)); got != 1 {
		t.Errorf("message frames in = %v, want 1", got)
	}
	// A delta that joins the one waiting before it is counted as merged,
	// not as a frame of its own.
	deltasOut := testutil.ToFloat64(b.srv.metrics.framesOut.WithLabelValues(FrameDelta))
	merged := testutil.ToFloat64(b.srv.metrics.deltasMerged)
	if deltasOut < 1 {
		t.Errorf("delta frames out = %v, want at least 1", deltasOut)
	}
	if deltasOut+merged != 2 {
		t.Errorf("delta frames out = %v and merged = %v, want 2 deltas in all", deltasOut, merged)
	}
	n, err := testutil.GatherAndCount(b.registry, "salesagent_web_sockets_open", "salesagent_web_frames_sent_total")
	if err != nil || n < 2 {
		t.Errorf("registry has %d of the channel's series (err %v)", n, err)
	}

	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(b.srv.metrics.open) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("open sockets gauge did not fall to 0 after the client left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSlowClientIsDropped(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.SendQueue = 4 })

	// A client that says hello and then stops reading.
	conn := b.rawDial(t, "")
	hello, _ := json.Marshal(HelloFrame{Type: FrameHello, ShopKey: b.shop.WidgetKey})
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, conn); f.Type != FrameWelcome {
		t.Fatalf("got %s, want welcome", f.Raw)
	}
	var sock *socket
	b.srv.mu.Lock()
	for s := range b.srv.sockets {
		sock = s
	}
	b.srv.mu.Unlock()

	// Large frames fill the kernel's socket buffers, then the writer blocks
	// and the queue fills up.
	big := DeltaFrame{Type: FrameDelta, Turn: 1, Text: strings.Repeat("x", 256<<10)}
	for i := 0; i < 400 && testutil.ToFloat64(b.srv.metrics.slowDropped) == 0; i++ {
		sock.send(FrameDelta, big)
	}
	if got := testutil.ToFloat64(b.srv.metrics.slowDropped); got != 1 {
		t.Fatalf("slow clients dropped = %v, want 1", got)
	}

	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(b.srv.metrics.open) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("dropped socket is still counted as open")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seqs(msgs []salesagent.Message) string {
	parts := make([]string, len(msgs))
	for i, m := range msgs {
		parts[i] = strconv.Itoa(m.Seq)
	}
	return strings.Join(parts, ",")
}

// syncBuffer is a bytes.Buffer safe for a logger's writes from many
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestCloseWarnsOnlyWhenTurnsAreCancelled(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	quiet := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.Logger = logger })
	quiet.dial(t, DialOptions{})

	// With no turn running, even a context that has already ended cancels
	// no turn. The open socket may still be closing, which Close may
	// report, so only the turns are checked.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := quiet.srv.Close(expired); err != nil && strings.Contains(err.Error(), "turn") {
		t.Errorf("close with no running turn: %v", err)
	}
	if strings.Contains(logs.String(), "cancelling running turns") {
		t.Errorf("close with no running turn warned:\n%s", logs.String())
	}

	var busyLogs syncBuffer
	busy := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.Logger = slog.New(slog.NewTextHandler(&busyLogs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	busy.agent.hold = make(chan struct{})
	c := busy.dial(t, DialOptions{})
	if _, err := c.Send(testContext(t), "Hello?"); err != nil {
		t.Fatal(err)
	}
	busy.waitTurn(t)
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	err := busy.srv.Close(short)
	if err == nil || !strings.Contains(err.Error(), "1 running turn(s) cancelled") {
		t.Errorf("close with a held turn: %v, want an error counting 1 running turn", err)
	}
	if !strings.Contains(busyLogs.String(), "cancelling running turns") || !strings.Contains(busyLogs.String(), "turns=1") {
		t.Errorf("close with a held turn logged:\n%s\nwant a warning about 1 cancelled turn", busyLogs.String())
	}
}

// TestMessageToDeletedShopEndsTheChat deletes the shop while its widget is
// connected. The next message must get a fatal error asking to reload,
// without internal ids, so that the shopper does not retry forever.
func TestMessageToDeletedShopEndsTheChat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dial(t, DialOptions{})
	ctx := testContext(t)

	if err := b.db.DeleteShop(ctx, b.shop.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, "Are you there?"); err != nil {
		t.Fatal(err)
	}
	f := next(t, c)
	if f.Type != FrameError || !f.Fatal || !strings.Contains(f.ErrorMessage, "no longer available") || strings.Contains(f.ErrorMessage, "conversation") {
		t.Errorf("message to a deleted shop answered %s, want a fatal error saying the chat is no longer available", f.Raw)
	}
}

func TestHelloDatabaseFailureAsksToReconnect(t *testing.T) {
	t.Parallel()
	private, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.DB = private })
	// A closed pool fails every query, as a database that went away does.
	private.Pool.Close()

	conn := b.rawDial(t, "")
	hello, _ := json.Marshal(HelloFrame{Type: FrameHello, ShopKey: b.shop.WidgetKey})
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := conn.ReadMessage()
	if err == nil {
		t.Fatalf("got frame %s, want the socket closed without a fatal error frame", data)
	}
	if !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
		t.Errorf("read after hello: %v, want close 1013 (try again later)", err)
	}
}

func TestTabsOfOneConversationTakeTurns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hold := make(chan struct{})
	b.agent.mu.Lock()
	b.agent.hold = hold
	b.agent.mu.Unlock()
	tab1 := b.dial(t, DialOptions{})
	tab2 := b.dial(t, DialOptions{VisitorToken: tab1.Welcome.VisitorToken})
	ctx := testContext(t)

	if _, err := tab1.Send(ctx, "Is the cap back in stock?"); err != nil {
		t.Fatal(err)
	}
	first := b.waitTurn(t)
	if _, err := tab2.Send(ctx, "And in red?"); err != nil {
		t.Fatal(err)
	}
	select {
	case call := <-b.agent.started:
		t.Fatalf("turn for %q started while the turn for %q still ran", call.msg.Body, first.msg.Body)
	case <-time.After(300 * time.Millisecond):
	}

	close(hold)
	second := b.waitTurn(t)
	if first.msg.Seq != 1 || second.msg.Seq != 2 {
		t.Errorf("turns ran for seqs %d then %d, want 1 then 2", first.msg.Seq, second.msg.Seq)
	}
	untilFinal(t, tab2, 2)
}
