package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/internal/browsertest"
	"github.com/salesagent/salesagent/internal/openaitest"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// Short names for the shared browser helpers.
const (
	widgetRoot    = browsertest.WidgetRoot
	launcherPath  = browsertest.LauncherPath
	inputPath     = browsertest.InputPath
	widgetMounted = browsertest.WidgetMounted
)

var (
	newBrowser = browsertest.New
	poll       = browsertest.Poll
)

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return browsertest.Eval[T](t, ctx, expr)
}

func TestBrowserWidgetStreamsSizeGuide(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hold := make(chan struct{})
	b.agent.hold = hold
	ctx := newBrowser(t)
	productURL := b.ts.URL + "/shop/" + b.shop.Slug + "/products/trail-tee"

	// Put the selected size in the cart, then open the chat and ask.
	err := chromedp.Do(ctx,
		chromedp.Navigate(productURL),
		chromedp.WaitVisible(chromedp.ID("add")),
		chromedp.Click(chromedp.ID("add")),
		poll(`document.getElementById("added").textContent !== ""`),
		poll(widgetMounted),
		chromedp.Click(chromedp.JSPath(launcherPath)),
		poll(widgetRoot+`.activeElement && `+widgetRoot+`.activeElement.id === "sa-input"`),
		chromedp.SendKeys(chromedp.JSPath(inputPath), "Which size fits a 98 cm chest?"),
		chromedp.KeyEvent(kb.Enter),
	)
	if err != nil {
		t.Fatalf("open the widget and send: %v", err)
	}

	// The first part of the reply shows while the turn still runs.
	call := b.waitTurn(t)
	err = chromedp.Do(ctx, poll(widgetRoot+`.querySelector(".msg.agent.streaming .text") && `+
		widgetRoot+`.querySelector(".msg.agent.streaming .text").textContent === `+jsString(answerPart1)))
	if err != nil {
		t.Fatalf("first delta never appeared: %v", err)
	}
	if busy := eval[string](t, ctx, widgetRoot+`.querySelector(".log").getAttribute("aria-busy")`); busy != "true" {
		t.Errorf("log aria-busy while streaming = %q, want true", busy)
	}
	if call.page.ProductHandle != "trail-tee" || call.page.SKU != "TEE-M" {
		t.Errorf("page context = %+v, want trail-tee and the selected SKU TEE-M", call.page)
	}
	if len(call.page.Cart) != 1 || call.page.Cart[0].SKU != "TEE-M" || call.page.Cart[0].Quantity != 1 {
		t.Errorf("cart sent = %+v, want one TEE-M from localStorage", call.page.Cart)
	}
	close(hold)

	if err := chromedp.Do(ctx, poll(widgetRoot+`.querySelector(".msg.agent:not(.streaming) table")`)); err != nil {
		t.Fatalf("final answer never appeared: %v", err)
	}
	if answer := eval[string](t, ctx, widgetRoot+`.querySelector(".msg.agent .text").textContent`); answer != answerPart1+answerPart2 {
		t.Errorf("answer = %q", answer)
	}
	colHeads := eval[int](t, ctx, widgetRoot+`.querySelectorAll(".msg.agent table thead th[scope=col]").length`)
	rowHeads := eval[int](t, ctx, widgetRoot+`.querySelectorAll(".msg.agent table tbody th[scope=row]").length`)
	caption := eval[string](t, ctx, widgetRoot+`.querySelector(".msg.agent table caption").textContent`)
	if colHeads != 3 || rowHeads != 3 || caption != sizeGuideCard.Title {
		t.Errorf("size guide table has %d column heads, %d row heads, caption %q", colHeads, rowHeads, caption)
	}
	if busy := eval[string](t, ctx, widgetRoot+`.querySelector(".log").getAttribute("aria-busy")`); busy != "false" {
		t.Errorf("log aria-busy after the answer = %q, want false", busy)
	}
	if role := eval[string](t, ctx, widgetRoot+`.querySelector("#sa-dialog").getAttribute("role")`); role != "dialog" {
		t.Errorf("dialog role = %q", role)
	}
	if live := eval[string](t, ctx, widgetRoot+`.querySelector(".log").getAttribute("aria-live")`); live != "polite" {
		t.Errorf("log aria-live = %q", live)
	}
	if label := eval[string](t, ctx, widgetRoot+`.querySelector("label[for=sa-input]").textContent`); label == "" {
		t.Error("message input has no label")
	}
	saved := eval[map[string]any](t, ctx, `JSON.parse(localStorage.getItem("salesagent:`+b.shop.WidgetKey+`"))`)
	if saved["last_seq"] != float64(2) || saved["visitor_token"] == "" {
		t.Errorf("saved state = %v, want last_seq 2 and a visitor token", saved)
	}

	// Escape closes the dialog and gives focus back to the launcher.
	err = chromedp.Do(ctx,
		chromedp.Focus(chromedp.JSPath(inputPath)),
		chromedp.KeyEvent(kb.Escape),
		poll(widgetRoot+`.querySelector("#sa-dialog").hidden`),
	)
	if err != nil {
		t.Fatalf("escape: %v", err)
	}
	if !eval[bool](t, ctx, widgetRoot+`.activeElement === `+launcherPath) {
		t.Error("focus did not return to the launcher after Escape")
	}

	// After a reload the widget shows the kept messages and resumes without
	// duplicating them.
	err = chromedp.Do(ctx,
		chromedp.Reload(),
		poll(widgetMounted),
		chromedp.Click(chromedp.JSPath(launcherPath)),
		poll(widgetRoot+`.querySelector(".status").textContent === ""`),
		chromedp.Sleep(300*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if n := eval[int](t, ctx, widgetRoot+`.querySelectorAll(".msg").length`); n != 2 {
		t.Errorf("%d messages after reload, want 2", n)
	}
	if n := b.agent.callCount(); n != 1 {
		t.Errorf("agent ran %d turns, want 1", n)
	}
}

func TestBrowserWidgetFullScreenOnPhone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := newBrowser(t)

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile),
		chromedp.Navigate(b.ts.URL+"/shop/"+b.shop.Slug),
		poll(widgetMounted),
		chromedp.Click(chromedp.JSPath(launcherPath)),
		poll(`!`+widgetRoot+`.querySelector("#sa-dialog").hidden`),
	)
	if err != nil {
		t.Fatal(err)
	}
	width := eval[float64](t, ctx, widgetRoot+`.querySelector("#sa-dialog").getBoundingClientRect().width`)
	height := eval[float64](t, ctx, widgetRoot+`.querySelector("#sa-dialog").getBoundingClientRect().height`)
	viewportWidth := eval[float64](t, ctx, `window.innerWidth`)
	viewportHeight := eval[float64](t, ctx, `window.innerHeight`)
	if width != viewportWidth || height != viewportHeight {
		t.Errorf("dialog is %vx%v on a %vx%v phone screen, want full screen", width, height, viewportWidth, viewportHeight)
	}
	if eval[string](t, ctx, `getComputedStyle(`+launcherPath+`).display`) != "none" {
		t.Error("launcher still shows over the full-screen dialog")
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return fmt.Sprintf("%q", s)
}

// typeAndSend puts text in the widget's input and presses Enter.
func typeAndSend(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		browsertest.Exec(inputPath+`.value = `+jsString(text)),
		chromedp.Focus(chromedp.JSPath(inputPath)),
		chromedp.KeyEvent(kb.Enter),
	)
}

// openWidget loads the shop's grid page and opens the chat.
func openWidget(b *bundle) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(b.ts.URL+"/shop/"+b.shop.Slug),
		poll(widgetMounted),
		chromedp.Click(chromedp.JSPath(launcherPath)),
		poll(widgetRoot+`.querySelector(".status").textContent === ""`),
	)
}

func TestBrowserWidgetShowsTurnErrorInLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const message = "The assistant is unavailable right now. Please ask again in a minute."
	b.agent.fail = salesagent.Errorf(salesagent.EUNAVAILABLE, message)
	ctx := newBrowser(t)

	err := chromedp.Do(ctx,
		openWidget(b),
		typeAndSend("Do you ship to Norway?"),
		poll(widgetRoot+`.querySelector(".log .notice.error")`),
	)
	if err != nil {
		t.Fatalf("the turn's error never showed: %v", err)
	}
	if got := eval[string](t, ctx, widgetRoot+`.querySelector(".log .notice.error").textContent`); got != message {
		t.Errorf("error notice = %q, want %q", got, message)
	}
	live := eval[string](t, ctx, widgetRoot+`.querySelector(".notice.error").closest("[aria-live]").getAttribute("aria-live")`)
	if live != "polite" {
		t.Errorf("the error notice sits in a region with aria-live %q, want polite", live)
	}
	if busy := eval[string](t, ctx, widgetRoot+`.querySelector(".log").getAttribute("aria-busy")`); busy != "false" {
		t.Errorf("log aria-busy after the failed turn = %q, want false", busy)
	}
}

func TestBrowserWidgetSendsRateLimitedMessagesInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) {
		cfg.RateLimit = RateLimit{Burst: 1, Every: 700 * time.Millisecond}
	})
	ctx := newBrowser(t)

	lines := []string{"first", "second", "third"}
	steps := []chromedp.Action[chromedp.Void]{openWidget(b)}
	for _, line := range lines {
		steps = append(steps, typeAndSend(line))
	}
	steps = append(steps, poll(widgetRoot+`.querySelectorAll(".msg.agent:not(.streaming)").length === 3`))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("three answers never arrived: %v", err)
	}

	assertShopperMessages(t, b, lines)
	if n := eval[int](t, ctx, widgetRoot+`.querySelectorAll(".msg.shopper.failed, .msg.shopper.pending").length`); n != 0 {
		t.Errorf("%d shopper messages still marked failed or pending", n)
	}
	notices := eval[[]string](t, ctx, `Array.from(`+widgetRoot+`.querySelectorAll(".log .notice.error"), n => n.textContent)`)
	if len(notices) == 0 || !strings.Contains(notices[0], "too quickly") {
		t.Errorf("error notices %q, want the rate_limited message in the log", notices)
	}
}

func TestBrowserWidgetMarksOversizedMessageNotSent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *Config, _ *salesagent.Shop) { cfg.MaxFrameBytes = 600 })
	ctx := newBrowser(t)

	// Put the text before client_id in every message frame, so that the
	// server finds no client_id in an oversized frame and the widget has to
	// work out which message the error is about. The socket is open by
	// then, and send is looked up on the prototype at each call.
	reorder := `(function () {
		var send = WebSocket.prototype.send;
		WebSocket.prototype.send = function (data) {
			var f = JSON.parse(data);
			if (f.type === "message") {
				data = JSON.stringify({ type: f.type, text: f.text, client_id: f.client_id, page: f.page, cart: f.cart });
			}
			return send.call(this, data);
		};
	})();`
	long := strings.Repeat("Does this come in other colours? ", 20)
	err := chromedp.Do(ctx,
		openWidget(b),
		browsertest.Exec(reorder),
		typeAndSend(long),
		poll(widgetRoot+`.querySelector(".msg.shopper.failed .edit")`),
	)
	if err != nil {
		t.Fatalf("the oversized message was never marked: %v", err)
	}
	state := eval[string](t, ctx, widgetRoot+`.querySelector(".msg.shopper.failed .state").textContent`)
	if !strings.HasPrefix(state, "Not sent: ") || !strings.Contains(state, "600 bytes") {
		t.Errorf("failed message note = %q, want Not sent with the server's message", state)
	}

	// Edit puts the text back in the input, and the next message goes out.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.JSPath(widgetRoot+`.querySelector(".msg.shopper.failed .edit")`)),
		poll(`!`+widgetRoot+`.querySelector(".msg.shopper.failed")`),
	)
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	if got := eval[string](t, ctx, inputPath+`.value`); got != strings.TrimSpace(long) {
		t.Errorf("input after edit = %q, want the message's text", got)
	}
	err = chromedp.Do(ctx,
		typeAndSend("Other colours?"),
		poll(widgetRoot+`.querySelector(".msg.agent:not(.streaming)")`),
	)
	if err != nil {
		t.Fatalf("the next message got no answer: %v", err)
	}
	assertShopperMessages(t, b, []string{"Other colours?"})
}

// gatedTurns runs turns on another TurnRunner and holds a turn at its
// replace events twice: before an event goes to the socket until
// releaseBefore, and after it has gone until releaseAfter. A test can look
// at the page in both states. replaced receives each event's text.
type gatedTurns struct {
	TurnRunner
	before, after           chan struct{}
	closeBefore, closeAfter sync.Once
	replaced                chan string
}

func newGatedTurns(runner TurnRunner) *gatedTurns {
	return &gatedTurns{TurnRunner: runner, before: make(chan struct{}), after: make(chan struct{}), replaced: make(chan string, 10)}
}

func (g *gatedTurns) releaseBefore() { g.closeBefore.Do(func() { close(g.before) }) }
func (g *gatedTurns) releaseAfter()  { g.closeAfter.Do(func() { close(g.after) }) }

// releaseAll opens both gates, so that a failed test does not hold the
// server's shutdown.
func (g *gatedTurns) releaseAll() {
	g.releaseBefore()
	g.releaseAfter()
}

func (g *gatedTurns) HandleMessage(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation, msg salesagent.Message, page agent.PageContext, out agent.Emitter) (salesagent.Message, error) {
	return g.TurnRunner.HandleMessage(ctx, shop, conv, msg, page, &gatedEmitter{gate: g, out: out})
}

type gatedEmitter struct {
	gate *gatedTurns
	out  agent.Emitter
}

func (e *gatedEmitter) Emit(ctx context.Context, event agent.StreamEvent) error {
	if event.Type != agent.StreamReplace {
		return e.out.Emit(ctx, event)
	}
	if err := waitClosed(ctx, e.gate.before); err != nil {
		return err
	}
	err := e.out.Emit(ctx, event)
	e.gate.replaced <- event.Text
	if err != nil {
		return err
	}
	return waitClosed(ctx, e.gate.after)
}

func waitClosed(ctx context.Context, gate chan struct{}) error {
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestBrowserWidgetReplacesCorrectedLLMText(t *testing.T) {
	t.Parallel()
	var gate *gatedTurns
	ab := setupAgent(t, func(cfg *Config, _ *salesagent.Shop) {
		gate = newGatedTurns(cfg.Turns)
		cfg.Turns = gate
	})
	// Cleanups run last first, so the gates open before the server closes.
	t.Cleanup(gate.releaseAll)
	// The model's reply ends with a price that the shop's facts do not
	// hold, so the grounding guard removes that sentence, one of three.
	const invented = " Today it costs $19.99."
	ab.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		if _, called := req.ToolResult("send_size_guide"); !called {
			return []openaitest.Action{
				openaitest.Text("Let me pull up the size guide."),
				openaitest.CallTool("send_size_guide", `{"product": "trail-tee"}`),
			}
		}
		return []openaitest.Action{openaitest.Text("For a 98 cm chest, take the M." + invented)}
	})
	ctx := newBrowser(t)
	streamingText := widgetRoot + `.querySelector(".msg.agent.streaming .text")`

	// The model's text streams in whole, invented price included.
	err := chromedp.Do(ctx,
		openWidget(ab.bundle),
		typeAndSend("Which size of the Trail Tee fits a 98 cm chest?"),
		poll(streamingText+` && `+streamingText+`.textContent.endsWith(`+jsString(invented)+`)`),
	)
	if err != nil {
		t.Fatalf("the streamed answer never appeared: %v", err)
	}
	if got := eval[string](t, ctx, streamingText+`.textContent`); !strings.HasPrefix(got, "Let me pull up the size guide. For a 98 cm chest") {
		t.Errorf("streamed text = %q, want both rounds of the model's text", got)
	}
	if tool := eval[string](t, ctx, widgetRoot+`.querySelector(".msg.agent.streaming .tool").textContent`); tool == "" {
		t.Error("the send_size_guide call shows no summary while the answer streams")
	}

	// The replace frame swaps the text while the turn still streams.
	gate.releaseBefore()
	var corrected string
	select {
	case corrected = <-gate.replaced:
	case <-time.After(10 * time.Second):
		t.Fatal("the turn sent no replace event")
	}
	if corrected != "Let me pull up the size guide. For a 98 cm chest, take the M." {
		t.Errorf("replacement = %q, want the answer without the invented price", corrected)
	}
	if err := chromedp.Do(ctx, poll(streamingText+`.textContent === `+jsString(corrected))); err != nil {
		t.Fatalf("the streamed text was not replaced: %v", err)
	}
	if n := eval[int](t, ctx, widgetRoot+`.querySelectorAll(".msg.agent").length`); n != 1 {
		t.Errorf("%d agent bubbles after the replace, want the streaming one only", n)
	}

	// The size guide card and the stored reply follow.
	gate.releaseAfter()
	if err := chromedp.Do(ctx, poll(widgetRoot+`.querySelector(".msg.agent:not(.streaming) table")`)); err != nil {
		t.Fatalf("the final answer never appeared: %v", err)
	}
	if got := eval[string](t, ctx, widgetRoot+`.querySelector(".msg.agent .text").textContent`); got != corrected {
		t.Errorf("final text = %q, want the replacement %q", got, corrected)
	}
	if caption := eval[string](t, ctx, widgetRoot+`.querySelector(".msg.agent table caption").textContent`); caption != sizeGuideCard.Title {
		t.Errorf("size guide caption = %q, want %q", caption, sizeGuideCard.Title)
	}
	if rows := eval[int](t, ctx, widgetRoot+`.querySelectorAll(".msg.agent table tbody tr").length`); rows != len(sizeGuideCard.Table.Rows) {
		t.Errorf("size guide has %d rows, want %d", rows, len(sizeGuideCard.Table.Rows))
	}
}

func TestBrowserWidgetShowsDiscountCard(t *testing.T) {
	t.Parallel()
	ab := setupAgent(t, allowDiscounts)
	ab.fake.Chat(discountScript)
	ctx := newBrowser(t)
	card := widgetRoot + `.querySelector(".msg.agent:not(.streaming) .card-discount")`

	err := chromedp.Do(ctx,
		openWidget(ab.bundle),
		typeAndSend("Can I get a discount on my first order?"),
		poll(card),
	)
	if err != nil {
		t.Fatalf("the discount card never appeared: %v", err)
	}
	title := eval[string](t, ctx, card+`.querySelector(".card-title").textContent`)
	code := eval[string](t, ctx, card+`.querySelector(".discount-code code").textContent`)
	percent := eval[string](t, ctx, card+`.querySelector(".discount-percent").textContent`)
	if title != "Discount code" || !discountCode.MatchString(code) || percent != "10% off" {
		t.Errorf("discount card shows title %q, code %q, percentage %q; want Discount code, a SAVE- code and 10%% off", title, code, percent)
	}
	if text := eval[string](t, ctx, card+`.querySelector(".card-text").textContent`); !strings.Contains(text, code) {
		t.Errorf("card text = %q, want the tool's sentence naming %s", text, code)
	}
	if n := eval[int](t, ctx, card+`.querySelectorAll(".fields dt").length`); n != 0 {
		t.Errorf("the card lists %d fields, want the code and percentage shown once, not again as fields", n)
	}
}

// TestBrowserWidgetKeepsOrderAfterReconnect takes the server away while
// the shopper types, and stores a notice meanwhile, as another server
// process would. Then a new server comes up. The replayed notice must show
// above the message that waited to be sent, as the conversation has them.
func TestBrowserWidgetKeepsOrderAfterReconnect(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	shop := newShop(t, db)
	fake := newFakeAgent(db)
	start := func() (*Server, http.Handler) {
		srv := New(Config{DB: db, Turns: fake, Logger: testLogger(), Metrics: prometheus.NewRegistry()})
		mux := http.NewServeMux()
		srv.Register(mux)
		return srv, mux
	}
	var current atomic.Pointer[http.Handler]
	serve := func(h http.Handler) { current.Store(&h) }
	first, firstMux := start()
	serve(firstMux)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	b := &bundle{db: db, shop: shop, agent: fake, srv: first, ts: ts}
	ctx := newBrowser(t)

	if err := chromedp.Do(ctx, openWidget(b), typeAndSend("Where do you ship from?"),
		poll(widgetRoot+`.querySelectorAll(".msg.agent:not(.streaming)").length === 1`)); err != nil {
		t.Fatalf("first exchange: %v", err)
	}

	// The server goes away; the widget retries and meets 503s.
	serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "restarting", http.StatusServiceUnavailable)
	}))
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Close(closeCtx); err != nil {
		t.Fatalf("close the first server: %v", err)
	}
	if err := chromedp.Do(ctx, poll(widgetRoot+`.querySelector(".status").textContent !== ""`),
		typeAndSend("It is 12 Elm Street"),
		poll(widgetRoot+`.querySelectorAll(".msg.shopper.pending").length === 1`)); err != nil {
		t.Fatalf("type while disconnected: %v", err)
	}
	var convID int64
	if err := db.Pool.QueryRow(context.Background(), `SELECT id FROM conversations WHERE shop_id = $1`, shop.ID).Scan(&convID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AppendMessage(context.Background(), shop.ID, salesagent.Message{
		ConversationID: convID, Role: salesagent.RoleSystem, Body: "Dana joined the conversation",
	}); err != nil {
		t.Fatal(err)
	}

	second, secondMux := start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = second.Close(ctx)
	})
	serve(secondMux)
	if err := chromedp.Do(ctx, poll(widgetRoot+`.querySelectorAll(".msg.shopper.pending").length === 0 && `+
		widgetRoot+`.querySelectorAll(".msg.agent:not(.streaming)").length === 2`)); err != nil {
		t.Fatalf("reconnect and send: %v", err)
	}
	texts := eval[[]string](t, ctx, `Array.from(`+widgetRoot+`.querySelectorAll(".log .msg .text"), n => n.textContent)`)
	notice, answer := -1, -1
	for i, text := range texts {
		switch {
		case strings.Contains(text, "Dana joined"):
			notice = i
		case text == "It is 12 Elm Street":
			answer = i
		}
	}
	if notice < 0 || answer < 0 || notice > answer {
		t.Errorf("widget shows %q, want the notice above the message sent after it", texts)
	}
}
