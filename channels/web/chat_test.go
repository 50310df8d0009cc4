package web

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

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
	want := "welcome,ack,delta,delta,tool,card,message"
	if strings.Join(types, ",") != want {
		t.Errorf("printed frames %v, want %s", types, want)
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
	err = RunChat(testContext(t), ChatOptions{Server: b.ts.URL, Shop: b.shop.Slug, Message: "   "})
	if salesagent.ErrorCode(err) != salesagent.EINVALID {
		t.Errorf("blank message: %v, want invalid", err)
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
