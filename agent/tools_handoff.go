package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/postgres"
)

// Limits of escalate_to_human.
const (
	maxReasonLength  = 200
	maxSummaryLength = 1000
)

var escalateTool = &Tool{
	Name: "escalate_to_human",
	Description: "Hand the conversation to a person from the shop's team. Use it when the shopper asks for a person, " +
		"or when only a person can help, such as cancelling an order.",
	Parameters: json.RawMessage(`{
  "type": "object",
  "properties": {
    "reason": {"type": "string", "description": "Why a person is needed, in a few words.", "minLength": 1, "maxLength": 200},
    "summary": {"type": "string", "description": "What the shopper wants, so the person can pick up without rereading the chat.", "maxLength": 1000}
  },
  "required": ["reason"],
  "additionalProperties": false
}`),
	Run: runEscalate,
}

type escalateArgs struct {
	Reason  string `json:"reason"`
	Summary string `json:"summary"`
}

// HandoffData is the Data of an escalate_to_human result.
type HandoffData struct {
	// AlreadyEscalated is set when the conversation was waiting for a
	// person before this call.
	AlreadyEscalated bool   `json:"already_escalated"`
	SupportHours     string `json:"support_hours,omitempty"`
}

func runEscalate(ctx context.Context, env *ToolEnv, raw json.RawMessage) (*ToolResult, error) {
	var args escalateArgs
	if err := decodeArgs("escalate_to_human", raw, &args); err != nil {
		return nil, err
	}
	args.Reason, args.Summary = strings.TrimSpace(args.Reason), strings.TrimSpace(args.Summary)
	switch {
	case args.Reason == "":
		return nil, salesagent.Errorf(salesagent.EINVALID, "escalate_to_human needs a reason: say in a few words why a person is needed")
	case len([]rune(args.Reason)) > maxReasonLength:
		return nil, salesagent.Errorf(salesagent.EINVALID, "escalate_to_human reason is %d characters long; shorten it to %d", len([]rune(args.Reason)), maxReasonLength)
	case len([]rune(args.Summary)) > maxSummaryLength:
		return nil, salesagent.Errorf(salesagent.EINVALID, "escalate_to_human summary is %d characters long; shorten it to %d", len([]rune(args.Summary)), maxSummaryLength)
	}

	turn := env.Turn
	data := HandoffData{SupportHours: turn.Shop.Settings.SupportHours}
	switch turn.Conversation.Status {
	case salesagent.StatusEscalated, salesagent.StatusOperator:
		data.AlreadyEscalated = true
	default:
		// An operator may have claimed the conversation during the turn, and
		// the escalation must not take it back from them.
		if _, err := env.DB.EscalateConversation(ctx, postgres.Escalation{
			ShopID: turn.Shop.ID, ConversationID: turn.Conversation.ID, Reason: args.Reason, Summary: args.Summary,
		}); err != nil {
			return nil, err
		}
		turn.Conversation.Status = salesagent.StatusEscalated
		env.record(salesagent.EventEscalated, map[string]string{"reason": args.Reason, "summary": args.Summary})
	}
	env.handoff = &Handoff{Reason: args.Reason, Summary: args.Summary}

	text := fmt.Sprintf("I've asked a person from the %s team to join this chat; they will reply here.", turn.Shop.Name)
	if data.AlreadyEscalated {
		text = fmt.Sprintf("A person from the %s team has been asked to join this chat; they will reply here.", turn.Shop.Name)
	}
	if data.SupportHours != "" {
		text += " Our team is available " + strings.TrimSuffix(data.SupportHours, ".") + "."
	}
	card := &salesagent.Card{Type: salesagent.CardHandoff, Title: "A person will reply", Text: text}
	return &ToolResult{Text: text, Card: card, Data: data}, nil
}
