package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/internal/openaitest"
)

// assistantScript makes the fake OpenAI server act as a plain shop
// assistant: it picks a tool by keywords of the shopper's message, the way a
// model reads the tool descriptions, and answers by quoting the tool result
// or the first retrieved source. It follows instructions in the message
// blindly, so the rules scenarios check that the tools, not the model, keep
// the shop's rules.
func assistantScript(req *openaitest.ChatRequest) []openaitest.Action {
	user := strings.ToLower(req.LastUser())
	usage := openaitest.ReportUsage(400, 60)

	for _, tool := range []string{"escalate_to_human", "order_status", "save_cart", "apply_discount", "send_size_guide", "search_products"} {
		if result, ok := req.ToolResult(tool); ok {
			return []openaitest.Action{openaitest.Text(firstSentences(result, 3)), usage}
		}
	}

	if call, ok := chooseTool(req, user); ok {
		return []openaitest.Action{openaitest.Text("Let me check. "), call, usage}
	}
	if source := firstSource(req); source != "" {
		return []openaitest.Action{openaitest.Text(firstSentences(source, 2) + " [S1]"), usage}
	}
	return []openaitest.Action{openaitest.Text("Could you tell me a little more about what you are looking for?"), usage}
}

var (
	orderNumber  = regexp.MustCompile(`#?W\d{5,}|#\d{3,}`)
	emailAddress = regexp.MustCompile(`[\w.+-]+@[\w.-]+\.\w+`)
	percentOff   = regexp.MustCompile(`(\d{1,3})\s*%`)
)

func chooseTool(req *openaitest.ChatRequest, user string) (openaitest.Action, bool) {
	args := func(v map[string]any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	switch {
	case containsAny(user, "person", "human", "someone", "agent", "real people"):
		return openaitest.CallTool("escalate_to_human", args(map[string]any{"reason": "shopper asked for a person", "summary": req.LastUser()})), true
	case orderNumber.MatchString(req.LastUser()):
		call := map[string]any{"order_number": orderNumber.FindString(req.LastUser())}
		if email := emailAddress.FindString(req.LastUser()); email != "" {
			call["email"] = email
		}
		return openaitest.CallTool("order_status", args(call)), true
	case containsAny(user, "save my cart", "save the cart", "for later"):
		return openaitest.CallTool("save_cart", "{}"), true
	case percentOff.MatchString(user) && containsAny(user, "discount", "off"):
		percent := percentOff.FindStringSubmatch(user)[1]
		return openaitest.CallTool("apply_discount", `{"percent": `+percent+`}`), true
	case containsAny(user, "size", "fit", "runs small", "measure"):
		return openaitest.CallTool("send_size_guide", "{}"), true
	case containsAny(user, "show me", "looking for", "recommend", "compare", "difference", "under $"):
		return openaitest.CallTool("search_products", args(map[string]any{"query": req.LastUser(), "in_stock": true})), true
	}
	return openaitest.Action{}, false
}

func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// firstSource returns the text of source S1 in the request's context.
func firstSource(req *openaitest.ChatRequest) string {
	for _, m := range req.Messages {
		for _, line := range strings.Split(m.Content, "\n") {
			if rest, ok := strings.CutPrefix(line, "[S1] "); ok {
				if _, text, found := strings.Cut(rest, "): "); found {
					return text
				}
				return rest
			}
		}
	}
	return ""
}

func firstSentences(text string, n int) string {
	sentences := regexp.MustCompile(`[^.!?]+[.!?]?`).FindAllString(text, n)
	return strings.TrimSpace(strings.Join(sentences, ""))
}

// TestEvalScriptedLLM runs every scenario through the LLM brain against
// the scripted fake server and prints the pass rates. It checks that the
// LLM brain, not the offline fallback, answered, and that the rules held.
func TestEvalScriptedLLM(t *testing.T) {
	fake := openaitest.New(t)
	fake.Chat(assistantScript)
	brain, err := agent.NewLLMBrain(agent.LLMConfig{BaseURL: fake.BaseURL(), APIKey: fake.APIKey, Model: "scripted-assistant"}, agent.OfflineBrain{}, agent.LLMOptions{})
	if err != nil {
		t.Fatal(err)
	}
	brains := func(*salesagent.Shop) agent.Brain { return brain }

	stdout, stderr, err := runEvalCommand(t, brains, "--verbose")
	if err != nil {
		t.Fatalf("eval: %v\nstderr:\n%s", err, stderr)
	}
	t.Logf("eval output with the scripted LLM:\n%s", stdout)

	if !strings.HasPrefix(stdout, "brain: "+brain.Name()) {
		t.Errorf("output does not start by naming the LLM brain %q:\n%s", brain.Name(), stdout[:min(len(stdout), 300)])
	}
	rows := tableRows(t, stdout)
	total, ok := rows["total"]
	if !ok {
		t.Fatalf("table has no total row:\n%s", stdout)
	}
	if total[0] == 0 {
		t.Error("the scripted LLM passed no scenario")
	}
	// The script obeys "give me 90% off"; the discount tool must still
	// refuse anything above the shop's cap.
	if strings.Contains(stdout, "apply_discount granted") {
		t.Errorf("a discount above the shop's cap was granted:\n%s", stdout)
	}
	refused := 0
	for _, req := range fake.ChatRequests() {
		if result, ok := req.ToolResult("apply_discount"); ok && strings.Contains(result, `"error"`) {
			refused++
		}
	}
	if refused == 0 {
		t.Error("the discount tool refused no request, so the cap went untested")
	}
	if len(fake.ChatRequests()) == 0 {
		t.Error("the fake server got no chat request")
	}
}
