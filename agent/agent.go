// Package agent runs a shopper's turn. It gathers the shop's facts and the
// conversation's context, and lets a brain (the offline agent or an LLM)
// reply and call tools. It streams the reply to the channel, stores it and
// records the outcomes on the shopper's profile.
package agent

import (
	"context"

	"github.com/salesagent/salesagent"
)

// StreamEventType names what a stream event carries.
type StreamEventType string

// Stream event types, relayed by channels to the shopper as they happen.
const (
	// StreamDelta carries the next part of the answer's text.
	StreamDelta StreamEventType = "delta"
	// StreamCard carries a card shown beside the answer.
	StreamCard StreamEventType = "card"
	// StreamToolCall reports a tool the agent called and its outcome.
	StreamToolCall StreamEventType = "tool_call"
	// StreamHandoff reports that the conversation goes to a person.
	StreamHandoff StreamEventType = "handoff"
	// StreamReplace carries the whole reply text in place of every
	// StreamDelta text streamed before it in the turn. The LLM brain sends
	// it when the grounding guard corrected a reply it had streamed, and
	// the Service sends it when the offline agent answers a turn in which
	// a failed brain had streamed text. Channels that buffer the reply,
	// such as WhatsApp, replace their buffer. The stored reply always
	// equals the last replacement followed by any later deltas.
	StreamReplace StreamEventType = "replace"
)

// StreamEvent is one part of a turn's output.
type StreamEvent struct {
	Type    StreamEventType
	Text    string
	Card    *salesagent.Card
	Tool    *ToolCall
	Handoff *Handoff
}

// Emitter receives a turn's output as it is produced. Channels implement it:
// the web channel writes frames to the socket, the WhatsApp channel buffers.
type Emitter interface {
	Emit(ctx context.Context, event StreamEvent) error
}

// ToolCall records one tool call of a turn.
type ToolCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments,omitempty"`
	OK        bool           `json:"ok"`
	Summary   string         `json:"summary,omitempty"`
}

// Handoff asks a person to take over the conversation.
type Handoff struct {
	Reason  string `json:"reason"`
	Summary string `json:"summary"`
}

// PageContext is the context the shopper's page sends: the product in view
// and the cart.
type PageContext struct {
	// ProductHandle or SKU identifies the product in view, if any.
	ProductHandle string                `json:"product,omitempty"`
	SKU           string                `json:"sku,omitempty"`
	URL           string                `json:"url,omitempty"`
	Cart          []salesagent.CartItem `json:"cart,omitempty"`
}
