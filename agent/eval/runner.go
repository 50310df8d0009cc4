package eval

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/salesagent/salesagent"
	"github.com/salesagent/salesagent/agent"
	"github.com/salesagent/salesagent/postgres"
)

// DefaultTurnTimeout bounds one turn when Runner.TurnTimeout is zero. The
// value is a guess that leaves a remote model room to stream a reply with
// several tool calls.
const DefaultTurnTimeout = 60 * time.Second

// Runner plays scenarios against loaded shops through agent.Service.
type Runner struct {
	DB *postgres.DB
	// Search retrieves passages for the agent; nil gives brains none.
	Search agent.Retriever
	// Brains picks the brain for a shop, as agent.Service.Brains does. Nil,
	// or a nil result, means the offline brain.
	Brains func(shop *salesagent.Shop) agent.Brain
	// Shops maps a scenario's shop name to the loaded shop.
	Shops map[string]*salesagent.Shop
	// Unavailable maps a shop name to the reason it could not be loaded.
	// Its scenarios are skipped with that reason.
	Unavailable map[string]string
	// TurnTimeout bounds each turn; zero means DefaultTurnTimeout.
	TurnTimeout time.Duration
	Logger      *slog.Logger
}

// Run plays each scenario in a fresh conversation and returns the report.
// A scenario whose turn fails to run counts as failed and the run goes on.
// Run returns an error only when ctx ends, a scenario names a shop that
// is neither loaded nor unavailable, or a conversation cannot be stored.
func (r *Runner) Run(ctx context.Context, scenarios []*Scenario) (*Report, error) {
	logger := r.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	service := agent.NewService(r.DB, r.Search, logger)
	service.Brains = r.Brains

	report := &Report{}
	for _, s := range scenarios {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("eval stopped: %w", err)
		}
		shop, ok := r.Shops[s.Shop]
		if !ok {
			reason, unavailable := r.Unavailable[s.Shop]
			if !unavailable {
				return nil, fmt.Errorf("scenario %s needs shop %q, which was not loaded", s.Name, s.Shop)
			}
			report.Scenarios = append(report.Scenarios, ScenarioResult{
				Name: s.Name, Group: s.Group, Shop: s.Shop, File: s.File, Status: StatusSkipped, SkipReason: reason,
			})
			continue
		}
		result, err := r.play(ctx, service, shop, s)
		if err != nil {
			return nil, err
		}
		logger.DebugContext(ctx, "eval scenario done", "scenario", s.Name, "status", result.Status)
		report.Scenarios = append(report.Scenarios, result)
	}
	report.summarize()
	return report, nil
}

// play runs one scenario's turns in a new conversation of an anonymous
// shopper, as the web channel starts one.
func (r *Runner) play(ctx context.Context, service *agent.Service, shop *salesagent.Shop, s *Scenario) (ScenarioResult, error) {
	result := ScenarioResult{Name: s.Name, Group: s.Group, Shop: s.Shop, File: s.File, Status: StatusPassed}
	conv, err := r.startConversation(ctx, shop)
	if err != nil {
		return result, fmt.Errorf("scenario %s: %w", s.Name, err)
	}

	timeout := r.TurnTimeout
	if timeout <= 0 {
		timeout = DefaultTurnTimeout
	}
	for _, turn := range s.Turns {
		page := s.Page
		if turn.Page != nil {
			page = *turn.Page
		}
		turnResult, err := r.playTurn(ctx, service, shop, conv, turn, page, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return result, fmt.Errorf("eval stopped: %w", ctx.Err())
			}
			// The later turns build on this one, so they are not run.
			result.Status = StatusFailed
			result.Error = fmt.Sprintf("turn %d (%q) failed: %v", len(result.Turns)+1, shorten(turn.Shopper, 60), err)
			return result, nil
		}
		if len(turnResult.Failures) > 0 {
			result.Status = StatusFailed
		}
		result.Turns = append(result.Turns, turnResult)
	}
	return result, nil
}

func (r *Runner) startConversation(ctx context.Context, shop *salesagent.Shop) (*salesagent.Conversation, error) {
	customer, err := r.DB.CreateCustomer(ctx, shop.ID)
	if err != nil {
		return nil, fmt.Errorf("create shopper: %w", err)
	}
	token := make([]byte, 32)
	_, _ = rand.Read(token)
	conv, err := r.DB.CreateConversation(ctx, shop.ID, salesagent.ChannelCLI, token, &customer.ID)
	if err != nil {
		return nil, fmt.Errorf("create conversation: %w", err)
	}
	return conv, nil
}

// playTurn stores the shopper's message, runs the agent's turn and checks
// the recorded output. It returns an error when the turn could not run.
func (r *Runner) playTurn(ctx context.Context, service *agent.Service, shop *salesagent.Shop, conv *salesagent.Conversation, turn Turn, page Page, timeout time.Duration) (TurnResult, error) {
	sent, _, err := r.DB.AppendMessage(ctx, shop.ID, salesagent.Message{
		ConversationID: conv.ID, Role: salesagent.RoleShopper, Body: turn.Shopper,
	})
	if err != nil {
		return TurnResult{}, fmt.Errorf("store shopper message: %w", err)
	}

	turnCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	recorder := &Recorder{}
	stored, err := service.HandleMessage(turnCtx, shop, conv, sent, page.Context(), recorder)
	elapsed := time.Since(start)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return TurnResult{}, fmt.Errorf("no reply within %s (raise the turn timeout for a slow model): %w", timeout, err)
	}
	if err != nil {
		return TurnResult{}, err
	}

	brain, err := r.answeringBrain(ctx, shop, conv)
	if err != nil {
		return TurnResult{}, err
	}

	out := recorder.Output()
	result := TurnResult{
		Brain:      brain,
		Shopper:    turn.Shopper,
		Reply:      out.Text,
		Tools:      out.Tools,
		Cards:      CardTypes(out.Cards),
		Escalated:  len(out.Handoffs) > 0,
		DurationMS: elapsed.Milliseconds(),
		Failures:   Check(turn.Expect, out),
	}
	// Brains promise that the streamed deltas join to the stored reply,
	// because a shopper who reconnects gets the stored one.
	if stored.Seq != 0 && stored.Body != out.Text {
		result.Failures = append(result.Failures, fmt.Sprintf("streamed text differs from the stored reply %q", shorten(stored.Body, 200)))
	}
	return result, nil
}

// answeringBrain returns the name of the brain that replied in the
// conversation's last turn, read from the turn's answered event. The
// Service replies with the offline brain when the shop's brain fails, so
// this name can differ from the brain that Brains chose.
func (r *Runner) answeringBrain(ctx context.Context, shop *salesagent.Shop, conv *salesagent.Conversation) (string, error) {
	events, err := r.DB.ConversationEvents(ctx, shop.ID, conv.ID)
	if err != nil {
		return "", fmt.Errorf("load turn events: %w", err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type != salesagent.EventAnswered {
			continue
		}
		var data struct {
			Brain string `json:"brain"`
		}
		if err := json.Unmarshal(events[i].Data, &data); err != nil {
			return "", fmt.Errorf("decode answered event: %w", err)
		}
		return data.Brain, nil
	}
	return "", nil
}
