package agent

import (
	"context"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/retrieval"
)

// Brain composes the agent's reply to one shopper message. The offline
// brain replies from retrieved facts by rules, and an LLM-backed brain can
// replace it per shop without touching the channels.
//
// Respond streams the reply's text to out as StreamDelta events and may
// call tools through the toolbox, which emits a StreamToolCall per call.
// The Service emits the reply's cards and any handoff after Respond
// returns, then stores the reply. Respond must state only facts found in
// turn.Hits, turn.ProductHits, the turn's products (Product, Named and
// Earlier) or tool results.
type Brain interface {
	// Name labels the brain in metrics, logs and events, as in "offline".
	Name() string
	Respond(ctx context.Context, turn *Turn, tools *Toolbox, out Emitter) (*Reply, error)
}

// Turn is the context a brain gets to reply to one shopper message.
type Turn struct {
	Shop         *salesagent.Shop
	Conversation *salesagent.Conversation
	// Customer is the shopper's customer record, or nil for an unknown
	// shopper. The order_status tool sets it when the shopper identifies.
	Customer *salesagent.Customer
	// Message is the shopper's message, as stored by the channel.
	Message salesagent.Message
	// History holds the messages before Message, oldest first.
	History []salesagent.Message
	Page    PageContext
	// Product is the product in view on the shopper's page, with its
	// variants, or nil.
	Product *salesagent.Product
	// Named are the products Message names by title, as "the Kestrel
	// sleeping bag" names the Kestrel 20 Down Sleeping Bag, with their
	// variants, the most title words matched first.
	Named []*salesagent.Product
	// Earlier are the products that a follow-up such as "what about large
	// in black?" may refer to: those the agent's last reply cited, narrowed
	// to the ones the shopper named before it. It is set only when no
	// product is in view and Message names none.
	Earlier []*salesagent.Product
	// Needs are the needs recognised in Message, the strongest first.
	Needs []Need
	// Hits are the shop's passages retrieved for Message, best first.
	Hits []retrieval.Hit
	// ProductHits are the shop's product passages retrieved for Message
	// without filters, best first. They show which products and product
	// types the message may name.
	ProductHits []retrieval.Hit
	// PolicyTitles are the titles of the shop's policy documents, which
	// the LLM brain lists in its prompt.
	PolicyTitles []string
}

// HasNeed reports whether need was recognised in the turn's message.
func (t *Turn) HasNeed(need Need) bool {
	for _, n := range t.Needs {
		if n == need {
			return true
		}
	}
	return false
}

// Outcomes of a turn, as labelled in metrics and in the data of the
// EventAnswered event.
const (
	// OutcomeAnswered means the reply stated facts or tool results.
	OutcomeAnswered = "answered"
	// OutcomeClarified means the reply asked a question back or offered a
	// person, because nothing relevant was found.
	OutcomeClarified = "clarified"
	// OutcomeEscalated means the turn handed the conversation to a person.
	OutcomeEscalated = "escalated"
	// OutcomeOperator means a person holds the conversation, so no brain ran.
	OutcomeOperator = "operator"
	// OutcomeError means the turn failed.
	OutcomeError = "error"
)

// Reply is a brain's response to one message.
type Reply struct {
	// Text is the whole reply: the StreamDelta texts joined, or the text
	// of the last StreamReplace followed by the deltas after it.
	Text      string
	Cards     []salesagent.Card
	Citations []salesagent.Citation
	// Outcome is OutcomeAnswered, OutcomeClarified or OutcomeEscalated.
	Outcome string
	// Usage is the language model usage of the turn, or nil for a brain
	// that used none.
	Usage *Usage
}
