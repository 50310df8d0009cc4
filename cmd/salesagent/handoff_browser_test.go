package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/internal/browsertest"
	"github.com/salesagent/salesagent/postgres/pgtest"
)

// lockedBuffer collects a child process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServeProcess runs "salesagent serve" as a process of its own on a
// free loopback port against the package's test database and returns its
// base URL. The process gets SIGTERM when the test ends.
func startServeProcess(t *testing.T, graphURL string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve", "--database-url", pgtest.URL(t), "--addr", addr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), childEnv+"=1", "SALESAGENT_WHATSAPP_GRAPH_URL="+graphURL,
		"SALESAGENT_LLM_BASE_URL=", "SALESAGENT_LLM_API_KEY=", "OPENAI_API_KEY=")
	var output lockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serve process: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("serve process on %s did not stop within 20 s of SIGTERM\\n%s", addr, output.String())
		}
		if t.Failed() {
			t.Logf("serve process on %s wrote:\n%s", addr, output.String())
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("serve process exited early: %v\n%s", err, output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve process on %s not ready within 30 s\n%s", addr, output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Expressions on the console page and in the widget.
const (
	widgetLog    = browsertest.WidgetRoot + `.querySelector('[role="log"]')`
	widgetTexts  = `Array.from(` + widgetLog + `.querySelectorAll(".msg")).map(m => m.className.split(" ")[1] + ": " + m.querySelector(".text").textContent)`
	consoleTexts = `Array.from(document.querySelectorAll("#messages .msg")).map(m => m.className + ": " + m.querySelector(".text").textContent)`
)

// widgetHas is true once the widget shows a message of role containing text.
func widgetHas(role, text string) string {
	return fmt.Sprintf(`Array.from(%s.querySelectorAll(".msg.%s:not(.streaming) .text")).some(n => n.textContent.includes(%q))`, widgetLog, role, text)
}

// consoleHas is true once the open conversation shows a message of class
// cls containing text.
func consoleHas(cls, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll("#messages .msg.%s .text")).some(n => n.textContent.includes(%q))`, cls, text)
}

func shopperSays(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.JSPath(browsertest.InputPath), text),
		chromedp.KeyEvent(kb.Enter),
	)
}

func operatorWrites(text, button string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS("#composer-text"), text),
		chromedp.Click(chromedp.CSS("#"+button)),
		browsertest.Poll(`document.getElementById("composer-text").value === ""`),
	)
}

// TestBrowserHandoffAcrossProcesses has a shopper on server process A and
// an operator on server process B, in two browser contexts. The shopper
// requests a person. The operator sees the conversation arrive in the
// queue, claims it, replies, writes a note and hands it back. The shopper
// sees each step in order and never the note. The agent stays silent
// while the operator holds the conversation and replies after hand-back.
func TestBrowserHandoffAcrossProcesses(t *testing.T) {
	ingestPaths(t, "demo-handoff", demoShopDir(t))
	t.Setenv("TEST_OPERATOR_PASSWORD", "handoff-browser-test")
	if _, stderr, err := runCommand(t, "operator", "add", "--database-url", pgtest.URL(t), "--shop", "demo-handoff",
		"--email", "ana@example.com", "--name", "Ana", "--role", "admin", "--password-env", "TEST_OPERATOR_PASSWORD"); err != nil {
		t.Fatalf("operator add: %v\n%s", err, stderr)
	}
	graph := fakeGraph(t)
	serverA := startServeProcess(t, graph)
	serverB := startServeProcess(t, graph)

	shopper := browsertest.New(t)
	operator := browsertest.Incognito(t, shopper)

	// The operator signs in on B first, so the conversation has to arrive
	// in the queue live.
	err := chromedp.Do(operator,
		chromedp.Navigate(serverB+"/console/?shop=demo-handoff"),
		browsertest.Poll(`!document.getElementById("login-view").hidden`),
		chromedp.SendKeys(chromedp.CSS("#login-email"), "ana@example.com"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "handoff-browser-test"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		browsertest.Poll(`!document.getElementById("desk").hidden && document.getElementById("live").textContent === "Live"`),
	)
	if err != nil {
		t.Fatalf("operator signs in on process B: %v", err)
	}
	if n := browsertest.Eval[int](t, operator, `document.querySelectorAll("#queue-list li").length`); n != 0 {
		t.Fatalf("queue has %d conversations before the shopper asked, want 0", n)
	}

	// The shopper requests a person on A.
	err = chromedp.Do(shopper,
		chromedp.Navigate(serverA+"/shop/demo-handoff/products/ridgeline-rain-jacket"),
		browsertest.Poll(browsertest.WidgetMounted),
		chromedp.Click(chromedp.JSPath(browsertest.LauncherPath)),
		browsertest.Poll(browsertest.WidgetRoot+`.activeElement && `+browsertest.WidgetRoot+`.activeElement.id === "sa-input"`),
		shopperSays("I want to talk to a person, please"),
		browsertest.Poll(widgetHas("agent", "team")),
	)
	if err != nil {
		t.Fatalf("shopper asks for a person on process A: %v", err)
	}

	// The conversation appears in B's queue without a reload; the operator
	// opens it and takes it over.
	err = chromedp.Do(operator,
		browsertest.Poll(`document.querySelectorAll("#queue-list li").length === 1`),
		browsertest.Poll(`document.title === "(1) salesagent console"`),
		chromedp.Click(chromedp.CSS(`#queue-list li a`)),
		browsertest.Poll(consoleHas("shopper", "talk to a person")),
		// Before the takeover, the console shows why replying is off.
		browsertest.Poll(`!document.getElementById("reply-hint").hidden && document.getElementById("reply-hint").textContent.includes("Take the conversation over")`),
		chromedp.Click(chromedp.CSS("#claim")),
		browsertest.Poll(`document.getElementById("conversation-status").textContent === "Held by Ana"`),
		browsertest.Poll(`document.getElementById("reply-hint").hidden`),
	)
	if err != nil {
		t.Fatalf("operator claims on process B: %v", err)
	}
	if err := chromedp.Do(shopper, browsertest.Poll(widgetHas("system", "Ana joined the conversation"))); err != nil {
		t.Fatalf("shopper sees the operator join: %v", err)
	}

	// Reply and note; only the reply reaches the shopper.
	err = chromedp.Do(operator,
		operatorWrites("Hi, I'm Ana from the shop. How can I help?", "send-reply"),
		operatorWrites("INTERNAL: shopper may want a refund", "add-note"),
		browsertest.Poll(consoleHas("note", "INTERNAL: shopper may want a refund")),
	)
	if err != nil {
		t.Fatalf("operator replies and writes a note: %v", err)
	}
	if err := chromedp.Do(shopper, browsertest.Poll(widgetHas("operator", "Hi, I'm Ana"))); err != nil {
		t.Fatalf("shopper sees the operator's reply: %v", err)
	}
	if author := browsertest.Eval[string](t, shopper, widgetLog+`.querySelector(".msg.operator .author").textContent`); author != "Ana · shop staff" {
		t.Errorf("operator reply signed %q, want %q", author, "Ana · shop staff")
	}

	// While Ana holds it, the shopper's question reaches her console live,
	// and the agent does not answer it.
	err = chromedp.Do(shopper, shopperSays("How much is express shipping?"))
	if err != nil {
		t.Fatal(err)
	}
	// The agent suggests a reply from the shop's facts, and Ana writes her
	// own instead.
	err = chromedp.Do(operator,
		browsertest.Poll(consoleHas("shopper", "express shipping")),
		chromedp.Click(chromedp.CSS("#suggest")),
		browsertest.Poll(`document.getElementById("composer-text").value.includes("$14.95")`),
		browsertest.Poll(`!document.getElementById("draft-hint").hidden`),
		browsertest.Exec(`document.getElementById("composer-text").value = ""`),
	)
	if err != nil {
		t.Fatalf("operator asks for a suggested reply: %v", err)
	}
	err = chromedp.Do(operator,
		operatorWrites("Express shipping is quick; I'll hand you back to our assistant for the details.", "send-reply"),
	)
	if err != nil {
		t.Fatalf("operator sees the shopper's question and answers: %v", err)
	}
	if err := chromedp.Do(shopper, browsertest.Poll(widgetHas("operator", "hand you back"))); err != nil {
		t.Fatal(err)
	}
	// Time for a turn the agent might wrongly have taken.
	time.Sleep(1500 * time.Millisecond)

	// Hand back: the assistant's return is shown to the shopper, and the
	// agent replies to the next question.
	if err := chromedp.Do(operator,
		chromedp.Click(chromedp.CSS("#handback")),
		browsertest.Poll(`document.getElementById("conversation-status").textContent === "The agent handles this chat"`),
	); err != nil {
		t.Fatalf("operator hands back: %v", err)
	}
	err = chromedp.Do(shopper,
		browsertest.Poll(widgetHas("system", "The assistant is back")),
		shopperSays("What is your return policy?"),
		browsertest.Poll(fmt.Sprintf(`(() => { const m = Array.from(%s.querySelectorAll(".msg")); const back = m.findIndex(n => n.textContent.includes("The assistant is back")); return back >= 0 && m.slice(back).some(n => n.classList.contains("agent") && !n.classList.contains("streaming")); })()`, widgetLog)),
	)
	if err != nil {
		t.Fatalf("shopper gets the agent back: %v", err)
	}

	// The shopper saw every step in order, and never the note.
	widgetLines := browsertest.Eval[[]string](t, shopper, widgetTexts)
	joined := strings.Join(widgetLines, "\n")
	if strings.Contains(joined, "INTERNAL") {
		t.Errorf("the shopper's widget shows the internal note:\n%s", joined)
	}
	order := []string{
		"shopper: I want to talk to a person",
		"system: Ana joined the conversation",
		"operator: Hi, I'm Ana",
		"shopper: How much is express shipping?",
		"operator: Express shipping is quick",
		"system: The assistant is back",
		"shopper: What is your return policy?",
		"agent: ",
	}
	at := 0
	for _, line := range widgetLines {
		if at < len(order) && strings.HasPrefix(line, order[at]) {
			at++
		}
	}
	if at != len(order) {
		t.Errorf("widget shows the steps out of order or misses %q:\n%s", order[at], joined)
	}
	// Between Ana joining and the assistant's return, only Ana and the
	// shopper wrote.
	heldByAna := false
	for _, line := range widgetLines {
		switch {
		case strings.HasPrefix(line, "system: Ana joined"):
			heldByAna = true
		case strings.HasPrefix(line, "system: The assistant is back"):
			heldByAna = false
		case heldByAna && strings.HasPrefix(line, "agent: "):
			t.Errorf("the agent answered while Ana held the conversation: %q\n%s", line, joined)
		}
	}

	// The database agrees with the screen: no agent message between the
	// claim and the hand-back.
	db := openDB(t)
	shop, err := db.ShopBySlug(context.Background(), "demo-handoff")
	if err != nil {
		t.Fatal(err)
	}
	var agentWhileHeld int
	err = db.Pool.QueryRow(context.Background(), `
		WITH c AS (SELECT conversation_id,
			min(seq) FILTER (WHERE body LIKE 'Ana joined%') AS claimed,
			min(seq) FILTER (WHERE body = 'The assistant is back') AS back
			FROM messages WHERE shop_id = $1 GROUP BY conversation_id)
		SELECT count(*) FROM messages m JOIN c USING (conversation_id)
		WHERE m.shop_id = $1 AND m.role = $2 AND m.seq > c.claimed AND m.seq < c.back`, shop.ID, salesagent.RoleAgent).Scan(&agentWhileHeld)
	if err != nil {
		t.Fatal(err)
	}
	if agentWhileHeld != 0 {
		t.Errorf("%d agent messages stored while the operator held the conversation, want 0", agentWhileHeld)
	}
	if t.Failed() {
		t.Logf("console shows:\n%s", strings.Join(browsertest.Eval[[]string](t, operator, consoleTexts), "\n"))
	}
}
