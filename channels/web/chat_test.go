package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
)

func TestRunChatOneMessageJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{
		Server:  b.ts.URL,
		Shop:    b.shop.Slug,
		Product: "trail-tee",
		Cart:    []salesagent.CartItem{{SKU: "TEE-M", Quantity: 1}},
		Message: "What size for a 98 cm chest?",
		JSON:    true,
		Out:     &out,
	})
	if err != nil {
		t.Fatal(err)
	}

	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var frame struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &frame); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", line, err)
		}
		types = append(types, frame.Type)
	}
	// The fake agent's two deltas may arrive joined into one frame.
	if got, want := collapse(types), "welcome,ack,delta,tool,card,message"; got != want {
		t.Errorf("printed frames %v collapse to %s, want %s", types, got, want)
	}
	call := b.waitTurn(t)
	if call.page.ProductHandle != "trail-tee" || len(call.page.Cart) != 1 {
		t.Errorf("page context = %+v, want the product and cart given", call.page)
	}
}

func TestRunChatOneMessageText(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.WidgetKey, Message: "Sizes?", Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	assertContains(t, "chat output", text,
		"agent: "+answerPart1+answerPart2,
		"[size_guide] Tees size guide",
		"Size  Chest (cm)  Length (cm)",
		"M     96-101      72",
		"[tool send_size_guide ok: Sent the tees size guide]",
		"sources: Tees size guide",
	)
	if strings.Count(text, answerPart2) != 1 {
		t.Errorf("the answer is printed %d times, want once:\n%s", strings.Count(text, answerPart2), text)
	}
}

func TestRunChatREPL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{
		Server: b.ts.URL,
		Shop:   b.shop.Slug,
		In:     strings.NewReader("Hello\n\nDo you have L?\n"),
		Out:    &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	assertContains(t, "REPL output", text, "Connected to "+b.shop.Name, "--visitor vt_", "/quit")
	if n := strings.Count(text, "agent: "); n != 2 {
		t.Errorf("REPL printed %d answers, want 2:\n%s", n, text)
	}
	if n := b.agent.callCount(); n != 2 {
		t.Errorf("agent ran %d turns, want 2 (the blank line sends nothing)", n)
	}

	// A second session with the printed token shows the history.
	token := strings.Fields(text[strings.Index(text, "--visitor ")+len("--visitor "):])[0]
	out.Reset()
	err = RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Visitor: token, In: strings.NewReader("/quit\n"), Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	assertContains(t, "resumed REPL", out.String(), "shopper: Hello", "shopper: Do you have L?")
}

func TestRunChatRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := RunChat(testContext(t), ChatOptions{Server: "ftp://example", Shop: "x", Message: "hi"})
	if err == nil || !strings.Contains(err.Error(), "invalid server URL") {
		t.Errorf("bad server URL: %v", err)
	}
	err = RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: "Not A Slug", Message: "hi"})
	if err == nil || !strings.Contains(err.Error(), "invalid shop") {
		t.Errorf("bad shop: %v", err)
	}
}

func TestRunChatRejectsEmptyMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, text := range []string{"", "   "} {
		var out bytes.Buffer
		err := RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Message: text, MessageSet: true, In: strings.NewReader("Hello\n"), Out: &out})
		if salesagent.ErrorCode(err) != salesagent.EINVALID {
			t.Errorf("message %q: error %v, want invalid", text, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--message is empty") {
			t.Errorf("message %q: error %q does not name the empty --message", text, err)
		}
		// The caller prints the returned error, so RunChat prints nothing.
		if out.Len() != 0 {
			t.Errorf("message %q: printed %q, want nothing", text, out.String())
		}
	}
	if n := b.agent.callCount(); n != 0 {
		t.Errorf("agent ran %d turns, want 0", n)
	}
}

func TestRunChatExplainsUnreachableServer(t *testing.T) {
	t.Parallel()

	// A port that was just open and is closed now refuses connections.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := "http://" + listener.Addr().String()
	listener.Close()

	for _, shop := range []string{"demo", "pk_test"} {
		err := RunChat(testContext(t), ChatOptions{Server: server, Shop: shop, Message: "hi"})
		if err == nil {
			t.Fatalf("shop %s: chat with a closed port succeeded", shop)
		}
		for _, want := range []string{"the server at " + server + " is not reachable", "salesagent serve", "make demo", "--server"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("shop %s: error %q lacks %q", shop, err, want)
			}
		}
	}
}

func TestRunChatExplainsUnknownShop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, shop := range []string{"no-such-shop", "pk_nosuchkey"} {
		err := RunChat(testContext(t), ChatOptions{Server: b.ts.URL + "/", Shop: shop, Message: "hi"})
		want := fmt.Sprintf("shop %q not found on %s: check --shop (shops are listed at %s/)", shop, b.ts.URL, b.ts.URL)
		if err == nil || err.Error() != want {
			t.Errorf("shop %s: error %v, want %q", shop, err, want)
		}
		if salesagent.ErrorCode(err) != salesagent.ENOTFOUND {
			t.Errorf("shop %s: code %q, want not_found", shop, salesagent.ErrorCode(err))
		}
	}
}

func TestRunChatResendsRateLimitedLines(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.RateLimit = RateLimit{Burst: 2, Every: 300 * time.Millisecond}
	})
	lines := []string{"one", "two", "three", "four", "five"}
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{
		Server: b.ts.URL,
		Shop:   b.shop.Slug,
		In:     strings.NewReader(strings.Join(lines, "\n") + "\n"),
		Out:    &out,
	})
	if err != nil {
		t.Fatal(err)
	}

	text := out.String()
	if n := strings.Count(text, "agent: "); n != len(lines) {
		t.Errorf("printed %d answers, want %d:\n%s", n, len(lines), text)
	}
	if strings.Contains(text, "error (") {
		t.Errorf("output shows an error, want every limited line resent:\n%s", text)
	}
	if !strings.Contains(text, "resending in") {
		t.Errorf("output lacks the resend note; the limit was never hit:\n%s", text)
	}
	assertShopperMessages(t, b, lines)
}

func TestRunChatPipedLinesStayUnderFrameLimit(t *testing.T) {
	t.Parallel()
	// A loose visitor limit leaves the per-socket frame limit as the only
	// one that 30 quick turns could trip.
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.RateLimit = RateLimit{Burst: 100, Every: time.Millisecond}
	})
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("question %d", i+1))
	}
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{
		Server: b.ts.URL,
		Shop:   b.shop.Slug,
		In:     strings.NewReader(strings.Join(lines, "\n")),
		Out:    &out,
	})
	if err != nil {
		t.Fatalf("chat failed: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "agent: "); n != len(lines) {
		t.Errorf("printed %d answers, want %d", n, len(lines))
	}
	assertShopperMessages(t, b, lines)
}

func TestRunChatMessageRetriesRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.RateLimit = RateLimit{Burst: 1, Every: 500 * time.Millisecond}
	})
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Message: "First", JSON: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	welcome, err := DecodeServerFrame([]byte(strings.SplitN(out.String(), "\n", 2)[0]))
	if err != nil || welcome.VisitorToken == "" {
		t.Fatalf("first line %q is no welcome with a visitor token: %v", out.String(), err)
	}

	// The visitor's bucket is empty, so the second message is limited
	// once and then resent.
	out.Reset()
	err = RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Visitor: welcome.VisitorToken, Message: "Second", JSON: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"type":"error"`) {
		t.Errorf("JSON output shows the handled rate_limited error:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"type":"ack"`) || !strings.Contains(out.String(), `"reply_to":3`) {
		t.Errorf("JSON output lacks the ack and the answer of the resent message:\n%s", out.String())
	}

	out.Reset()
	err = RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Visitor: welcome.VisitorToken, Message: "Third", Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	assertContains(t, "text output", out.String(), "resending in", "agent: "+answerPart1+answerPart2)
	assertShopperMessages(t, b, []string{"First", "Second", "Third"})
}

func TestRunChatMessageRetryStopsAtTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.RateLimit = RateLimit{Burst: 1, Every: time.Hour}
	})
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Message: "First", JSON: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	welcome, err := DecodeServerFrame([]byte(strings.SplitN(out.String(), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	err = RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Visitor: welcome.VisitorToken, Message: "Second", Timeout: 500 * time.Millisecond, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "resend the rate-limited message") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a timed-out wait to resend", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("gave up after %s, want about the 500ms timeout", elapsed)
	}
}

func TestOutgoingObserve(t *testing.T) {
	t.Parallel()
	msg := &outgoing{frame: MessageFrame{ClientID: "c1", Text: "hi"}}
	limited := ServerFrame{Type: FrameError, Code: salesagent.ERATELIMITED, ClientID: "c1", RetryAfterMS: 1500}

	for i := range maxRateLimitedResends {
		state, wait, err := msg.observe(limited)
		if state != turnResend || wait != 1500*time.Millisecond+retryMargin || err != nil {
			t.Fatalf("rate_limited %d: %v, %s, %v, want a resend after 1.6s", i+1, state, wait, err)
		}
	}
	if state, _, err := msg.observe(limited); state != turnDone || salesagent.ErrorCode(err) != salesagent.ERATELIMITED {
		t.Errorf("rate_limited after %d resends: %v, %v, want done with the error", maxRateLimitedResends, state, err)
	}

	// An error without client_id ends the wait for an unacknowledged
	// message, because it is the only one in flight.
	fresh := &outgoing{frame: MessageFrame{ClientID: "c2"}}
	if state, _, err := fresh.observe(ServerFrame{Type: FrameError, Code: salesagent.ETOOLARGE}); state != turnDone || salesagent.ErrorCode(err) != salesagent.ETOOLARGE {
		t.Errorf("too_large without client_id: %v, %v, want done with too_large", state, err)
	}

	acked := &outgoing{frame: MessageFrame{ClientID: "c3"}}
	steps := []struct {
		frame ServerFrame
		want  turnState
	}{
		{ServerFrame{Type: FrameAck, ClientID: "other", Seq: 4}, turnWaiting},
		{ServerFrame{Type: FrameAck, ClientID: "c3", Seq: 5}, turnWaiting},
		{ServerFrame{Type: FrameError, Code: salesagent.EINVALID}, turnWaiting},
		{ServerFrame{Type: FrameDelta, Turn: 5, Text: "x"}, turnWaiting},
		{ServerFrame{Type: FrameMessage, Message: &salesagent.Message{Seq: 6, ReplyTo: 4}}, turnWaiting},
		{ServerFrame{Type: FrameMessage, Turn: 5, Message: &salesagent.Message{Seq: 7, ReplyTo: 5}}, turnDone},
	}
	for i, step := range steps {
		if state, _, _ := acked.observe(step.frame); state != step.want {
			t.Errorf("step %d (%s): state %v, want %v", i+1, step.frame.Type, state, step.want)
		}
	}

	// A held frame of the message's turn ends it; one of another turn does
	// not.
	held := &outgoing{frame: MessageFrame{ClientID: "c4"}}
	for i, step := range []struct {
		frame ServerFrame
		want  turnState
	}{
		{ServerFrame{Type: FrameAck, ClientID: "c4", Seq: 8}, turnWaiting},
		{ServerFrame{Type: FrameHeld, Turn: 3}, turnWaiting},
		{ServerFrame{Type: FrameHeld, Turn: 8}, turnDone},
	} {
		if state, _, _ := held.observe(step.frame); state != step.want {
			t.Errorf("held step %d: state %v, want %v", i+1, state, step.want)
		}
	}
	if retryWait(0) != time.Second || retryWait(int64(time.Hour/time.Millisecond)) != maxRetryWait {
		t.Errorf("retryWait(0) = %s, retryWait(1h) = %s, want 1s and %s", retryWait(0), retryWait(int64(time.Hour/time.Millisecond)), maxRetryWait)
	}
}

// assertShopperMessages checks that the shop stores the shopper messages
// want, once each and in order.
func assertShopperMessages(t *testing.T, b *bundle, want []string) {
	t.Helper()
	ctx := testContext(t)
	var got []string
	rows, err := b.db.Pool.Query(ctx,
		`SELECT body FROM messages WHERE shop_id = $1 AND role = 'shopper' ORDER BY conversation_id, seq`, b.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		got = append(got, body)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("stored shopper messages %q, want %q", got, want)
	}
}

func TestParseCart(t *testing.T) {
	t.Parallel()
	items, err := ParseCart("TEE-M:2, CAP-1 ,")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0] != (salesagent.CartItem{SKU: "TEE-M", Quantity: 2}) || items[1] != (salesagent.CartItem{SKU: "CAP-1", Quantity: 1}) {
		t.Errorf("items = %+v", items)
	}
	for _, bad := range []string{"TEE-M:0", "TEE-M:x", ":2", "TEE-M:1000"} {
		if _, err := ParseCart(bad); err == nil || !strings.Contains(err.Error(), "invalid cart line") {
			t.Errorf("ParseCart(%q) = %v, want an invalid cart line error", bad, err)
		}
	}
}
