package bench

import (
	"testing"
	"time"
)

func TestAnalyzeMatchesTurnsToRequests(t *testing.T) {
	start := time.Now()
	result := &LoadResult{
		Config:  LoadConfig{Conversations: 2},
		Started: start, Ended: start.Add(2 * time.Second), Connected: 1,
		Turns: []TurnResult{
			{Conversation: 0, Turn: 0, Marker: "#c0t0", Sent: start, Ack: 2 * time.Millisecond, FirstText: 110 * time.Millisecond, Reply: 500 * time.Millisecond},
			{Conversation: 0, Turn: 1, Marker: "#c0t1", Sent: start.Add(time.Second), Outcome: "rate_limited"},
			{Conversation: 0, Turn: 2, Marker: "#c0t2", Sent: start.Add(time.Second), Outcome: OutcomeCut},
			{Conversation: 1, Sent: start, Outcome: OutcomeDial},
		},
	}
	requests := []FakeRequest{
		// Sent at 0, read by the fake at 6 ms, first token at 106 ms,
		// shown to the shopper at 110 ms.
		{Marker: "#c0t0", Received: start.Add(6 * time.Millisecond), FirstToken: start.Add(106 * time.Millisecond)},
		{Marker: "#c0t9", Received: start, FirstToken: start.Add(time.Millisecond)},
	}
	report := result.Analyze(requests)

	if report.TurnsSent != 3 || report.Replies != 1 || report.Cut != 1 {
		t.Errorf("sent %d, replies %d, cut %d; want 3, 1, 1", report.TurnsSent, report.Replies, report.Cut)
	}
	if report.Errors["rate_limited"] != 1 || report.Errors[OutcomeDial] != 1 || len(report.Errors) != 2 {
		t.Errorf("errors = %v, want one rate_limited and one dial_failed", report.Errors)
	}
	if report.TurnsPerSecond != 0.5 {
		t.Errorf("turns per second = %v, want 0.5", report.TurnsPerSecond)
	}
	if report.Matched != 1 {
		t.Fatalf("matched = %d, want 1", report.Matched)
	}
	if report.FakeTTFT.P50 != 100*time.Millisecond {
		t.Errorf("fake TTFT = %v, want 100ms", report.FakeTTFT.P50)
	}
	if report.BeforeLLM.P50 != 6*time.Millisecond || report.AfterFirstToken.P50 != 4*time.Millisecond {
		t.Errorf("before %v and after %v, want 6ms and 4ms", report.BeforeLLM.P50, report.AfterFirstToken.P50)
	}
	if report.Added.P50 != 10*time.Millisecond {
		t.Errorf("added = %v, want 10ms", report.Added.P50)
	}
	if report.TTFTRatio.P50 < 1.0999 || report.TTFTRatio.P50 > 1.1001 {
		t.Errorf("TTFT ratio = %v, want 1.1", report.TTFTRatio.P50)
	}
}

func TestLoadConfigValidate(t *testing.T) {
	valid := LoadConfig{Conversations: 1, Turns: 1, Messages: []string{"hi"}, Duration: time.Second, TurnTimeout: time.Second}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, change := range map[string]func(*LoadConfig){
		"no conversations": func(c *LoadConfig) { c.Conversations = 0 },
		"no turns":         func(c *LoadConfig) { c.Turns = 0 },
		"no messages":      func(c *LoadConfig) { c.Messages = nil },
		"no duration cap":  func(c *LoadConfig) { c.Duration = 0 },
		"no turn timeout":  func(c *LoadConfig) { c.TurnTimeout = 0 },
		"negative ramp":    func(c *LoadConfig) { c.Ramp = -time.Second },
	} {
		c := valid
		change(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
