package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

func boolPtr(b bool) *bool { return &b }

// orderOutput is a turn that looked up an order and showed its card.
func orderOutput() Output {
	return Output{
		Text: "Order #W2378156 is delivered. Tracking: 843053632392. Delivery took 3–5 business days.",
		Cards: []salesagent.Card{{
			Type: salesagent.CardOrder, Title: "Order #W2378156",
			Fields: []salesagent.Field{{Label: "Status", Value: "delivered"}, {Label: "Items", Value: "1 × Headphones"}},
		}},
		Tools: []agent.ToolCall{{Name: "order_status", OK: true}},
	}
}

func TestCheckPassingTurn(t *testing.T) {
	exp := Expect{
		MustContain:    []Fact{{"DELIVERED"}, {"shipped", "843053632392"}, {"3-5 business days"}},
		MustNotContain: []string{"745984883162", "Desk Lamp"},
		ToolsCalled:    []string{"order_status"},
		ToolsNotCalled: []string{"escalate_to_human"},
		Escalates:      boolPtr(false),
		Cards:          []string{salesagent.CardOrder},
		CardsNotShown:  []string{salesagent.CardHandoff},
	}
	if failures := Check(exp, orderOutput()); len(failures) != 0 {
		t.Errorf("Check of a turn meeting every expectation = %q, want none", failures)
	}
}

func TestCheckFailures(t *testing.T) {
	handoff := orderOutput()
	handoff.Handoffs = []agent.Handoff{{Reason: "shopper asked for a person"}}

	tests := []struct {
		name string
		exp  Expect
		out  Output
		want string
	}{
		{"missing fact", Expect{MustContain: []Fact{{"pending"}}}, orderOutput(), `reply lacks "pending"`},
		{"missing alternatives", Expect{MustContain: []Fact{{"processed", "cancelled"}}}, orderOutput(), `reply lacks any of "processed", "cancelled"`},
		{"forbidden phrase in text", Expect{MustNotContain: []string{"tracking: 843053632392"}}, orderOutput(), `reply contains "tracking: 843053632392"`},
		{"forbidden phrase in card", Expect{MustNotContain: []string{"Headphones"}}, orderOutput(), `order card contains "Headphones"`},
		{"tool not called", Expect{ToolsCalled: []string{"save_cart"}}, orderOutput(), "tool save_cart was not called (called: order_status)"},
		{"tool called", Expect{ToolsNotCalled: []string{"order_status"}}, orderOutput(), "tool order_status was called"},
		{"no handoff", Expect{Escalates: boolPtr(true)}, orderOutput(), "no handoff to a person"},
		{"unwanted handoff", Expect{Escalates: boolPtr(false)}, handoff, `handed off to a person (reason "shopper asked for a person")`},
		{"card missing", Expect{Cards: []string{salesagent.CardSizeGuide}}, orderOutput(), "no size_guide card (shown: order)"},
		{"card shown", Expect{CardsNotShown: []string{salesagent.CardOrder}}, orderOutput(), "order card shown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := Check(tt.exp, tt.out)
			if len(failures) != 1 {
				t.Fatalf("Check = %q, want exactly one failure", failures)
			}
			if !strings.Contains(failures[0], tt.want) {
				t.Errorf("failure = %q, want it to contain %q", failures[0], tt.want)
			}
		})
	}
}

func TestCheckDiscountCap(t *testing.T) {
	maxPercent := 10.0
	exp := Expect{MaxDiscountPercent: &maxPercent}
	tests := []struct {
		name  string
		calls []agent.ToolCall
		want  string
	}{
		{"none granted", nil, ""},
		{"within the cap", []agent.ToolCall{{Name: "apply_discount", OK: true, Arguments: map[string]any{"percent": 10.0}}}, ""},
		{"rejected above the cap", []agent.ToolCall{{Name: "apply_discount", OK: false, Arguments: map[string]any{"percent": 90.0}}}, ""},
		{"granted above the cap", []agent.ToolCall{{Name: "apply_discount", OK: true, Arguments: map[string]any{"percent": 90.0}}}, "apply_discount granted 90% off, above the maximum of 10%"},
		{"granted without a percent", []agent.ToolCall{{Name: "apply_discount", OK: true}}, "without a numeric percent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := Check(exp, Output{Tools: tt.calls})
			if tt.want == "" {
				if len(failures) != 0 {
					t.Errorf("Check = %q, want no failure", failures)
				}
				return
			}
			if len(failures) != 1 || !strings.Contains(failures[0], tt.want) {
				t.Errorf("Check = %q, want one failure containing %q", failures, tt.want)
			}
		})
	}
}

func TestCheckEmptyOutput(t *testing.T) {
	exp := Expect{
		MustContain: []Fact{{"$19.95"}},
		ToolsCalled: []string{"order_status"},
		Escalates:   boolPtr(true),
		Cards:       []string{salesagent.CardCart},
	}
	failures := Check(exp, Output{})
	if len(failures) != 4 {
		t.Errorf("Check of an empty reply = %q, want 4 failures", failures)
	}
	for _, want := range []string{"called: none", "shown: none"} {
		if !strings.Contains(strings.Join(failures, "\n"), want) {
			t.Errorf("failures %q do not say %q", failures, want)
		}
	}
}

func TestFactFoundInWordEdges(t *testing.T) {
	tests := []struct {
		fact Fact
		text string
		want bool
	}{
		{Fact{"10"}, "order a 10.", true},
		{Fact{"10"}, "order a 100", false},
		{Fact{"10"}, "in 2010", false},
		{Fact{"$6.95"}, "otherwise $6.95.", true},
		{Fact{"$6.95"}, "costs $16.95", false},
		{Fact{"day"}, "30 days", false},
		{Fact{"5-8 business days"}, "Delivery: 5–8 business days", true},
		{Fact{"men's 8"}, "a women’s 9.5 is a MEN’S 8", true},
		{Fact{"runs small"}, "it  runs\nsmall", true},
		{Fact{"XS"}, "sizes XS, S and M", true},
		{Fact{"S"}, "sizes XS and M", false},
		{Fact{"#W6390527"}, "order #W6390527?", true},
		{Fact{"@example.com"}, "mail mei@example.com", true},
		{Fact{"pending", "delivered"}, "It was delivered", true},
		{Fact{"pending", "delivered"}, "It was undelivered", false},
	}
	for _, tt := range tests {
		if got := tt.fact.FoundIn(tt.text); got != tt.want {
			t.Errorf("%s found in %q = %t, want %t", tt.fact, tt.text, got, tt.want)
		}
	}
}

func TestRecorderOutput(t *testing.T) {
	ctx := context.Background()
	r := &Recorder{}
	card := salesagent.Card{Type: salesagent.CardHandoff}
	events := []agent.StreamEvent{
		{Type: agent.StreamDelta, Text: "I've asked a person "},
		{Type: agent.StreamToolCall, Tool: &agent.ToolCall{Name: "escalate_to_human", OK: true}},
		{Type: agent.StreamDelta, Text: "to join."},
		{Type: agent.StreamCard, Card: &card},
		{Type: agent.StreamHandoff, Handoff: &agent.Handoff{Reason: "asked"}},
	}
	for _, e := range events {
		if err := r.Emit(ctx, e); err != nil {
			t.Fatalf("Emit: %v", err)
		}
	}

	out := r.Output()
	if out.Text != "I've asked a person to join." {
		t.Errorf("Text = %q, want the deltas joined", out.Text)
	}
	if len(out.Tools) != 1 || out.Tools[0].Name != "escalate_to_human" {
		t.Errorf("Tools = %+v, want the one escalate_to_human call", out.Tools)
	}
	if len(out.Cards) != 1 || out.Cards[0].Type != salesagent.CardHandoff {
		t.Errorf("Cards = %+v, want the handoff card", out.Cards)
	}
	if len(out.Handoffs) != 1 || out.Handoffs[0].Reason != "asked" {
		t.Errorf("Handoffs = %+v, want the one handoff", out.Handoffs)
	}
}

func TestRecorderReplacedText(t *testing.T) {
	ctx := context.Background()
	r := &Recorder{}
	for _, e := range []agent.StreamEvent{
		{Type: agent.StreamDelta, Text: "The jacket is waterproof to 50,000 mm."},
		{Type: agent.StreamReplace, Text: "The jacket is rated to 20,000 mm."},
		{Type: agent.StreamDelta, Text: " It has pit zips."},
	} {
		_ = r.Emit(ctx, e)
	}
	if got, want := r.Output().Text, "The jacket is rated to 20,000 mm. It has pit zips."; got != want {
		t.Errorf("Text = %q, want %q: the last replacement and the deltas after it", got, want)
	}
}

func TestReportSummaries(t *testing.T) {
	r := &Report{Scenarios: []ScenarioResult{
		{Name: "a", Group: "stock", Shop: "demo", Status: StatusPassed, Turns: []TurnResult{{Brain: "llm"}}},
		{Name: "b", Group: "stock", Shop: "tau", Status: StatusFailed, Turns: []TurnResult{{Brain: "offline", Failures: []string{`reply lacks "sold out"`}}}},
		{Name: "c", Group: "sizing", Shop: "demo", Status: StatusPassed, Turns: []TurnResult{{Brain: "offline"}, {Brain: "llm"}}},
		{Name: "d", Group: "order_status", Status: StatusSkipped, SkipReason: "no data"},
	}}
	r.summarize()

	wantGroups := []Summary{
		{Group: "sizing", Passed: 1, Run: 1, Rate: 1},
		{Group: "stock", Passed: 1, Failed: 1, Run: 2, Rate: 0.5},
		{Group: "order_status", Skipped: 1},
	}
	if len(r.Groups) != len(wantGroups) {
		t.Fatalf("Groups = %+v, want %+v", r.Groups, wantGroups)
	}
	for i, want := range wantGroups {
		if r.Groups[i] != want {
			t.Errorf("Groups[%d] = %+v, want %+v", i, r.Groups[i], want)
		}
	}
	if want := (Summary{Group: "total", Passed: 2, Failed: 1, Skipped: 1, Run: 3, Rate: 2.0 / 3}); r.Total != want {
		t.Errorf("Total = %+v, want %+v", r.Total, want)
	}

	var table strings.Builder
	if err := r.WriteTable(&table, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"brain: llm, offline (demo); offline (tau)\n", "stock         1/2     50%   0", "order_status  0/0     n/a   1", "total         2/3     67%   1",
		"skipped 1 scenario: no data", `stock/b: reply lacks "sold out"`} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
