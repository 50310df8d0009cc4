package whatsapp

import (
	"context"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
)

// bufferEmitter collects a turn's output, because a WhatsApp message
// cannot be edited once sent and so goes out only when the turn is done.
// The messages sent are built from the stored reply, which equals the
// buffered text and cards, so that a retried job sends the same ones.
type bufferEmitter struct {
	text    strings.Builder
	cards   []salesagent.Card
	tools   []agent.ToolCall
	handoff *agent.Handoff
}

// Emit adds event to the buffer. A replacement discards the text so far.
func (b *bufferEmitter) Emit(_ context.Context, event agent.StreamEvent) error {
	switch event.Type {
	case agent.StreamDelta:
		b.text.WriteString(event.Text)
	case agent.StreamReplace:
		b.text.Reset()
		b.text.WriteString(event.Text)
	case agent.StreamCard:
		if event.Card != nil {
			b.cards = append(b.cards, *event.Card)
		}
	case agent.StreamToolCall:
		if event.Tool != nil {
			b.tools = append(b.tools, *event.Tool)
		}
	case agent.StreamHandoff:
		b.handoff = event.Handoff
	}
	return nil
}
