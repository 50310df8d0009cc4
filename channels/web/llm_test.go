package web

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/internal/openaitest"
	"github.com/salesagent/salesagent/retrieval"
)

// agentBundle is a bundle whose server runs turns on the real agent
// service, with the shop's catalog and documents indexed and an LLM brain
// that talks to a fake OpenAI server. The bundle's fake agent is not used.
type agentBundle struct {
	*bundle
	fake     *openaitest.Server
	service  *agent.Service
	searcher *retrieval.Searcher
}

// shopDocuments are the test shop's size guide for its tees and its
// shipping FAQ.
func shopDocuments() []salesagent.Document {
	return []salesagent.Document{
		{
			Kind: salesagent.KindSizeGuide, Source: "test", Key: "tees", Title: sizeGuideCard.Title, ProductType: "Tees",
			Body: "Measure your chest at its fullest point.", Table: sizeGuideCard.Table,
		},
		{
			Kind: salesagent.KindFAQ, Source: "test", Key: "shipping", Title: "Shipping",
			Body: "Where do you ship?\nWe ship to the United States and Canada. Shipping to Canada costs $15.00 and takes 5 to 8 business days.",
		},
	}
}

// setupAgent starts a server whose turns run on the agent service. The
// LLM brain's base URL is the fake server's, so no request leaves the
// machine. configure may change the config and the shop before the server
// starts.
func setupAgent(t *testing.T, configure ...func(*Config, *salesagent.Shop)) *agentBundle {
	t.Helper()
	fake := openaitest.New(t)
	fake.APIKey = "sk-test"
	ab := &agentBundle{fake: fake}

	wire := func(cfg *Config, shop *salesagent.Shop) {
		ctx := context.Background()
		if _, err := cfg.DB.UpsertDocuments(ctx, shop.ID, shopDocuments()); err != nil {
			t.Fatal(err)
		}
		embedder := retrieval.NewLocalEmbedder()
		if _, err := retrieval.NewIndexer(cfg.DB, embedder, nil).IndexShop(ctx, shop.ID); err != nil {
			t.Fatalf("index shop: %v", err)
		}
		ab.searcher = retrieval.NewSearcher(cfg.DB, embedder)
		ab.service = agent.NewService(cfg.DB, ab.searcher, testLogger())
		brains, err := agent.NewBrains(agent.LLMConfig{
			BaseURL: fake.BaseURL(), APIKey: "sk-test", Model: "test-model",
			RetryBackoff: time.Millisecond, FirstTokenTimeout: 5 * time.Second,
		}, agent.OfflineBrain{}, agent.LLMOptions{Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ab.service.Brains = brains
		cfg.Turns = ab.service
	}
	ab.bundle = setup(t, append([]func(*Config, *salesagent.Shop){wire}, configure...)...)
	return ab
}

// offlineAnswer returns the offline agent's reply to text in a new
// conversation of the bundle's shop, without a product in view.
func (ab *agentBundle) offlineAnswer(t *testing.T, text string) string {
	t.Helper()
	ctx := testContext(t)
	customer, err := ab.db.CreateCustomer(ctx, ab.shop.ID)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := ab.db.CreateConversation(ctx, ab.shop.ID, salesagent.ChannelWeb, hashToken(newVisitorToken()), &customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	msg, _, err := ab.db.AppendMessage(ctx, ab.shop.ID, salesagent.Message{ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: text})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := agent.NewService(ab.db, ab.searcher, testLogger()).HandleMessage(ctx, ab.shop, conv, msg, agent.PageContext{}, discardEmitter{})
	if err != nil {
		t.Fatalf("offline agent: %v", err)
	}
	return reply.Body
}

type discardEmitter struct{}

func (discardEmitter) Emit(context.Context, agent.StreamEvent) error { return nil }

// sizingScript is the model's side of a sizing question: text and a call
// of send_size_guide for the Trail Tee, then, once the tool's result is
// in, the reply with a citation marker that the brain removes.
func sizingScript(req *openaitest.ChatRequest) []openaitest.Action {
	if _, called := req.ToolResult("send_size_guide"); !called {
		return []openaitest.Action{
			openaitest.Text("Let me pull up the size guide for the Trail Tee."),
			openaitest.CallTool("send_size_guide", `{"product": "trail-tee"}`),
		}
	}
	return []openaitest.Action{openaitest.Text("For a 98 cm chest, take the M: it fits a 96-101 cm chest [S1].")}
}

// collapse joins frame types, writing a run of one type once.
func collapse(types []string) string {
	var out []string
	for _, typ := range types {
		if len(out) == 0 || out[len(out)-1] != typ {
			out = append(out, typ)
		}
	}
	return strings.Join(out, ",")
}

func TestLLMTurnStreamsDeltasToolAndCard(t *testing.T) {
	t.Parallel()
	ab := setupAgent(t)
	ab.fake.ArgumentsChunk = 3
	ab.fake.Chat(sizingScript)
	c := ab.dial(t, DialOptions{})

	if _, err := c.Send(testContext(t), "Which size of the Trail Tee fits a 98 cm chest?"); err != nil {
		t.Fatal(err)
	}
	ack := next(t, c)
	if ack.Type != FrameAck || ack.Seq != 1 {
		t.Fatalf("first frame = %s, want the ack of seq 1", ack.Raw)
	}
	frames := untilFinal(t, c, 1)

	var types []string
	var streamed strings.Builder
	deltas := 0
	var tools []ServerFrame
	var cards []*salesagent.Card
	for _, f := range frames {
		types = append(types, f.Type)
		switch f.Type {
		case FrameDelta:
			deltas++
			streamed.WriteString(f.Text)
			if f.Turn != 1 {
				t.Errorf("delta %s has turn %d, want 1", f.Raw, f.Turn)
			}
		case FrameTool:
			tools = append(tools, f)
		case FrameCard:
			cards = append(cards, f.Card)
		}
	}
	if got, want := collapse(types), "delta,tool,delta,card,message"; got != want {
		t.Errorf("frame types %v collapse to %s, want %s", types, got, want)
	}
	// Deltas waiting for the client are joined, so only the tool call is
	// sure to split the text.
	if deltas < 2 {
		t.Errorf("got %d delta frames, want the model's text in parts before and after the tool call", deltas)
	}
	if len(tools) != 1 || tools[0].Name != "send_size_guide" || !tools[0].OK || strings.Contains(string(tools[0].Raw), "trail-tee") {
		t.Errorf("tool frames = %v, want one successful send_size_guide without its arguments", tools)
	}
	if len(cards) != 1 || cards[0].Type != salesagent.CardSizeGuide || cards[0].Table == nil || len(cards[0].Table.Rows) != 3 {
		t.Errorf("card frames = %+v, want the tees size guide", cards)
	}

	final := frames[len(frames)-1]
	if final.Turn != 1 || final.Message.Role != salesagent.RoleAgent {
		t.Errorf("final frame = %s, want the agent's message for turn 1", final.Raw)
	}
	if final.Message.Body != streamed.String() {
		t.Errorf("stored text %q, streamed %q; want them equal", final.Message.Body, streamed.String())
	}
	if !strings.HasPrefix(final.Message.Body, "Let me pull up the size guide") || !strings.HasSuffix(final.Message.Body, "96-101 cm chest.") {
		t.Errorf("stored text %q, want both rounds of the model's text without the marker", final.Message.Body)
	}
	if len(final.Message.Cards) != 1 || final.Message.Cards[0].Type != salesagent.CardSizeGuide {
		t.Errorf("stored cards = %+v, want the size guide", final.Message.Cards)
	}

	requests := ab.fake.ChatRequests()
	if len(requests) != 2 {
		t.Fatalf("the brain made %d chat requests, want 2", len(requests))
	}
	if requests[0].LastUser() != "Which size of the Trail Tee fits a 98 cm chest?" {
		t.Errorf("first request's user message = %q", requests[0].LastUser())
	}
	if result, ok := requests[1].ToolResult("send_size_guide"); !ok || !strings.Contains(result, "96-101") {
		t.Errorf("second request's tool result = %q, want the size table", result)
	}
}

func TestLLMDiesMidStreamReplacesText(t *testing.T) {
	t.Parallel()
	ab := setupAgent(t)
	const partial = "Shipping to Canada costs"
	ab.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text(partial), openaitest.Die()}
	})
	const question = "How much is shipping to Canada?"
	want := ab.offlineAnswer(t, question)
	if want == "" || strings.HasPrefix(want, partial) {
		t.Fatalf("offline answer %q cannot tell the replacement from the partial text", want)
	}
	c := ab.dial(t, DialOptions{})

	if _, err := c.Send(testContext(t), question); err != nil {
		t.Fatal(err)
	}
	frames := untilFinal(t, c, 1)

	var before strings.Builder
	var replaces []ServerFrame
	for _, f := range frames {
		switch f.Type {
		case FrameDelta:
			if len(replaces) > 0 {
				t.Errorf("delta %s after the replace frame", f.Raw)
			}
			before.WriteString(f.Text)
		case FrameReplace:
			replaces = append(replaces, f)
		}
	}
	if before.String() != partial {
		t.Errorf("streamed before the replace: %q, want the model's partial text %q", before.String(), partial)
	}
	if len(replaces) != 1 || replaces[0].Turn != 1 || replaces[0].Text != want {
		t.Fatalf("replace frames = %v, want one for turn 1 with the offline answer %q", replaces, want)
	}
	final := frames[len(frames)-1]
	if final.Message.Body != want {
		t.Errorf("stored text = %q, want the offline answer %q", final.Message.Body, want)
	}
	if n := len(ab.fake.ChatRequests()); n != 1 {
		t.Errorf("the brain made %d chat requests, want 1: text had streamed, so it does not retry", n)
	}
}

func TestRunChatJSONPrintsLLMTurn(t *testing.T) {
	t.Parallel()
	ab := setupAgent(t)
	ab.fake.Chat(sizingScript)
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{
		Server: ab.ts.URL, Shop: ab.shop.Slug, Message: "Which size of the Trail Tee fits a 98 cm chest?", JSON: true, Out: &out,
	})
	if err != nil {
		t.Fatal(err)
	}

	var types []string
	var streamed strings.Builder
	var final ServerFrame
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f, err := DecodeServerFrame([]byte(line))
		if err != nil {
			t.Fatalf("line %q is not a server frame: %v", line, err)
		}
		types = append(types, f.Type)
		switch f.Type {
		case FrameDelta:
			streamed.WriteString(f.Text)
		case FrameTool:
			if f.Name != "send_size_guide" || !f.OK {
				t.Errorf("tool frame = %s, want a successful send_size_guide", line)
			}
		case FrameCard:
			if f.Card == nil || f.Card.Type != salesagent.CardSizeGuide {
				t.Errorf("card frame = %s, want the size guide", line)
			}
		case FrameMessage:
			final = f
		}
	}
	if got, want := collapse(types), "welcome,ack,delta,tool,delta,card,message"; got != want {
		t.Errorf("printed frame types %v collapse to %s, want %s", types, got, want)
	}
	if final.Message == nil || final.Message.Body != streamed.String() {
		t.Errorf("final message %+v, streamed %q; want the same text", final.Message, streamed.String())
	}
}

func TestRunChatTextNotesCorrectedAnswer(t *testing.T) {
	t.Parallel()
	ab := setupAgent(t)
	// The guard finds no $19.99 among the shop's facts and removes that
	// sentence, one of two.
	ab.fake.Chat(func(req *openaitest.ChatRequest) []openaitest.Action {
		return []openaitest.Action{openaitest.Text("The Trail Tee is a light merino tee. Today it costs $19.99.")}
	})
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{Server: ab.ts.URL, Shop: ab.shop.Slug, Message: "Tell me about the Trail Tee", Out: &out})
	if err != nil {
		t.Fatal(err)
	}

	text := out.String()
	assertContains(t, "chat output", text,
		"agent: The Trail Tee is a light merino tee. Today it costs $19.99.\n",
		"  [answer corrected]\nagent: The Trail Tee is a light merino tee.\n",
	)
	if n := strings.Count(text, "agent: "); n != 2 {
		t.Errorf("printed %d answers, want the streamed and the corrected one:\n%s", n, text)
	}
	messages, err := ab.db.MessagesAfter(testContext(t), ab.shop.ID, ab.conversationOf(t), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(messages) != 2 || messages[1].Body != "The Trail Tee is a light merino tee." {
		t.Errorf("stored messages = %+v, want the corrected answer", messages)
	}
}

// discountCode matches the codes of the apply_discount tool.
var discountCode = regexp.MustCompile(`SAVE-[A-Z2-9]{8}`)

// discountScript is the model's side of a request for a discount: a call
// of apply_discount for 10%, then a short reply.
func discountScript(req *openaitest.ChatRequest) []openaitest.Action {
	if _, called := req.ToolResult("apply_discount"); !called {
		return []openaitest.Action{openaitest.CallTool("apply_discount", `{"percent": 10, "reason": "first order"}`)}
	}
	return []openaitest.Action{openaitest.Text("Here is a code for 10% off your order.")}
}

// allowDiscounts lets the shop give up to 15% off.
func allowDiscounts(_ *Config, shop *salesagent.Shop) {
	shop.Settings.MaxDiscountPercent = 15
}

func TestRunChatTextShowsDiscountCard(t *testing.T) {
	t.Parallel()
	ab := setupAgent(t, allowDiscounts)
	ab.fake.Chat(discountScript)
	var out bytes.Buffer
	err := RunChat(testContext(t), ChatOptions{Server: ab.ts.URL, Shop: ab.shop.Slug, Message: "Can I get a discount on my first order?", Out: &out})
	if err != nil {
		t.Fatal(err)
	}

	text := out.String()
	code := discountCode.FindString(text)
	if code == "" {
		t.Fatalf("chat output has no discount code:\n%s", text)
	}
	assertContains(t, "chat output", text,
		"agent: Here is a code for 10% off your order.",
		"  [discount] Discount code\n    "+code+" (10% off)\n",
		"[tool apply_discount ok: ",
	)
	if strings.Contains(text, "Code: "+code) || strings.Contains(text, "Discount: 10%") {
		t.Errorf("the code and percentage are also printed as fields:\n%s", text)
	}
}

func TestDiscountTerms(t *testing.T) {
	t.Parallel()
	order := salesagent.Field{Label: "Order", Value: "#1001"}
	code, percent, rest := discountTerms([]salesagent.Field{{Label: "Code", Value: "SAVE-ABCDEFGH"}, order, {Label: "Discount", Value: "12.5%"}})
	if code != "SAVE-ABCDEFGH" || percent != "12.5%" || len(rest) != 1 || rest[0] != order {
		t.Errorf("discountTerms = %q, %q, %v; want the code, the percentage and the order field", code, percent, rest)
	}
	only := []salesagent.Field{{Label: "Discount", Value: "5%"}}
	code, percent, rest = discountTerms(only)
	if code != "" || percent != "" || len(rest) != 1 {
		t.Errorf("without a code, discountTerms = %q, %q, %v; want every field left as it is", code, percent, rest)
	}
}

// conversationOf returns the id of the shop's only conversation.
func (ab *agentBundle) conversationOf(t *testing.T) int64 {
	t.Helper()
	var id int64
	err := ab.db.Pool.QueryRow(testContext(t), `SELECT id FROM conversations WHERE shop_id = $1`, ab.shop.ID).Scan(&id)
	if err != nil {
		t.Fatalf("find the shop's conversation: %v", err)
	}
	return id
}
