package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestVariedMessagesMostlyDistinct(t *testing.T) {
	messages := VariedMessages(3000, 1)
	if len(messages) != 3000 {
		t.Fatalf("got %d messages, want 3000", len(messages))
	}
	distinct := map[string]bool{}
	for _, m := range messages {
		distinct[m] = true
		if strings.Contains(m, "%!") {
			t.Fatalf("message %q has a formatting error", m)
		}
	}
	if len(distinct) < 2900 {
		t.Errorf("%d distinct messages of 3000, want at least 2900", len(distinct))
	}
}

func TestVariedMessagesRepeatForSeed(t *testing.T) {
	if !slices.Equal(VariedMessages(50, 7), VariedMessages(50, 7)) {
		t.Error("two calls with seed 7 gave different messages")
	}
	if slices.Equal(VariedMessages(50, 7), VariedMessages(50, 8)) {
		t.Error("seeds 7 and 8 gave the same messages")
	}
}
