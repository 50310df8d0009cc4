package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

func TestClassifyStreamFailures(t *testing.T) {
	parent := context.Background()

	stalled, cancel := context.WithCancelCause(parent)
	cancel(errStreamStalled)
	if e := classify(parent, stalled, context.Canceled); e.result != llmTimeout || e.err != errStreamStalled {
		t.Errorf("stall after the first token classified as %s (%v), want a timeout naming the stall", e.result, e.err)
	}

	silent, cancel := context.WithCancelCause(parent)
	cancel(errTokenTimeout)
	if e := classify(parent, silent, context.Canceled); e.result != llmTimeout || e.err != errTokenTimeout {
		t.Errorf("no first token classified as %s (%v), want a first-token timeout", e.result, e.err)
	}

	var garbage any
	syntaxErr := json.Unmarshal([]byte("not json"), &garbage)
	if e := classify(parent, parent, fmt.Errorf("read chunk: %w", syntaxErr)); e.result != llmBrokenStream {
		t.Errorf("a chunk that is not JSON classified as %s, want %s", e.result, llmBrokenStream)
	}
}
