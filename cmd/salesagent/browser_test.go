package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/salesagent/salesagent/internal/browsertest"
)

// TestBrowserDemoSizingQuestion opens a demo product page in headless
// Chromium, asks the widget a sizing question and waits for the offline
// agent's streamed answer with a size-guide card.
func TestBrowserDemoSizingQuestion(t *testing.T) {
	ingestPaths(t, "demo-browser", demoShopDir(t))
	server := startServer(t)
	db := openDB(t)
	shop, err := db.ShopBySlug(context.Background(), "demo-browser")
	if err != nil {
		t.Fatal(err)
	}
	product, err := db.ProductByHandle(context.Background(), shop.ID, "ridgeline-rain-jacket")
	if err != nil {
		t.Fatal(err)
	}

	root := browsertest.WidgetRoot
	ctx := browsertest.New(t)
	err = chromedp.Do(ctx,
		chromedp.Navigate(server+"/shop/demo-browser/products/ridgeline-rain-jacket"),
		browsertest.Poll(browsertest.WidgetMounted),
		chromedp.Click(chromedp.JSPath(browsertest.LauncherPath)),
		browsertest.Poll(root+`.activeElement && `+root+`.activeElement.id === "sa-input"`),
		// Count the streamed parts as the widget renders them.
		browsertest.Exec(`(() => { window.streamedParts = 0;
			new MutationObserver(() => {
				const t = `+root+`.querySelector(".msg.agent.streaming .text");
				if (t && t.textContent !== window.lastStreamed) { window.lastStreamed = t.textContent; window.streamedParts++; }
			}).observe(`+root+`, {subtree: true, childList: true, characterData: true});
			return true; })()`),
		chromedp.SendKeys(chromedp.JSPath(browsertest.InputPath), "I'm between M and L, does this jacket run small?"),
		chromedp.KeyEvent(kb.Enter),
		browsertest.Poll(root+`.querySelector(".msg.agent:not(.streaming) .card-size_guide table")`),
	)
	if err != nil {
		t.Fatalf("ask the widget a sizing question: %v", err)
	}

	if parts := browsertest.Eval[int](t, ctx, `window.streamedParts`); parts < 2 {
		t.Errorf("the answer appeared in %d streamed parts, want it streamed in several", parts)
	}
	rows := browsertest.Eval[int](t, ctx, root+`.querySelectorAll(".msg.agent .card-size_guide table tbody tr").length`)
	if rows < 3 {
		t.Errorf("size guide card has %d rows, want the Jackets table", rows)
	}
	answer := browsertest.Eval[string](t, ctx, root+`.querySelector(".msg.agent:not(.streaming) .text").textContent`)
	if !strings.Contains(answer, product.Title) {
		t.Errorf("answer does not name the product in view %q:\n%s", product.Title, answer)
	}
	for _, size := range inStockValues(product, "Size") {
		if !strings.Contains(answer, size) {
			t.Errorf("answer does not list in-stock size %s:\n%s", size, answer)
		}
	}
	if !strings.Contains(strings.ToLower(answer), "true to size") {
		t.Errorf("answer does not quote the product's fit note (true to size):\n%s", answer)
	}
}
